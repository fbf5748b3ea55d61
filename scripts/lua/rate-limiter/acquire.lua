-- rate-limiter/acquire
--
-- Purpose: decides on one or more requests against one or more limits of one rate-limiter key, in
-- one atomic step, with the algorithms of docs/algorithms.md ("Rate limiters"), line for line as
-- packages/local/src/rate-limiter/algorithms/*.ts computes them. Requests are decided in order, each
-- against the state the ones before it left (request batching). A request is allowed only when every
-- limit allows it, and then it takes from every limit; when one denies, it takes from none
-- (multi-limit all-or-nothing).
--
-- KEYS[1..]: for each limit, in the order of their configs in ARGV, its state: a string of integers
--   joined by ':', by algorithm: token-bucket "<tokens>:<at>"; gcra "<tat>:<rem>"; fixed-window
--   "<start>:<count>"; sliding-window-counter "<start>:<count>:<prev>"; leaky-bucket
--   "<free>:<rem>"; sliding-window-log "<used>". For sliding-window-log only, each state is
--   followed by its log, a list of "<timeMs>:<cost>" oldest first. All keys share one hash tag, so
--   one Cluster slot.
-- ARGV[1]: nowMs, integer ms since the Unix epoch to decide at; a negative value reads the server
--   clock: TIME seconds * 1000 + floor(microseconds / 1000).
-- ARGV[2]: the algorithm: token-bucket, gcra, fixed-window, sliding-window-counter,
--   sliding-window-log or leaky-bucket.
-- ARGV[3]: R, the number of requests, an integer >= 1.
-- ARGV[4..]: for each limit (one per key, two per key for sliding-window-log) five integers: limit (cost units per interval),
--   intervalMs (ms), capacity (cost units), unitScaled and msScaled (scaled units per cost unit and
--   per ms); then for each request two integers: cost (cost units, 1..maxCost) and maxDelayMs (ms,
--   leaky bucket only: the longest an admitted caller waits for its slot; 2^53 - 1 for no limit).
--
-- Reply: an array of 6 * R integers, six per request in order: allowed (1 or 0), limit, remaining
--   (cost units), retryAfterMs, resetAfterMs and delayMs (ms). With several limits: remaining and
--   limit of the limit with the least remaining, retryAfterMs the largest among the limits that deny,
--   resetAfterMs and delayMs the largest of all.
--
-- Invariants: every number is an integer below 2^53, computed with + - *, floor/ceil of a quotient
--   and comparisons only, so Lua's doubles give exactly the TypeScript results. A denied request
--   changes no decision. Every key written gets a TTL equal to the time until its state decides as
--   no state (resetAfterMs; 5 s more with an explicit nowMs, whose clock is not the server's); a
--   state that is already idle is deleted; so an idle limiter leaves no key, and expiry is never
--   needed for correctness (a stale state decides as an absent one).

redis.replicate_commands()

-- Numbers go to Redis as text; Lua's default %.14g would round values above 10^14.
local function str(x)
  return string.format('%.0f', x)
end

local function ceildiv(a, b)
  return math.ceil(a / b)
end

local function floordiv(a, b)
  return math.floor(a / b)
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
local requestCount = tonumber(ARGV[3])
-- Only the sliding-window log keeps a second key per limit: the others are sent one key less.
local keysPerLimit = 1
if algorithm == 'sliding-window-log' then
  keysPerLimit = 2
end
local limitCount = #KEYS / keysPerLimit

local configs = {}
for i = 1, limitCount do
  local at = 3 + (i - 1) * 5
  configs[i] = {
    limit = tonumber(ARGV[at + 1]),
    interval = tonumber(ARGV[at + 2]),
    capacity = tonumber(ARGV[at + 3]),
    U = tonumber(ARGV[at + 4]),
    P = tonumber(ARGV[at + 5]),
  }
end
local requestsAt = 3 + limitCount * 5

-- A state is one string written with SET ... PX: one command where a hash needed HSET and
-- PEXPIRE, and every admission writes. Two or three integer fields, by the algorithm's layout.
local function stateOf(key, fields)
  local value = redis.call('GET', key)
  if not value then
    return nil
  end
  local a, b, c = string.match(value, '^([^:]*):([^:]*):?([^:]*)$')
  local state = { [fields[1]] = tonumber(a) or 0, [fields[2]] = tonumber(b) or 0 }
  if fields[3] ~= nil then
    state[fields[3]] = tonumber(c) or 0
  end
  return state
end

local function saveState(key, state, fields, expiresAt)
  local ttl = expiresAt - now
  if ttl <= 0 then
    redis.call('DEL', key)
    return
  end
  -- One string.format per value: each call and each concatenation makes a Lua string.
  local value
  if fields[3] == nil then
    value = string.format('%.0f:%.0f', state[fields[1]], state[fields[2]])
  else
    value = string.format('%.0f:%.0f:%.0f', state[fields[1]], state[fields[2]], state[fields[3]])
  end
  redis.call('SET', key, value, 'PX', str(ttl + grace))
end

-- Each algorithm: fields (the state's layout), load, decide (pure: returns allowed, next state, limit,
-- remaining, retryAfter, resetAfter, delay), commit (records an allowed request), save, expires.
-- Only the called algorithm's table and closures are built: the body runs on every call, and
-- building all six cost more than some decisions.
local algorithms = {}

-- Token bucket: tokens (scaled) refilled by P per ms up to C = capacity * U.
local function tokensAt(s, C, P)
  if s == nil then
    return C
  end
  local elapsed = now - s.at
  if elapsed <= 0 then
    return s.tokens
  end
  if elapsed >= ceildiv(C - s.tokens, P) then
    return C
  end
  return s.tokens + elapsed * P
end

if algorithm == 'token-bucket' then
  algorithms['token-bucket'] = {
    fields = { 'tokens', 'at' },
    expires = function(s, c)
      return s.at + ceildiv(c.capacity * c.U - s.tokens, c.P)
    end,
    decide = function(s, cost, _, c)
      local C = c.capacity * c.U
      local t = tokensAt(s, C, c.P)
      local need = cost * c.U
      if t >= need then
        local left = t - need
        local at = now
        if s ~= nil and s.at > now then
          at = s.at
        end
        return true, { tokens = left, at = at }, c.capacity, floordiv(left, c.U), 0, ceildiv(C - left, c.P), 0
      end
      return false, s, c.capacity, floordiv(t, c.U), ceildiv(need - t, c.P), ceildiv(C - t, c.P), 0
    end,
  }
end

-- GCRA: the TAT is tat + rem / P ms; `ahead` is how far it is ahead of now, in scaled units.
local function scaledAhead(tat, rem, s, P)
  if s == nil or s[tat] < now then
    return 0
  end
  return (s[tat] - now) * P + s[rem]
end

local function aheadOfNow(tat, rem, ahead, P)
  local whole = math.floor(ahead / P)
  return { [tat] = now + whole, [rem] = ahead - whole * P }
end

if algorithm == 'gcra' then
  algorithms['gcra'] = {
    fields = { 'tat', 'rem' },
    expires = function(s)
      if s.rem > 0 then
        return s.tat + 1
      end
      return s.tat
    end,
    decide = function(s, cost, _, c)
      local C = c.capacity * c.U
      local ahead = scaledAhead('tat', 'rem', s, c.P)
      local after = ahead + cost * c.U
      if after <= C then
        return true, aheadOfNow('tat', 'rem', after, c.P), c.capacity, floordiv(C - after, c.U), 0,
          ceildiv(after, c.P), 0
      end
      return false, s, c.capacity, floordiv(C - ahead, c.U), ceildiv(after - C, c.P), ceildiv(ahead, c.P), 0
    end,
  }
end

-- Leaky bucket: the bucket is empty from free + rem / P ms; `backlog` is what is queued ahead.
local function queueRoom(backlog, c)
  local Q = c.capacity * c.U
  if backlog <= Q then
    return floordiv(Q - backlog, c.U) + 1
  end
  return 0
end

if algorithm == 'leaky-bucket' then
  algorithms['leaky-bucket'] = {
    fields = { 'free', 'rem' },
    expires = function(s)
      if s.rem > 0 then
        return s.free + 1
      end
      return s.free
    end,
    decide = function(s, cost, maxDelay, c)
      local backlog = scaledAhead('free', 'rem', s, c.P)
      local delay = ceildiv(backlog, c.P)
      local Q = c.capacity * c.U
      if backlog <= Q and delay <= maxDelay then
        local after = backlog + cost * c.U
        return true, aheadOfNow('free', 'rem', after, c.P), c.capacity + 1, queueRoom(after, c), 0,
          ceildiv(after, c.P), delay
      end
      local untilRoom = 0
      if backlog > Q then
        untilRoom = ceildiv(backlog - Q, c.P)
      end
      local untilSlot = 0
      if delay > maxDelay then
        untilSlot = delay - maxDelay
      end
      return false, s, c.capacity + 1, queueRoom(backlog, c), math.max(untilRoom, untilSlot), delay, 0
    end,
  }
end

-- Fixed window: windows of W ms aligned to the epoch.
if algorithm == 'fixed-window' then
  algorithms['fixed-window'] = {
    fields = { 'start', 'count' },
    expires = function(s, c)
      if s.count > 0 then
        return s.start + c.interval
      end
      return s.start
    end,
    decide = function(s, cost, _, c)
      local W = c.interval
      local start = math.floor(now / W) * W
      local n = 0
      if s ~= nil and s.start == start then
        n = s.count
      end
      local left = start + W - now
      if n + cost <= c.limit then
        return true, { start = start, count = n + cost }, c.limit, c.limit - n - cost, 0, left, 0
      end
      local reset = 0
      if n > 0 then
        reset = left
      end
      return false, s, c.limit, c.limit - n, left, reset, 0
    end,
  }
end

-- Sliding window counter: the previous window's count weighted by its share still in the window.
if algorithm == 'sliding-window-counter' then
  algorithms['sliding-window-counter'] = {
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
    decide = function(s, cost, _, c)
      local W = c.interval
      local start = math.floor(now / W) * W
      local elapsed = now - start
      local n, p = 0, 0
      if s ~= nil then
        if s.start == start then
          n, p = s.count, s.prev
        elseif s.start == start - W then
          p = s.count
        end
      end
      local pw = p * (W - elapsed)
      local cap = c.limit * W
      local after = pw + (n + cost) * W
      if after <= cap then
        return true, { start = start, count = n + cost, prev = p }, c.limit, floordiv(cap - after, W), 0,
          start + 2 * W - now, 0
      end
      local w = pw + n * W
      local remaining = 0
      if w < cap then
        remaining = floordiv(cap - w, W)
      end
      local retry
      if n + cost > c.limit then
        retry = W - elapsed + W - floordiv((c.limit - cost) * W, n)
      else
        retry = W - floordiv((c.limit - n - cost) * W, p) - elapsed
      end
      local reset = 0
      if n > 0 then
        reset = start + 2 * W - now
      elseif p > 0 then
        reset = W - elapsed
      end
      return false, s, c.limit, remaining, retry, reset, 0
    end,
  }
end

-- Sliding window log: the list holds "<time>:<cost>" entries, the state key the sum of their costs.
local function entryOf(text)
  if not text then
    return nil, nil
  end
  local colon = string.find(text, ':', 1, true)
  return tonumber(string.sub(text, 1, colon - 1)), tonumber(string.sub(text, colon + 1))
end

if algorithm == 'sliding-window-log' then
  algorithms['sliding-window-log'] = {
    load = function(stateKey, logKey, c)
      local used = tonumber(redis.call('GET', stateKey)) or 0
      local dropped = false
      while true do
        local time, cost = entryOf(redis.call('LINDEX', logKey, 0))
        if time == nil or time + c.interval > now then
          break
        end
        redis.call('LPOP', logKey)
        used = used - cost
        dropped = true
      end
      local newest, newestCost = entryOf(redis.call('LINDEX', logKey, -1))
      if newest == nil then
        if dropped or used ~= 0 then
          redis.call('DEL', stateKey, logKey)
        end
        return nil, false
      end
      return { used = used, newest = newest, newestCost = newestCost, logKey = logKey }, dropped
    end,
    decide = function(s, cost, _, c)
      local used = 0
      if s ~= nil then
        used = s.used
      end
      if used + cost <= c.limit then
        local next
        if s ~= nil and s.newest >= now then
          next = { used = used + cost, newest = s.newest, newestCost = s.newestCost + cost, merge = true }
        else
          next = { used = used + cost, newest = now, newestCost = cost, merge = false }
        end
        return true, next, c.limit, c.limit - next.used, 0, next.newest + c.interval - now, 0
      end
      -- Denied (so s exists): wait until enough of the oldest entries leave the window.
      local retry = 0
      local stillUsed = used
      local entries = redis.call('LRANGE', s.logKey, 0, -1)
      for _, text in ipairs(entries) do
        local time, entryCost = entryOf(text)
        stillUsed = stillUsed - entryCost
        if stillUsed + cost <= c.limit then
          retry = time + c.interval - now
          break
        end
      end
      return false, s, c.limit, c.limit - used, retry, s.newest + c.interval - now, 0
    end,
    commit = function(stateKey, logKey, next)
      local entry = str(next.newest) .. ':' .. str(next.newestCost)
      if next.merge then
        redis.call('LSET', logKey, -1, entry)
      else
        redis.call('RPUSH', logKey, entry)
      end
      next.logKey = logKey
    end,
    save = function(stateKey, logKey, s, c)
      local ttl = s.newest + c.interval - now
      if ttl <= 0 then
        redis.call('DEL', stateKey, logKey)
        return
      end
      redis.call('SET', stateKey, str(s.used), 'PX', str(ttl + grace))
      redis.call('PEXPIRE', logKey, str(ttl + grace))
    end,
  }
end

local rules = algorithms[algorithm]
if rules == nil then
  return redis.error_reply('ERR unknown rate-limit algorithm ' .. tostring(algorithm))
end

-- The common call, one request against one limit of a one-key algorithm, goes straight through with
-- the same load, decide and save as the general path below, without its per-limit and per-request
-- tables and loops: those cost more in Redis than the decision itself.
if requestCount == 1 and limitCount == 1 and rules.load == nil then
  local c = configs[1]
  local stateKey = KEYS[1]
  local s = stateOf(stateKey, rules.fields)
  if s ~= nil and now >= rules.expires(s, c) then
    s = nil
  end
  local ok, next, limit, remaining, retry, reset, delay =
    rules.decide(s, tonumber(ARGV[requestsAt + 1]), tonumber(ARGV[requestsAt + 2]), c)
  if not ok then
    return { 0, limit, remaining, math.max(0, retry), math.max(0, reset), math.max(0, delay) }
  end
  saveState(stateKey, next, rules.fields, rules.expires(next, c))
  return { 1, limit, remaining, 0, math.max(0, reset), math.max(0, delay) }
end

-- Load every limit's state; a state past its expiry decides as no state, as in memory.
local states, dirty = {}, {}
for i = 1, limitCount do
  local stateKey = KEYS[keysPerLimit * (i - 1) + 1]
  if rules.load ~= nil then
    states[i], dirty[i] = rules.load(stateKey, KEYS[2 * i], configs[i])
  else
    local s = stateOf(stateKey, rules.fields)
    if s ~= nil and now >= rules.expires(s, configs[i]) then
      s = nil
    end
    states[i] = s
    dirty[i] = false
  end
end

local reply = {}
local nexts = {}
for r = 1, requestCount do
  local cost = tonumber(ARGV[requestsAt + 2 * r - 1])
  local maxDelay = tonumber(ARGV[requestsAt + 2 * r])
  local allowed, limit, remaining, retry, reset, delay = true, 0, -1, 0, 0, 0
  for i = 1, limitCount do
    local ok, next, l, rem, ra, rs, d = rules.decide(states[i], cost, maxDelay, configs[i])
    nexts[i] = next
    if not ok then
      allowed = false
      retry = math.max(retry, ra)
    end
    if remaining < 0 or rem < remaining then
      limit, remaining = l, rem
    end
    reset = math.max(reset, rs)
    delay = math.max(delay, d)
  end
  if allowed then
    for i = 1, limitCount do
      if rules.commit ~= nil then
        rules.commit(KEYS[2 * i - 1], KEYS[2 * i], nexts[i])
      end
      states[i] = nexts[i]
      dirty[i] = true
    end
  end
  local at = 6 * (r - 1)
  reply[at + 1] = allowed and 1 or 0
  reply[at + 2] = limit
  reply[at + 3] = remaining
  reply[at + 4] = retry
  reply[at + 5] = reset
  reply[at + 6] = delay
end

for i = 1, limitCount do
  if dirty[i] and states[i] ~= nil then
    if rules.save ~= nil then
      rules.save(KEYS[2 * i - 1], KEYS[2 * i], states[i], configs[i])
    else
      saveState(KEYS[keysPerLimit * (i - 1) + 1], states[i], rules.fields, rules.expires(states[i], configs[i]))
    end
  end
end

return reply
