-- bulkhead/release
--
-- Purpose: gives one permit back and, when that freed a permit, tells the waiters through pub/sub,
-- so the one owed the permit asks again at once instead of polling, and the others do not ask
-- only to be refused.
--
-- KEYS[1]: the leases, a sorted set { lease id -> expiry in ms } (see bulkhead/acquire).
-- KEYS[2]: the waiting processes, a sorted set { waiter id -> ticket } (see bulkhead/acquire).
--   Same hash tag as KEYS[1].
-- ARGV[1]: the lease id given to bulkhead/acquire.
-- ARGV[2]: the pub/sub channel of this bulkhead key, or '' to publish nothing.
-- ARGV[3]: maxConcurrent, as given to bulkhead/acquire (integer >= 1).
--
-- Reply: integer, 1 when the lease was removed (a permit came free, or a lapsed lease that no
--   acquire had dropped yet was: its permit was free already), 0 when it was gone already
--   (released before, or lapsed and dropped): nothing changed.
--
-- Message: the waiter id of the process owed the freed permit (with f permits free, the waiter
--   at rank f - 1: the ones ahead of it are owed the others), or '*' when no waiter is owed it
--   (fewer waiters than free permits: anyone may take it).
--
-- Invariants: removes only the caller's own lease id, so a stale lease can never free a newer
--   holder's permit; a permit is freed at most once; publishes only when something was removed.
--   The message only says who should ask: bulkhead/acquire decides every grant.

local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed == 1 and ARGV[2] ~= '' then
  local message = '*'
  if redis.call('ZCARD', KEYS[2]) > 0 then
    local free = tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[1])
    if free >= 1 then
      local owed = redis.call('ZRANGE', KEYS[2], free - 1, free - 1)
      if owed[1] then message = owed[1] end
    end
  end
  redis.call('PUBLISH', ARGV[2], message)
end
return removed
