-- lease/acquire
--
-- Purpose: grants a lease (a lock, a leadership term) to one holder if nobody holds it, with a
-- fencing token that only grows. A holder that asks again while it still holds the lease (a call
-- resent after a dropped connection) gets its own lease back, extended, under the same token.
--
-- KEYS[1]: the lease, a hash { holder = <holder id>, token = <fencing token> } that expires by
--   PEXPIRE after the lease duration.
-- KEYS[2]: the fencing counter, a string: the last token granted. Same hash tag as KEYS[1].
-- ARGV[1]: the holder id, a random string chosen by the caller for this acquisition.
-- ARGV[2]: the lease duration, milliseconds (integer > 0).
-- ARGV[3]: how long the fencing counter outlives the last grant, milliseconds (integer > 0).
--
-- Reply: array { granted, token, retryAfterMs }:
--   granted 1, token the fencing token (decimal string), retryAfterMs 0; or
--   granted 0, token '', retryAfterMs the remaining lease of the current holder (milliseconds).
--
-- Invariants:
--   - at most one holder at a time: a lease is only granted when KEYS[1] does not exist;
--   - every grant's token is greater than every token granted before it through this counter:
--     next = max(last + 1, server time in microseconds), so the token still grows when the counter
--     expired or a failover lost its last write, as long as the server clock does not step back;
--   - expiry is the server's (PEXPIRE): a holder that dies loses the lease after ARGV[2] ms.

redis.replicate_commands()

local holder = ARGV[1]
local lease_ms = tonumber(ARGV[2])
local fence_ttl_ms = tonumber(ARGV[3])

local current = redis.call('HMGET', KEYS[1], 'holder', 'token')
if current[1] then
  if current[1] == holder and current[2] then
    redis.call('PEXPIRE', KEYS[1], lease_ms)
    return { 1, current[2], 0 }
  end
  local remaining = redis.call('PTTL', KEYS[1])
  if remaining < 0 then remaining = 0 end
  return { 0, '', remaining }
end

local time = redis.call('TIME')
local now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local next_token = math.max(last + 1, now_us)
-- '%.0f' prints every digit of an integral double (tostring would switch to exponent form).
local token = string.format('%.0f', next_token)

redis.call('SET', KEYS[2], token, 'PX', fence_ttl_ms)
redis.call('HSET', KEYS[1], 'holder', holder, 'token', token)
redis.call('PEXPIRE', KEYS[1], lease_ms)
return { 1, token, 0 }
