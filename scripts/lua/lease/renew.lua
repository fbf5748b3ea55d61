-- lease/renew
--
-- Purpose: extends a lease its holder still holds. A lease that expired or passed to another
-- holder is reported lost and never taken again: a holder that lost its lease must acquire a new
-- one (with a new fencing token).
--
-- KEYS[1]: the lease hash { holder, token } (see lease/acquire).
-- ARGV[1]: the holder id given to lease/acquire.
-- ARGV[2]: the fencing token lease/acquire granted (decimal string).
-- ARGV[3]: the new lease duration from now, milliseconds (integer > 0).
--
-- Reply: integer, 1 when the lease was extended, 0 when it is lost (expired, released or held by
--   another holder or under another token).
--
-- Invariants: only the current holder under its own token extends the lease; the lease is never
--   created here, so a renewal after expiry cannot bring it back.

local current = redis.call('HMGET', KEYS[1], 'holder', 'token')
if current[1] == ARGV[1] and current[2] == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
return 0
