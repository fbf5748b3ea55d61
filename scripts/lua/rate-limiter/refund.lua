-- rate-limiter/refund
--
-- Purpose: gives `cost` units back to every limit of one rate-limiter key, in one atomic step, as
-- the `refund` of packages/local/src/rate-limiter/algorithms/*.ts computes it (docs/algorithms.md,
-- "Rate limiters", step 5 of each algorithm). A limit that holds no state (idle, or past its
-- expiry) is left alone.
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

redis.replicate_commands()

local function str(x)
  return string.format('%.0f', x)
end

local function ceildiv(a, b)
  return math.ceil(a / b)
end

local now = tonumber(ARGV[1])
-- TTLs run on the server's clock. With the server's time they end exactly when the state goes
-- idle; with a caller's nowMs (tests) the two clocks differ, so keys get a grace period: a key that
-- expired early would forget admitted requests, one that lives longer decides as an absent one.
local grace = 5000
if now < 0 then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  grace = 0
end
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

-- Scaled units ahead of now of an instant kept as whole ms + rem / P.
local function scaledAhead(whole, rem, P)
  if whole < now then
    return 0
  end
  return (whole - now) * P + rem
end

local function split(ahead, P)
  local whole = math.floor(ahead / P)
  return now + whole, ahead - whole * P
end

local function instantExpires(whole, rem)
  if rem > 0 then
    return whole + 1
  end
  return whole
end

-- Each one-key algorithm: fields, expires(state, config), refund(state, config) -> state.
local algorithms = {
  ['token-bucket'] = {
    fields = { 'tokens', 'at' },
    expires = function(s, c)
      return s.at + ceildiv(c.capacity * c.U - s.tokens, c.P)
    end,
    refund = function(s, c)
      local C = c.capacity * c.U
      local t
      local elapsed = now - s.at
      if elapsed <= 0 then
        t = s.tokens
      elseif elapsed >= ceildiv(C - s.tokens, c.P) then
        t = C
      else
        t = s.tokens + elapsed * c.P
      end
      return { tokens = math.min(C, t + cost * c.U), at = math.max(now, s.at) }
    end,
  },
  ['gcra'] = {
    fields = { 'tat', 'rem' },
    expires = function(s)
      return instantExpires(s.tat, s.rem)
    end,
    refund = function(s, c)
      local tat, rem = split(math.max(0, scaledAhead(s.tat, s.rem, c.P) - cost * c.U), c.P)
      return { tat = tat, rem = rem }
    end,
  },
  ['leaky-bucket'] = {
    fields = { 'free', 'rem' },
    expires = function(s)
      return instantExpires(s.free, s.rem)
    end,
    refund = function(s, c)
      local free, rem = split(math.max(0, scaledAhead(s.free, s.rem, c.P) - cost * c.U), c.P)
      return { free = free, rem = rem }
    end,
  },
  ['fixed-window'] = {
    fields = { 'start', 'count' },
    expires = function(s, c)
      if s.count > 0 then
        return s.start + c.interval
      end
      return s.start
    end,
    refund = function(s, c)
      -- A refund for an earlier window has nothing to give back: that window is over.
      if s.start ~= math.floor(now / c.interval) * c.interval then
        return s
      end
      return { start = s.start, count = math.max(0, s.count - cost) }
    end,
  },
  ['sliding-window-counter'] = {
    fields = { 'start', 'count', 'prev' },
    expires = function(s, c)
      if s.count > 0 then
        return s.start + 2 * c.interval
      end
      if s.prev > 0 then
        return s.start + c.interval
      end
      return s.start
    end,
    refund = function(s, c)
      local W = c.interval
      local start = math.floor(now / W) * W
      local n, p = 0, 0
      if s.start == start then
        n, p = s.count, s.prev
      elseif s.start == start - W then
        p = s.count
      end
      local fromCurrent = math.min(cost, n)
      local fromPrevious = math.min(cost - fromCurrent, p)
      return { start = start, count = n - fromCurrent, prev = p - fromPrevious }
    end,
  },
}

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
    local rules = algorithms[algorithm]
    if rules == nil then
      return redis.error_reply('ERR unknown rate-limit algorithm ' .. tostring(algorithm))
    end
    local value = redis.call('GET', stateKey)
    if value then
      -- "<a>:<b>" or "<a>:<b>:<c>" by the algorithm's fields, as rate-limiter/acquire writes it.
      local s = {}
      local j = 0
      for text in string.gmatch(value, '[^:]+') do
        j = j + 1
        if rules.fields[j] ~= nil then
          s[rules.fields[j]] = tonumber(text) or 0
        end
      end
      for k = j + 1, #rules.fields do
        s[rules.fields[k]] = 0
      end
      -- A state past its expiry is no state: nothing to give back to, as in memory.
      if now < rules.expires(s, c) then
        local next = rules.refund(s, c)
        local ttl = rules.expires(next, c) - now
        if ttl <= 0 then
          redis.call('DEL', stateKey)
        else
          local texts = {}
          for k, field in ipairs(rules.fields) do
            texts[k] = str(next[field])
          end
          redis.call('SET', stateKey, table.concat(texts, ':'), 'PX', str(ttl + grace))
        end
        refunded = refunded + 1
      end
    end
  end
end

return refunded
