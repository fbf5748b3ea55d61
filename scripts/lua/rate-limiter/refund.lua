-- rate-limiter/refund
--
-- Purpose: gives `cost` units back to every limit of one rate-limiter key, in one atomic step, as
-- the `refund` of packages/local/src/rate-limiter/algorithms/*.ts computes it (docs/algorithms.md,
-- "Rate limiters", step 5 of each algorithm). A limit that holds no state (idle, or past its
-- expiry) is left alone. The time, the load and save of a state, each algorithm's level and
-- expiry are rate-limiter/acquire's (lib/rate-limiter-*.lua); only the refund's step is here.
--
-- KEYS[1..]: as in rate-limiter/acquire: for each limit, in the order of their configs in ARGV,
--   its state (a string, layout as in rate-limiter/acquire); for sliding-window-log only, each
--   state followed by its log, a list of "<timeMs>:<cost>".
-- ARGV[1]: nowMs, integer ms since the Unix epoch; a negative value reads the server clock (TIME).
-- ARGV[2]: the algorithm, as in rate-limiter/acquire.
-- ARGV[3]: cost, the cost units to give back, an integer >= 1.
-- ARGV[4..]: for each limit five integers: limit, intervalMs (ms), capacity, unitScaled, msScaled.
--
-- Reply: integer, how many limits held state and took the refund.
--
-- Invariants: integer arithmetic below 2^53 as in rate-limiter/acquire. A refund never gives more
--   than the state can hold (the bucket's capacity, the counts admitted). Every key written keeps a
--   TTL equal to the time until its state decides as no state (5 s more with an explicit nowMs);
--   an idle state is deleted.

--#include lib/rate-limiter-state.lua

local algorithm = ARGV[2]
local cost = tonumber(ARGV[3])
local keysPerLimit = 1
if algorithm == 'sliding-window-log' then
  keysPerLimit = 2
end
local limitCount = #KEYS / keysPerLimit

local function configOf(i)
  local at = 3 + (i - 1) * 5
  return {
    limit = tonumber(ARGV[at + 1]),
    interval = tonumber(ARGV[at + 2]),
    capacity = tonumber(ARGV[at + 3]),
    U = tonumber(ARGV[at + 4]),
    P = tonumber(ARGV[at + 5]),
  }
end

-- The one-key algorithm called: expires(a, b, c, config) and refund(a, b, c, config) -> a, b, c
-- on the fields of its state string (c nil for a two-field state). Only its closures are built.
local rules

if algorithm == 'token-bucket' then
--#include lib/rate-limiter-token-bucket.lua
  rules = {
    expires = function(tokens, at, _, c)
      return tokenBucketExpiresAt(tokens, at, c.capacity * c.U, c.P)
    end,
    refund = function(tokens, at, _, c)
      local C = c.capacity * c.U
      return math.min(C, tokenBucketLevel(tokens, at, C, c.P) + cost * c.U), math.max(now, at)
    end,
  }
end

-- GCRA (the TAT) and leaky bucket (when the bucket is empty) keep an instant: `whole` ms plus
-- `rem` scaled units; a refund moves it `cost` back towards now, never before it.
--#include lib/rate-limiter-instant.lua

if algorithm == 'gcra' or algorithm == 'leaky-bucket' then
  rules = {
    expires = instantExpiresAt,
    refund = function(whole, rem, _, c)
      return instantAfter(math.max(0, scaledAhead(whole, rem, c.P) - cost * c.U), c.P)
    end,
  }
end

if algorithm == 'fixed-window' then
--#include lib/rate-limiter-fixed-window.lua
  rules = {
    expires = function(start, count, _, c)
      return fixedWindowExpiresAt(start, count, c.interval)
    end,
    refund = function(start, count, _, c)
      local current, n = fixedWindowAt(start, count, c.interval)
      -- A refund for an earlier window has nothing to give back: that window is over.
      if start ~= current then
        return start, count
      end
      return start, math.max(0, n - cost)
    end,
  }
end

if algorithm == 'sliding-window-counter' then
--#include lib/rate-limiter-sliding-window-counter.lua
  rules = {
    expires = function(start, count, prev, c)
      return slidingWindowCounterExpiresAt(start, count, prev, c.interval)
    end,
    refund = function(start, count, prev, c)
      local current, n, p = slidingWindowCounterAt(start, count, prev, c.interval)
      -- Give back from the current window first; what it did not hold came from the previous one.
      local fromCurrent = math.min(cost, n)
      local fromPrevious = math.min(cost - fromCurrent, p)
      return current, n - fromCurrent, p - fromPrevious
    end,
  }
end

local function entryOf(text)
  if not text then
    return nil, nil
  end
  local colon = string.find(text, ':', 1, true)
  return tonumber(string.sub(text, 1, colon - 1)), tonumber(string.sub(text, colon + 1))
end

-- Sliding window log: drop what left the window, then take `cost` from the newest entries back.
local function refundLog(stateKey, logKey, c)
  local used = tonumber(redis.call('GET', stateKey)) or 0
  while true do
    local time, entryCost = entryOf(redis.call('LINDEX', logKey, 0))
    if time == nil or time + c.interval > now then
      break
    end
    redis.call('LPOP', logKey)
    used = used - entryCost
  end
  if redis.call('LLEN', logKey) == 0 then
    redis.call('DEL', stateKey, logKey)
    return 0
  end
  local left = cost
  while left > 0 do
    local time, entryCost = entryOf(redis.call('LINDEX', logKey, -1))
    if time == nil then
      break
    end
    if entryCost > left then
      redis.call('LSET', logKey, -1, str(time) .. ':' .. str(entryCost - left))
      used = used - left
      left = 0
    else
      redis.call('RPOP', logKey)
      used = used - entryCost
      left = left - entryCost
    end
  end
  local newest = entryOf(redis.call('LINDEX', logKey, -1))
  local ttl = 0
  if newest ~= nil then
    ttl = newest + c.interval - now
  end
  if ttl <= 0 then
    redis.call('DEL', stateKey, logKey)
  else
    redis.call('SET', stateKey, str(used), 'PX', str(ttl + grace))
    redis.call('PEXPIRE', logKey, str(ttl + grace))
  end
  return 1
end

local refunded = 0
for i = 1, limitCount do
  local stateKey = KEYS[keysPerLimit * (i - 1) + 1]
  local c = configOf(i)
  if algorithm == 'sliding-window-log' then
    refunded = refunded + refundLog(stateKey, KEYS[2 * i], c)
  else
    if rules == nil then
      return redis.error_reply('ERR unknown rate-limit algorithm ' .. tostring(algorithm))
    end
    -- "<a>:<b>" or "<a>:<b>:<c>" by the algorithm, as rate-limiter/acquire writes it.
    local a, b, third = loadState(stateKey)
    -- A state past its expiry is no state: nothing to give back to, as in memory.
    if a ~= nil and now < rules.expires(a, b, third, c) then
      local nextA, nextB, nextC = rules.refund(a, b, third, c)
      saveState(stateKey, rules.expires(nextA, nextB, nextC, c), nextA, nextB, nextC)
      refunded = refunded + 1
    end
  end
end

return refunded
