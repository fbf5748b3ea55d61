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

--#include lib/circuit-breaker-core.lua

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
