-- circuit-breaker/control
--
-- Purpose: the breaker's other operations, each one atomic step with "Other operations" of
-- docs/algorithms.md ("Circuit breaker"), as
-- packages/local/src/circuit-breaker/circuit-breaker-algorithm.ts computes them: inspect, isolate,
-- release-isolation, reset, snapshot and restore. Publishes the transitions they make, so a manual
-- isolation or reset holds for every instance at once.
--
-- KEYS[1]: the circuit, a hash (fields: see circuit-breaker/admit).
-- KEYS[2]: the window's slots, a hash (see circuit-breaker/admit). Same hash tag as KEYS[1].
-- ARGV[1]: nowMs, integer ms since the Unix epoch; a negative value reads the server clock:
--   TIME seconds * 1000 + floor(microseconds / 1000).
-- ARGV[2]: ttlMs, how long an idle circuit is kept (more while open: until the open time ends).
-- ARGV[3]: the pub/sub channel for transitions, or '' to publish nothing.
-- ARGV[4]: what ends every message on the channel (see circuit-breaker/admit).
-- ARGV[5]: the operation: 'inspect', 'isolate', 'release-isolation', 'reset', 'snapshot' or
--   'restore'.
-- ARGV[6]: release-isolation: the isolation's generation; otherwise 0.
-- ARGV[7]: restore: the snapshot as JSON (already validated by the caller); otherwise ''.
-- ARGV[8..]: the settings (see circuit-breaker/admit).
--
-- Reply: an array. inspect: state, generation, calls, failures, slowCalls, consecutiveOpens,
--   retryAfterMs (-1 for none), then the transitions. isolate, release-isolation, reset, restore:
--   generation (isolate: the isolation's), state, then the transitions. Six values per transition:
--   from, to, reason, atMs, generation, openUntilMs (-1 unless to = open). snapshot: state,
--   generation, sinceMs, openUntilMs, consecutiveOpens, isolations, calls, failures, slowCalls,
--   next, headEpoch, then the window's slots: n outcome codes (count window) or n bucket calls, n
--   bucket failures and n bucket slow calls (time window).
--
-- Invariants: as circuit-breaker/admit. Reset and restore always move the generation on, so
--   every call admitted before them is stale; a release of an older generation changes nothing.
--   A restored window is used only when it has the settings' shape, its totals recounted from
--   its slots.

local SETTINGS = 8
redis.replicate_commands()

-- Integers go to Redis as exact decimal text (Lua's default %.14g would round above 10^14); a
-- non-integer time from a restored snapshot keeps all its digits.
local function str(x)
  if x == math.floor(x) then
    return string.format('%.0f', x)
  end
  return string.format('%.17g', x)
end

local now = tonumber(ARGV[1])
if now < 0 then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local ttlMs = tonumber(ARGV[2])
local channel = ARGV[3]
local messageTail = ARGV[4]

-- The settings (docs/algorithms.md, "Settings"), from ARGV[SETTINGS] on.
local function optional(text)
  if text == '' then
    return nil
  end
  return tonumber(text)
end
local S = {
  kind = ARGV[SETTINGS],
  n = tonumber(ARGV[SETTINGS + 1]),
  bucketMs = tonumber(ARGV[SETTINGS + 2]),
  failureRate = optional(ARGV[SETTINGS + 3]),
  failureCount = optional(ARGV[SETTINGS + 4]),
  slowCallRate = optional(ARGV[SETTINGS + 5]),
  slowCallDurationMs = tonumber(ARGV[SETTINGS + 6]),
  minimumCalls = tonumber(ARGV[SETTINGS + 7]),
  permitted = tonumber(ARGV[SETTINGS + 8]),
  maxWait = tonumber(ARGV[SETTINGS + 9]),
  usesHealthCheck = ARGV[SETTINGS + 10] == '1',
  isMetricsOnly = ARGV[SETTINGS + 11] == '1',
  openDurations = {},
}
for index = SETTINGS + 12, #ARGV do
  S.openDurations[#S.openDurations + 1] = tonumber(ARGV[index])
end
-- The window's shape: a stored window of another shape (the options changed) is not reused.
local shape = S.kind .. ':' .. ARGV[SETTINGS + 1] .. ':' .. ARGV[SETTINGS + 2]

-- Calls unpack() in slices: Lua's C stack takes a few thousand values at most.
local CHUNK = 1000
local function hsetMany(key, pairsList)
  for first = 1, #pairsList, 2 * CHUNK do
    local last = math.min(first + 2 * CHUNK - 1, #pairsList)
    redis.call('HSET', key, unpack(pairsList, first, last))
  end
end
local function hmgetMany(key, fields)
  local values = {}
  for first = 1, #fields, CHUNK do
    local last = math.min(first + CHUNK - 1, #fields)
    local got = redis.call('HMGET', key, unpack(fields, first, last))
    for index = 1, #got do
      values[#values + 1] = tonumber(got[index] or '0')
    end
  end
  return values
end

-- The circuit (KEYS[1]) and its window slots (KEYS[2]).
local FIELDS = { 'st', 'g', 'since', 'ou', 'op', 'pa', 'ps', 'pf', 'psl', 'iso', 'c', 'f', 's', 'nx', 'he', 'w' }
local C
local isDirty = false
local isWindowFresh = false -- the stored slots are void: read as 0, deleted on save
local slotWrites = {}

local function freshWindow(at)
  C.c, C.f, C.s, C.nx = 0, 0, 0, 0
  C.he = 0
  if S.kind == 'timeWindow' then
    C.he = math.floor(at / S.bucketMs)
  end
  isWindowFresh = true
  slotWrites = {}
  isDirty = true
end

local function load()
  local v = redis.call('HMGET', KEYS[1], unpack(FIELDS))
  if not v[1] then
    C = { st = 'closed', g = 0, since = now, ou = 0, op = 0, pa = 0, ps = 0, pf = 0, psl = 0, iso = 0 }
    -- Created at its first use, as the TypeScript state creates it (its sinceMs and head epoch
    -- count from then); later admissions of a closed circuit write nothing.
    freshWindow(now)
    return
  end
  C = { st = v[1] }
  for index = 2, 15 do
    C[FIELDS[index]] = tonumber(v[index])
  end
  if v[16] ~= shape then
    freshWindow(now)
  end
end

local function slot(field)
  local pending = slotWrites[field]
  if pending ~= nil then
    return pending
  end
  if isWindowFresh then
    return 0
  end
  return tonumber(redis.call('HGET', KEYS[2], field) or '0')
end

local function setSlot(field, value)
  slotWrites[field] = value
  isDirty = true
end

local function save()
  if not isDirty then
    return
  end
  local values = {}
  for index = 1, 15 do
    local field = FIELDS[index]
    values[#values + 1] = field
    values[#values + 1] = index == 1 and C.st or str(C[field])
  end
  values[#values + 1] = 'w'
  values[#values + 1] = shape
  redis.call('HSET', KEYS[1], unpack(values))
  if isWindowFresh then
    redis.call('DEL', KEYS[2])
  end
  local writes = {}
  for field, value in pairs(slotWrites) do
    writes[#writes + 1] = field
    writes[#writes + 1] = str(value)
  end
  hsetMany(KEYS[2], writes)
  -- Idle state expires by itself; an open circuit lives at least until its open time ends.
  local ttl = ttlMs
  if C.st == 'open' and C.ou > now then
    ttl = ttl + math.ceil(C.ou - now)
  end
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end

-- Transitions (docs/algorithms.md, "Transitions"), collected in T and published after the save.
local T = {}

local function transition(to, reason, at)
  local from = C.st
  C.st = to
  C.g = C.g + 1
  C.since = at
  C.pa, C.ps, C.pf, C.psl = 0, 0, 0, 0
  isDirty = true
  local openUntil = -1
  if to == 'open' then
    openUntil = C.ou
  end
  T[#T + 1] = { from, to, reason, at, C.g, openUntil }
end

local function toOpen(at, reason)
  C.op = C.op + 1
  local schedule = S.openDurations
  C.ou = at + schedule[math.min(C.op, #schedule)]
  transition('open', reason, at)
end

local function toClosed(at, reason)
  C.op = 0
  C.ou = 0
  C.iso = 0
  freshWindow(at)
  transition('closed', reason, at)
end

local function elapsed()
  if C.st == 'half-open' and now >= C.since + S.maxWait then
    toOpen(C.since + S.maxWait, 'half-open-timeout')
  end
end

local function threshold(calls, failures, slowCalls, minimum, failureCount)
  if calls < minimum or calls == 0 then
    return nil
  end
  if S.failureRate ~= nil and failures / calls >= S.failureRate then
    return 'failure-rate'
  end
  if failureCount ~= nil and failures >= failureCount then
    return 'failure-count'
  end
  if S.slowCallRate ~= nil and slowCalls / calls >= S.slowCallRate then
    return 'slow-call-rate'
  end
  return nil
end

-- Window steps (docs/algorithms.md, "Window steps"). Bit 0 of a code: failure; bit 1: slow.
local function advance(t)
  local epoch = math.floor(t / S.bucketMs)
  local steps = epoch - C.he
  if steps <= 0 then
    return
  end
  local buckets = S.n
  if steps >= buckets then
    C.c, C.f, C.s = 0, 0, 0
    isWindowFresh = true
    slotWrites = {}
  else
    for step = 1, steps do
      local index = (C.he + step) % buckets
      C.c = C.c - slot('c' .. index)
      C.f = C.f - slot('f' .. index)
      C.s = C.s - slot('s' .. index)
      setSlot('c' .. index, 0)
      setSlot('f' .. index, 0)
      setSlot('s' .. index, 0)
    end
  end
  C.he = epoch
  isDirty = true
end

local function recordInWindow(code, t)
  local failure = code % 2
  local slow = math.floor(code / 2)
  if S.kind == 'consecutive' then
    if failure == 1 then
      C.c = C.c + 1
      C.f = C.f + 1
    else
      C.c = 0
      C.f = 0
    end
  elseif S.kind == 'countWindow' then
    local size = S.n
    if C.c == size then
      local old = slot('o' .. C.nx)
      C.f = C.f - old % 2
      C.s = C.s - math.floor(old / 2)
    else
      C.c = C.c + 1
    end
    setSlot('o' .. C.nx, code)
    C.f = C.f + failure
    C.s = C.s + slow
    C.nx = (C.nx + 1) % size
  else
    advance(t)
    local index = C.he % S.n
    setSlot('c' .. index, slot('c' .. index) + 1)
    setSlot('f' .. index, slot('f' .. index) + failure)
    setSlot('s' .. index, slot('s' .. index) + slow)
    C.c = C.c + 1
    C.f = C.f + failure
    C.s = C.s + slow
  end
  isDirty = true
end

-- Saves, publishes each transition ("<generation>|<from>|<to>|<reason>|<atMs>|<openUntilMs or
-- -1>|" followed by ARGV[4]) and appends them to a reply.
local function finish(reply)
  save()
  for _, change in ipairs(T) do
    if channel ~= '' then
      local message = table.concat({ str(change[5]), change[1], change[2], change[3], str(change[4]), str(change[6]), messageTail }, '|')
      redis.call('PUBLISH', channel, message)
    end
    for _, value in ipairs(change) do
      reply[#reply + 1] = value
    end
  end
  return reply
end

load()

local operation = ARGV[5]

local function answer()
  return finish({ C.g, C.st })
end

if operation == 'inspect' then
  elapsed()
  if S.kind == 'timeWindow' then
    advance(now)
  end
  local retryAfter = -1
  if C.st == 'open' then
    retryAfter = math.max(0, C.ou - now)
  elseif C.st == 'half-open' and C.pa >= S.permitted then
    retryAfter = math.max(0, C.since + S.maxWait - now)
  end
  return finish({ C.st, C.g, C.c, C.f, C.s, C.op, retryAfter })
end

if operation == 'isolate' then
  elapsed()
  if C.st ~= 'isolated' then
    transition('isolated', 'isolate', now)
  end
  C.iso = C.iso + 1
  isDirty = true
  return answer()
end

if operation == 'release-isolation' then
  if C.st == 'isolated' and C.g == tonumber(ARGV[6]) and C.iso > 0 then
    C.iso = C.iso - 1
    isDirty = true
    if C.iso == 0 then
      toClosed(now, 'isolation-released')
    end
  end
  return answer()
end

if operation == 'reset' then
  local wasClosed = C.st == 'closed'
  toClosed(now, 'reset')
  if wasClosed then
    T = {}
  end
  return answer()
end

if operation == 'snapshot' then
  save()
  local reply = { C.st, C.g, C.since, C.ou, C.op, C.iso, C.c, C.f, C.s, C.nx, C.he }
  local fields = {}
  if S.kind == 'countWindow' then
    for index = 0, S.n - 1 do
      fields[#fields + 1] = 'o' .. index
    end
  elseif S.kind == 'timeWindow' then
    for _, prefix in ipairs({ 'c', 'f', 's' }) do
      for index = 0, S.n - 1 do
        fields[#fields + 1] = prefix .. index
      end
    end
  end
  if #fields > 0 then
    local values
    if isWindowFresh then
      values = {}
      for index = 1, #fields do
        values[index] = 0
      end
    else
      values = hmgetMany(KEYS[2], fields)
    end
    for index = 1, #values do
      reply[#reply + 1] = values[index]
    end
  end
  return reply
end

if operation == 'restore' then
  local snapshot = cjson.decode(ARGV[7])
  local from = C.st
  C.st = snapshot.state
  C.g = math.max(C.g, snapshot.generation) + 1
  C.since = snapshot.sinceMs
  C.ou = snapshot.openUntilMs
  C.op = snapshot.consecutiveOpens
  C.iso = 0
  if C.st == 'isolated' then
    C.iso = math.max(1, snapshot.isolations)
  end
  C.pa, C.ps, C.pf, C.psl = 0, 0, 0, 0
  isDirty = true
  local window = snapshot.window
  freshWindow(now)
  if window.kind == 'consecutive' and S.kind == 'consecutive' then
    C.c = window.failures
    C.f = window.failures
  elseif window.kind == 'countWindow' and S.kind == 'countWindow' then
    local size = S.n
    if #window.outcomes == size and window.next < size and window.calls <= size then
      C.nx = window.next
      C.c = window.calls
      for age = 1, window.calls do
        local index = (window.next - age + size) % size
        local code = window.outcomes[index + 1] or 0
        setSlot('o' .. index, code)
        C.f = C.f + code % 2
        C.s = C.s + math.floor(code / 2)
      end
    end
  elseif window.kind == 'timeWindow' and S.kind == 'timeWindow' then
    local buckets = S.n
    if #window.bucketCalls == buckets and #window.bucketFailures == buckets and #window.bucketSlowCalls == buckets then
      C.he = window.headEpoch
      for index = 0, buckets - 1 do
        local calls = window.bucketCalls[index + 1]
        local failures = math.min(calls, window.bucketFailures[index + 1])
        local slowCalls = math.min(calls, window.bucketSlowCalls[index + 1])
        if calls > 0 then
          setSlot('c' .. index, calls)
          setSlot('f' .. index, failures)
          setSlot('s' .. index, slowCalls)
        end
        C.c = C.c + calls
        C.f = C.f + failures
        C.s = C.s + slowCalls
      end
    end
  end
  if from ~= C.st then
    local openUntil = -1
    if C.st == 'open' then
      openUntil = C.ou
    end
    T[#T + 1] = { from, C.st, 'restore', now, C.g, openUntil }
  end
  return answer()
end

return redis.error_reply('circuit-breaker/control: unknown operation ' .. tostring(operation))
