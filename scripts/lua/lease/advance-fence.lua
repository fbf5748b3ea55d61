-- lease/advance-fence
--
-- Purpose: advances a fencing counter on one of several independent Redis masters and returns the
-- new token; redlockLock calls it on every master after a quorum granted the lock, takes the
-- highest token a quorum answered, then calls it again with that token as the floor so a quorum
-- holds at least it (any two quorums share a master, so the next grant sees it).
--
-- KEYS[1]: the fencing counter, a string: the last token this master issued or was raised to.
-- ARGV[1]: the floor, a decimal token (0 for none): the new token is at least this.
-- ARGV[2]: how long the counter outlives this call, milliseconds (integer > 0).
--
-- Reply: string, the new token in decimal: max(last + 1, server time in microseconds, floor).
--
-- Invariants: the counter only grows while its key lives; after it expired, the server time in
--   microseconds keeps new tokens above old ones unless the server clock stepped back.

redis.replicate_commands()

local time = redis.call('TIME')
local now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local floor = tonumber(ARGV[1]) or 0
local token = string.format('%.0f', math.max(last + 1, now_us, floor))
redis.call('SET', KEYS[1], token, 'PX', tonumber(ARGV[2]))
return token
