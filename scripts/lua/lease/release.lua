-- lease/release
--
-- Purpose: gives a lease back, in one round-trip that also tells whether the caller still held
-- it. A lease held by another holder (the caller's expired and was granted again) is left alone.
--
-- KEYS[1]: the lease hash { holder, token } (see lease/acquire).
-- ARGV[1]: the holder id given to lease/acquire.
-- ARGV[2]: the fencing token lease/acquire granted (decimal string).
--
-- Reply: integer, 1 when the caller's lease was deleted, 0 when the caller was not the owner
--   (its lease had expired, was released already, or belongs to another holder now).
--
-- Invariants: never deletes another holder's lease; never touches the fencing counter, so tokens
--   keep growing across releases.

local current = redis.call('HMGET', KEYS[1], 'holder', 'token')
if current[1] == ARGV[1] and current[2] == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
