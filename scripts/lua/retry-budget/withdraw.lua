-- retry-budget/withdraw
--
-- Purpose: takes one retry from a retry budget shared by every instance, if the budget holds one.
-- The algorithm of docs/algorithms.md "Retry budget", step for step and in the same double
-- arithmetic as packages/local/src/retry/retry-budget-algorithm.ts, so both decide identically.
--
-- KEYS[1]: the budget's window, a hash { start (ms), ps, pr (successes and retries of the previous
--   fixed window), cs, cr (of the current one) }; absent when idle.
-- ARGV[1]: ratio, retries allowed per successful call (double >= 0).
-- ARGV[2]: minRetriesPerSecond, retries allowed per second without successes (double >= 0).
-- ARGV[3]: windowMs, the sliding window, milliseconds (double > 0).
-- ARGV[4]: the time of the request in ms, or '' for the server's TIME.
--
-- Reply: integer, 1 when the retry may run (one retry was counted), 0 when the budget is spent.
--
-- Invariants:
--   - allowed iff reserve + ratio * successes - retries >= 1 - 1e-9 over the sliding window, with
--     reserve = minRetriesPerSecond * windowMs / 1000;
--   - a refusal counts nothing; the window is still rolled to now and written, as the TypeScript
--     state keeps its rolled window;
--   - the hash expires 2 * windowMs after the last write: by then the roll would discard it, so an
--     expired budget decides exactly like the one that was there.

redis.replicate_commands()

local ratio = tonumber(ARGV[1])
local min_retries_per_second = tonumber(ARGV[2])
local window_ms = tonumber(ARGV[3])
local now
if ARGV[4] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
else
  now = tonumber(ARGV[4])
end

-- Step 1: roll to now.
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

-- Step 2: the balance, in the TypeScript order of operations.
local weight = math.max(0, 1 - math.max(0, now - start) / window_ms)
local successes = ps * weight + cs
local retries = pr * weight + cr
local reserve = min_retries_per_second * window_ms / 1000
local balance = reserve + ratio * successes - retries

-- Step 3: withdraw.
local allowed = 0
if balance >= 1 - 1e-9 then
  allowed = 1
  cr = cr + 1
end

-- '%.17g' prints a double so that tonumber reads back the very same double.
redis.call('HSET', KEYS[1], 'start', string.format('%.17g', start), 'ps', string.format('%.17g', ps),
  'pr', string.format('%.17g', pr), 'cs', string.format('%.17g', cs), 'cr', string.format('%.17g', cr))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(2 * window_ms)))
return allowed
