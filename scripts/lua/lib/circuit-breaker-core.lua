-- lib/circuit-breaker-core.lua
-- Purpose: the circuit breaker's algorithm (settings, windows, state machine, load and save of
--   the circuit), shared by circuit-breaker/admit, circuit-breaker/record and
--   circuit-breaker/control. Redis scripts cannot import modules, so tools/embed-lua.js pastes
--   this file where a script says `--#include lib/circuit-breaker-core.lua`; this header and the
--   blank line after it are left out, and the embedded source (and its SHA1) is the expanded text.
-- It reads KEYS, ARGV, `now` and SETTINGS as the including script defines them.

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
