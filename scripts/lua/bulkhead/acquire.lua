-- bulkhead/acquire
--
-- Purpose: takes one permit of a distributed bulkhead if one is free. Permits are leases: members of
-- a sorted set scored by the server time (ms) at which each lapses unless renewed. Lapsed leases are
-- dropped once they could decide (the set is full), so a holder that died frees its permits by
-- itself after its lease time. It may first give back a lease of the same holder (a hand-over:
-- the holder passes its permit to its next local caller as a new lease, in one round-trip, and
-- no other process is told, since the permit did not come free).
--
-- KEYS[1]: the leases, a sorted set { lease id -> expiry in ms on the server clock }.
-- KEYS[2]: the fencing counter, a string: the last fencing token granted.
-- KEYS[3]: the waiting processes, a sorted set { waiter id -> ticket }, oldest ticket first: the
--   order in which processes that were refused while callers of theirs waited get the next permits.
-- KEYS[4]: the same waiters' liveness, a sorted set { waiter id -> expiry in ms on the server
--   clock }: a waiter that stops asking (a dead or stalled process) loses its place after it.
--   All four keys share one hash tag.
-- ARGV[1]: the lease id, a random string chosen by the caller for this grant.
-- ARGV[2]: maxConcurrent, how many leases may be live at once (integer >= 1).
-- ARGV[3]: the lease duration, milliseconds (integer > 0).
-- ARGV[4]: the time of the request in ms (tests, differential checks), or '' for the server's TIME.
-- ARGV[5]: the id of a lease to give back first (as bulkhead/release does), or '' for none.
-- ARGV[6]: the pub/sub channel of this bulkhead key, told ('*': anyone may ask) when the lease of
--   ARGV[5] was removed but this grant was refused (the permit came free after all), or '' to
--   publish nothing.
-- ARGV[7]: the caller's waiter id (its process's), or '' for a caller that never waits: a refusal
--   gives the waiter a place at once (its process leaves again with bulkhead/leave if no caller of
--   its ends up waiting); '' takes no place and may not take a permit that waiters are owed.
-- ARGV[8]: how long a waiter keeps its place without asking again, milliseconds (integer > 0).
--
-- Reply: array { granted, token, ms, full }:
--   granted 1, token the fencing token (decimal string), ms the lease's expiry (server ms), full
--   '' when permits are left after this grant, else how long until the earliest lease lapses
--   unless renewed (ms >= 0: the caller knows the next acquire would be refused until then or
--   until a release is published); or
--   granted 0, token '', ms how long until something may change without a release being
--   published: the earliest live lease lapses, or the first waiter ahead loses its place (ms >= 0),
--   full ''.
--
-- Invariants:
--   - at most ARGV[2] live leases (expiry > now) once this script ran: while fewer than ARGV[2]
--     members exist (live or lapsed) a grant is safe without looking at them; once ARGV[2] exist
--     the lapsed ones are dropped and only the live ones count. A refusal changes nothing but
--     dropping lapsed leases and waiters, and putting the caller in the waiting set;
--   - fairness across processes: a free permit goes first to the waiting processes, in ticket
--     order. A caller is granted only while the free permits outnumber the live waiters ahead of
--     it (all of them for a caller that is not waiting). A waiter that is refused takes a ticket
--     (keeping the one it has) and stays for ARGV[8] ms; one that is granted leaves the set (its
--     next refusal takes a new ticket, behind the others). A hand-over (ARGV[5] removed) passes a
--     permit that never came free, so it is not checked against the waiters: its bound is the
--     caller's (at most 8 hand-overs in a row, then a release everyone hears);
--   - every grant's token is greater than every token granted before through this counter:
--     next = max(last + 1, now in microseconds), so it still grows after the counter expired or a
--     failover lost its last write, as long as the server clock does not step back; the counter is
--     swapped with SET ... GET (one call) and written again only when last >= now in microseconds;
--   - a hand-over never adds a permit: the lease of ARGV[5] is removed before counting, and the
--     grant that follows is checked like any other; it removes only the caller's own id;
--   - an id that is already a live member (a call resent after a dropped connection) is extended, not
--     counted twice;
--   - the leases key expires ARGV[3] ms after the latest lease expiry, the counter 2 * ARGV[3] ms
--     after this grant, the waiting sets when the place that lasts longest lapses (processes may
--     send different ARGV[8]): an idle bulkhead disappears, and an absent key decides exactly like
--     a set of lapsed leases.

