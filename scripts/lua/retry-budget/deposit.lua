-- retry-budget/deposit
--
-- Purpose: records one successful call in a retry budget shared by every instance, which earns the
-- budget `ratio` more retries. Rolls the window exactly as retry-budget/withdraw does (docs/algorithms.md
-- "Retry budget", step 4).
--
-- KEYS[1]: the budget's window, a hash { start, ps, pr, cs, cr } (see retry-budget/withdraw).
-- ARGV[1]: windowMs, the sliding window, milliseconds (double > 0).
-- ARGV[2]: the time of the request in ms, or '' for the server's TIME.
--
-- Reply: integer, the successes of the current fixed window after this one.
--
-- Invariants: counts exactly one success; the hash expires 2 * windowMs after the last write.

redis.replicate_commands()

local window_ms = tonumber(ARGV[1])
local now
if ARGV[2] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
else
  now = tonumber(ARGV[2])
end

local start, ps, pr, cs, cr = now, 0, 0, 0, 0
local stored = redis.call('HMGET', KEYS[1], 'start', 'ps', 'pr', 'cs', 'cr')
if stored[1] then
  local elapsed = now - tonumber(stored[1])
  if elapsed < window_ms then
    start, ps, pr, cs, cr = tonumber(stored[1]), tonumber(stored[2]), tonumber(stored[3]),
      tonumber(stored[4]), tonumber(stored[5])
  elseif elapsed < 2 * window_ms then
    start, ps, pr, cs, cr = tonumber(stored[1]) + window_ms, tonumber(stored[4]), tonumber(stored[5]), 0, 0
  end
end

cs = cs + 1

redis.call('HSET', KEYS[1], 'start', string.format('%.17g', start), 'ps', string.format('%.17g', ps),
  'pr', string.format('%.17g', pr), 'cs', string.format('%.17g', cs), 'cr', string.format('%.17g', cr))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(2 * window_ms)))
return cs
