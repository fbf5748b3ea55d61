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
-- One request against one limit of a one-key algorithm has a lean script each
-- (rate-limiter/acquire-<algorithm>) with the same algorithm (lib/rate-limiter-<algorithm>.lua).
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

--#include lib/rate-limiter-state.lua

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

-- Each algorithm: load (the state as a table, nil when absent or past its expiry), decide (pure:
-- returns allowed, next state, limit, remaining, retryAfter, resetAfter, delay), commit (records
-- an allowed request), save. The step itself is the algorithm's lib/rate-limiter-<algorithm>.lua,
-- shared with its lean script; here it is wrapped in tables for several limits and requests. Only
-- the called algorithm's table and closures are built: the body runs on every call.
local algorithms = {}

if algorithm == 'token-bucket' then
--#include lib/rate-limiter-token-bucket.lua
  algorithms['token-bucket'] = {
    load = function(key, c)
      local tokens, at = loadState(key)
      if tokens == nil or now >= tokenBucketExpiresAt(tokens, at, c.capacity * c.U, c.P) then
        return nil
      end
      return { tokens = tokens, at = at }
    end,
    decide = function(s, cost, _, c)
      local C = c.capacity * c.U
      local need = cost * c.U
      local t, left, at = tokenBucketTake(s and s.tokens, s and s.at, need, C, c.P)
      if left ~= nil then
        return true, { tokens = left, at = at }, c.capacity, floordiv(left, c.U), 0, ceildiv(C - left, c.P), 0
      end
      return false, s, c.capacity, floordiv(t, c.U), ceildiv(need - t, c.P), ceildiv(C - t, c.P), 0
    end,
    save = function(key, s, c)
      saveState(key, tokenBucketExpiresAt(s.tokens, s.at, c.capacity * c.U, c.P), s.tokens, s.at)
    end,
  }
end

-- GCRA and leaky bucket keep an instant: `whole` ms plus `rem` scaled units.
--#include lib/rate-limiter-instant.lua

local function loadInstant(key)
  local whole, rem = loadState(key)
  if whole == nil or now >= instantExpiresAt(whole, rem) then
    return nil
  end
  return { whole = whole, rem = rem }
end

local function saveInstant(key, s)
  saveState(key, instantExpiresAt(s.whole, s.rem), s.whole, s.rem)
end

if algorithm == 'gcra' then
--#include lib/rate-limiter-gcra.lua
  algorithms['gcra'] = {
    load = loadInstant,
    decide = function(s, cost, _, c)
      local C = c.capacity * c.U
      local ahead, tat, rem = gcraTake(s and s.whole, s and s.rem, cost * c.U, C, c.P)
      if tat ~= nil then
        local after = ahead + cost * c.U
        return true, { whole = tat, rem = rem }, c.capacity, floordiv(C - after, c.U), 0, ceildiv(after, c.P), 0
      end
      return false, s, c.capacity, floordiv(C - ahead, c.U), ceildiv(ahead + cost * c.U - C, c.P),
        ceildiv(ahead, c.P), 0
    end,
    save = saveInstant,
  }
end

if algorithm == 'leaky-bucket' then
--#include lib/rate-limiter-leaky-bucket.lua
  -- Room left in the queue behind a backlog, in cost units (the caller's own slot counts).
  local function queueRoom(backlog, c)
    local Q = c.capacity * c.U
    if backlog <= Q then
      return floordiv(Q - backlog, c.U) + 1
    end
    return 0
  end
  algorithms['leaky-bucket'] = {
    load = loadInstant,
    decide = function(s, cost, maxDelay, c)
      local Q = c.capacity * c.U
      local backlog, free, rem = leakyBucketTake(s and s.whole, s and s.rem, cost * c.U, Q, c.P, maxDelay)
      local delay = ceildiv(backlog, c.P)
      if free ~= nil then
        local after = backlog + cost * c.U
        return true, { whole = free, rem = rem }, c.capacity + 1, queueRoom(after, c), 0, ceildiv(after, c.P), delay
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
    save = saveInstant,
  }
end

if algorithm == 'fixed-window' then
--#include lib/rate-limiter-fixed-window.lua
  algorithms['fixed-window'] = {
    load = function(key, c)
      local start, count = loadState(key)
      if start == nil or now >= fixedWindowExpiresAt(start, count, c.interval) then
        return nil
      end
      return { start = start, count = count }
    end,
    decide = function(s, cost, _, c)
      local start, n, counted = fixedWindowTake(s and s.start, s and s.count, cost, c.limit, c.interval)
      local left = start + c.interval - now
      if counted ~= nil then
        return true, { start = start, count = counted }, c.limit, c.limit - counted, 0, left, 0
      end
      local reset = 0
      if n > 0 then
        reset = left
      end
      return false, s, c.limit, c.limit - n, left, reset, 0
    end,
    save = function(key, s, c)
      saveState(key, fixedWindowExpiresAt(s.start, s.count, c.interval), s.start, s.count)
    end,
  }
end

if algorithm == 'sliding-window-counter' then
--#include lib/rate-limiter-sliding-window-counter.lua
  algorithms['sliding-window-counter'] = {
    load = function(key, c)
      local start, count, prev = loadState(key)
      if start == nil or now >= slidingWindowCounterExpiresAt(start, count, prev, c.interval) then
        return nil
      end
      return { start = start, count = count, prev = prev }
    end,
    decide = function(s, cost, _, c)
      local W = c.interval
      local start, n, p, counted =
        slidingWindowCounterTake(s and s.start, s and s.count, s and s.prev, cost, c.limit, W)
      local elapsed = now - start
      local pw = p * (W - elapsed)
      local cap = c.limit * W
      if counted ~= nil then
        return true, { start = start, count = counted, prev = p }, c.limit,
          floordiv(cap - pw - counted * W, W), 0, start + 2 * W - now, 0
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
    save = function(key, s, c)
      saveState(key, slidingWindowCounterExpiresAt(s.start, s.count, s.prev, c.interval), s.start, s.count, s.prev)
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

-- Load every limit's state; a state past its expiry decides as no state, as in memory.
local states, dirty = {}, {}
for i = 1, limitCount do
  if keysPerLimit == 2 then
    states[i], dirty[i] = rules.load(KEYS[2 * i - 1], KEYS[2 * i], configs[i])
  else
    states[i], dirty[i] = rules.load(KEYS[i], configs[i]), false
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
    if keysPerLimit == 2 then
      rules.save(KEYS[2 * i - 1], KEYS[2 * i], states[i], configs[i])
    else
      rules.save(KEYS[i], states[i], configs[i])
    end
  end
end

return reply
