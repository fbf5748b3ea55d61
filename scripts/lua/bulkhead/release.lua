-- bulkhead/release
--
-- Purpose: gives one permit back and, when that freed a permit, tells the waiters of every instance
-- through pub/sub, so they ask again at once instead of polling.
--
-- KEYS[1]: the leases, a sorted set { lease id -> expiry in ms } (see bulkhead/acquire).
-- ARGV[1]: the lease id given to bulkhead/acquire.
-- ARGV[2]: the pub/sub channel of this bulkhead key, or '' to publish nothing.
--
-- Reply: integer, 1 when the lease was removed (a permit came free, or a lapsed lease that no
--   acquire had dropped yet was: its permit was free already), 0 when it was gone already
--   (released before, or lapsed and dropped): nothing changed.
--
-- Invariants: removes only the caller's own lease id, so a stale lease can never free a newer
--   holder's permit; a permit is freed at most once; publishes only when something was removed.

local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed == 1 and ARGV[2] ~= '' then
  redis.call('PUBLISH', ARGV[2], '1')
end
return removed