redis.replicate_commands()

local id = ARGV[1]
local max_concurrent = tonumber(ARGV[2])
local lease_ms = tonumber(ARGV[3])
local now
local now_us
if ARGV[4] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
else
  now = tonumber(ARGV[4])
  now_us = now * 1000
end

local released = 0
if ARGV[5] ~= '' then released = redis.call('ZREM', KEYS[1], ARGV[5]) end

-- How many live waiters a grant must leave a free permit for; none for a hand-over.
local waiter = ARGV[7]
local waiter_ttl_ms = tonumber(ARGV[8])
local ahead = 0
local waiter_rank = false
if released == 0 and redis.call('ZCARD', KEYS[3]) > 0 then
  local gone = redis.call('ZRANGE', KEYS[4], '-inf', now, 'BYSCORE', 'LIMIT', 0, 64)
  if #gone > 0 then
    redis.call('ZREM', KEYS[3], unpack(gone))
    redis.call('ZREM', KEYS[4], unpack(gone))
  end
  ahead = redis.call('ZCARD', KEYS[3])
  if waiter ~= '' then
    waiter_rank = redis.call('ZRANK', KEYS[3], waiter)
    if waiter_rank then ahead = waiter_rank end
  end
end

local count = redis.call('ZCARD', KEYS[1])
if count + ahead >= max_concurrent then
  count = count - redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if count + ahead >= max_concurrent and not redis.call('ZSCORE', KEYS[1], id) then
    if released == 1 and ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], '*') end
    local wait_ms = math.huge
    if count > 0 then
      local earliest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
      wait_ms = tonumber(earliest[2]) - now
    end
    if waiter ~= '' then
      redis.call('ZADD', KEYS[3], 'NX', string.format('%.0f', now_us), waiter)
      redis.call('ZADD', KEYS[4], now + waiter_ttl_ms, waiter)
      -- Another waiter's place may outlast this one (a longer ARGV[8]): the sets must outlive it too.
      local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
      local keep_ms = math.max(waiter_ttl_ms, tonumber(last[2]) - now)
      redis.call('PEXPIRE', KEYS[3], keep_ms)
      redis.call('PEXPIRE', KEYS[4], keep_ms)
    end
    if ahead > 0 then
      local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
      if first[2] then wait_ms = math.min(wait_ms, tonumber(first[2]) - now) end
    end
    if wait_ms == math.huge then wait_ms = waiter_ttl_ms end
    return { 0, '', string.format('%.0f', math.max(0, wait_ms)), '' }
  end
end
if waiter_rank then
  redis.call('ZREM', KEYS[3], waiter)
  redis.call('ZREM', KEYS[4], waiter)
end

local expires_at = now + lease_ms
local token_ttl_ms = 2 * lease_ms
-- '%.0f' prints every digit of an integral double (tostring would switch to exponent form).
local token = string.format('%.0f', now_us)
local last = tonumber(redis.call('SET', KEYS[2], token, 'PX', token_ttl_ms, 'GET') or '0') or 0
if last >= now_us then
  token = string.format('%.0f', last + 1)
  redis.call('SET', KEYS[2], token, 'PX', token_ttl_ms)
end

local added = redis.call('ZADD', KEYS[1], expires_at, id)
local latest = expires_at
if count > 0 then
  -- Another holder's lease may outlast this one (a longer leaseMs): the key must outlive it too.
  latest = math.max(latest, tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]))
end
redis.call('PEXPIRE', KEYS[1], latest - now + lease_ms)
local full = ''
if count + added >= max_concurrent then
  local earliest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  full = string.format('%.0f', math.max(0, tonumber(earliest[2]) - now))
end
return { 1, token, string.format('%.0f', expires_at), full }
