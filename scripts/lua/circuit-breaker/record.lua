-- circuit-breaker/record
--
-- Purpose: records how an admitted call ended, in one atomic step, with record(outcome, admission)
-- of docs/algorithms.md ("Circuit breaker"), as
-- packages/local/src/circuit-breaker/circuit-breaker-algorithm.ts computes it: the outcome enters
-- the window, a threshold opens the circuit, half-open probes close or re-open it. An outcome
-- admitted in an older generation changes nothing. Publishes the transitions it makes.
--
-- KEYS[1]: the circuit, a hash (fields: see circuit-breaker/admit).
-- KEYS[2]: the window's slots, a hash (see circuit-breaker/admit). Same hash tag as KEYS[1].
-- ARGV[1]: nowMs, integer ms since the Unix epoch; a negative value reads the server clock:
--   TIME seconds * 1000 + floor(microseconds / 1000).
-- ARGV[2]: ttlMs, how long an idle circuit is kept (more while open: until the open time ends).
-- ARGV[3]: the pub/sub channel for transitions, or '' to publish nothing.
-- ARGV[4]: what ends every message on the channel (see circuit-breaker/admit).
-- ARGV[5]: the outcome: 'success', 'failure' or 'ignored'.
-- ARGV[6]: the call's duration in ms (0 for 'ignored').
-- ARGV[7]: the admission's allowed (1 or 0).
-- ARGV[8]: the admission's probe (1 or 0).
-- ARGV[9]: the admission's generation.
-- ARGV[10..]: the settings (see circuit-breaker/admit).
--
-- Reply: an array: generation and state after the step, then six values per transition made:
--   from, to, reason, atMs, generation, openUntilMs (-1 unless to = open).
--
-- Invariants: as circuit-breaker/admit. A stale, refused or ignored call of a closed circuit
--   writes nothing; a probe counts only in the half-open generation that admitted it.

local SETTINGS = 10
redis.replicate_commands()

--#include lib/circuit-breaker-core.lua

load()

local outcome = ARGV[5]
local durationMs = tonumber(ARGV[6])
local isAllowed = ARGV[7] == '1'
local isProbe = ARGV[8] == '1'
local admittedGeneration = tonumber(ARGV[9])

local code = 0
if outcome == 'failure' then
  code = 1
end
if outcome ~= 'ignored' and S.slowCallRate ~= nil and durationMs >= S.slowCallDurationMs then
  code = code + 2
end

local function answer()
  return finish({ C.g, C.st })
end

if C.st == 'closed' then
  if admittedGeneration ~= C.g or not isAllowed or outcome == 'ignored' then
    return answer()
  end
  recordInWindow(code, now)
  if not S.isMetricsOnly then
    local reason = threshold(C.c, C.f, C.s, S.minimumCalls, S.failureCount)
    if reason ~= nil then
      toOpen(now, reason)
    end
  end
  return answer()
end

elapsed()
if admittedGeneration ~= C.g or C.st ~= 'half-open' or not isProbe then
  return answer()
end
isDirty = true
if outcome == 'ignored' then
  C.pa = math.max(C.ps + C.pf, C.pa - 1)
  return answer()
end
if code % 2 == 1 then
  C.pf = C.pf + 1
else
  C.ps = C.ps + 1
end
if code >= 2 then
  C.psl = C.psl + 1
end
local permitted = S.permitted
if S.kind == 'consecutive' then
  if C.pf > 0 then
    toOpen(now, 'probe-failed')
  elseif C.ps >= permitted then
    toClosed(now, 'probes-succeeded')
  end
  return answer()
end
local settled = C.ps + C.pf
if settled >= permitted then
  local failureCount = S.failureCount
  if failureCount ~= nil then
    failureCount = math.min(failureCount, permitted)
  end
  local reason = threshold(settled, C.pf, C.psl, permitted, failureCount)
  if reason ~= nil then
    toOpen(now, reason)
  else
    toClosed(now, 'probes-succeeded')
  end
end
return answer()
