-- bulkhead/renew
--
-- Purpose: extends the leases one holder still holds, all of one key in one round-trip. A lease that
-- lapsed or was released is reported lost and never brought back: its permit may already be another
-- holder's.
--
-- KEYS[1]: the leases, a sorted set { lease id -> expiry in ms } (see bulkhead/acquire).
-- KEYS[2]: the fencing counter (see bulkhead/acquire); only its TTL is extended.
-- ARGV[1]: the lease duration from now, milliseconds (integer > 0).
-- ARGV[2]: the time of the request in ms, or '' for the server's TIME.
-- ARGV[3..]: the ids of the leases to extend.
--
-- Reply: array of integers, one per id of ARGV[3..] in order: the lease's new expiry (server ms,
--   now + ARGV[1]) when it was extended, 0 when it is lost (lapsed, released, or never granted).
--
-- Invariants: only a live lease (expiry > now) is extended, so a renewal never creates a permit nor
--   revives a lapsed one; both keys keep a TTL of ARGV[1] ms past the latest expiry.

redis.replicate_commands()

local lease_ms = tonumber(ARGV[1])
local now
if ARGV[2] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
else
  now = tonumber(ARGV[2])
end

local renewed = {}
local is_any_renewed = false
for index = 3, #ARGV do
  local expiry = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[index]))
  if expiry and expiry > now then
    redis.call('ZADD', KEYS[1], 'XX', now + lease_ms, ARGV[index])
    renewed[#renewed + 1] = now + lease_ms
    is_any_renewed = true
  else
    if expiry then redis.call('ZREM', KEYS[1], ARGV[index]) end
    renewed[#renewed + 1] = 0
  end
end

if is_any_renewed then
  local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  local ttl_ms = math.max(tonumber(latest[2]), now + lease_ms) - now + lease_ms
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
  redis.call('PEXPIRE', KEYS[2], ttl_ms)
end
return renewed
