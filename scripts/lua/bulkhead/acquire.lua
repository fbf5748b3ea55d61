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
-- KEYS[2]: the fencing counter, a string: the last fencing token granted. Same hash tag as KEYS[1].
-- ARGV[1]: the lease id, a random string chosen by the caller for this grant.
-- ARGV[2]: maxConcurrent, how many leases may be live at once (integer >= 1).
-- ARGV[3]: the lease duration, milliseconds (integer > 0).
-- ARGV[4]: the time of the request in ms (tests, differential checks), or '' for the server's TIME.
-- ARGV[5]: the id of a lease to give back first (as bulkhead/release does), or '' for none.
-- ARGV[6]: the pub/sub channel of this bulkhead key, told when the lease of ARGV[5] was removed
--   but this grant was refused (the permit came free after all), or '' to publish nothing.
--
-- Reply: array { granted, token, ms, full }:
--   granted 1, token the fencing token (decimal string), ms the lease's expiry (server ms), full
--   '' when permits are left after this grant, else how long until the earliest lease lapses
--   unless renewed (ms >= 0: the caller knows the next acquire would be refused until then or
--   until a release is published); or
--   granted 0, token '', ms how long until the earliest live lease lapses unless renewed (ms >= 0),
--   full ''.
--
-- Invariants:
--   - at most ARGV[2] live leases (expiry > now) once this script ran: while fewer than ARGV[2]
--     members exist (live or lapsed) a grant is safe without looking at them; once ARGV[2] exist
--     the lapsed ones are dropped and only the live ones count. A refusal changes nothing but
--     dropping lapsed leases;
--   - every grant's token is greater than every token granted before through this counter:
--     next = max(last + 1, now in microseconds), so it still grows after the counter expired or a
--     failover lost its last write, as long as the server clock does not step back; the counter is
--     swapped with SET ... GET (one call) and written again only when last >= now in microseconds;
--   - a hand-over never adds a permit: the lease of ARGV[5] is removed before counting, and the
--     grant that follows is checked like any other; it removes only the caller's own id;
--   - an id that is already a live member (a call resent after a dropped connection) is extended, not
--     counted twice;
--   - the leases key expires ARGV[3] ms after the latest lease expiry, the counter 2 * ARGV[3] ms
--     after this grant: an idle bulkhead disappears, and an absent key decides exactly like a set of
--     lapsed leases.

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

local count = redis.call('ZCARD', KEYS[1])
if count >= max_concurrent then
  count = count - redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if count >= max_concurrent and not redis.call('ZSCORE', KEYS[1], id) then
    if released == 1 and ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], '1') end
    local earliest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    local wait_ms = math.max(0, tonumber(earliest[2]) - now)
    return { 0, '', string.format('%.0f', wait_ms), '' }
  end
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
