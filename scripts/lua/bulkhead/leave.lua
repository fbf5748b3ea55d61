-- bulkhead/leave
--
-- Purpose: takes a process out of the waiting set of a bulkhead key once none of its callers wait
-- any more (they were served, timed out or gave up), so the permits it was owed go to the others at
-- once instead of after its place lapses.
--
-- KEYS[1]: the waiting processes, a sorted set { waiter id -> ticket } (see bulkhead/acquire).
-- KEYS[2]: the waiters' liveness, a sorted set { waiter id -> expiry in ms } (see bulkhead/acquire).
-- ARGV[1]: the waiter id.
-- ARGV[2]: the pub/sub channel of this bulkhead key, or '' to publish nothing.
--
-- Reply: integer, 1 when the waiter was in the set, 0 when it was not (granted, lapsed, or never
--   refused while waiting): nothing changed.
--
-- Invariants: removes only the caller's own waiter id. When others still wait, they are told with
--   the message '*' (the permit this waiter was owed may be theirs now); a publish frees no permit by itself, since every
--   grant is decided by bulkhead/acquire.

local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if removed == 1 and ARGV[2] ~= '' and redis.call('ZCARD', KEYS[1]) > 0 then
  redis.call('PUBLISH', ARGV[2], '*')
end
return removed
