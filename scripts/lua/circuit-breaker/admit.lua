-- circuit-breaker/admit
--
-- Purpose: decides whether a call (or the breaker's health check) may run now, in one atomic step,
-- with admit(purpose) of docs/algorithms.md ("Circuit breaker"), as
-- packages/local/src/circuit-breaker/circuit-breaker-algorithm.ts computes it. Takes a half-open
-- probe slot for the whole cluster: at most permittedHalfOpenCalls probes per half-open generation
-- across every instance. Publishes the transitions it makes.
--
-- KEYS[1]: the circuit, a hash: st (state), g (generation), since, ou (openUntil), op (opens in a
--   row), pa, ps, pf, psl (probes admitted, succeeded, failed, slow), iso (isolations), c, f, s
--   (window totals), nx (count window: next slot), he (time window: head epoch), w (window shape).
-- KEYS[2]: the window's slots, a hash: o<i> (count window outcome codes) or c<i>, f<i>, s<i>
--   (time window bucket counts), i from 0; an absent field is 0. Same hash tag as KEYS[1].
-- ARGV[1]: nowMs, integer ms since the Unix epoch; a negative value reads the server clock:
--   TIME seconds * 1000 + floor(microseconds / 1000).
-- ARGV[2]: ttlMs, how long an idle circuit is kept (more while open: until the open time ends).
-- ARGV[3]: the pub/sub channel for transitions, or '' to publish nothing.
-- ARGV[4]: what ends every message on the channel: "<instance id>|<circuit key>" (the key last,
--   since it may hold any character). A message is "<generation>|<from>|<to>|<reason>|<atMs>|
--   <openUntilMs or -1>|" followed by it.
-- ARGV[5]: purpose: 'call' or 'health-check'.
-- ARGV[6..]: the settings: kind ('consecutive', 'countWindow', 'timeWindow'), n (count window
--   size or time window buckets, 0 for consecutive), bucketMs (1 unless time window), failureRate
--   (a double, or ''), failureCount (or ''), slowCallRate (a double, or ''), slowCallDurationMs,
--   minimumCalls, permittedHalfOpenCalls, maxHalfOpenWaitMs, usesHealthCheck (1 or 0),
--   isMetricsOnly (1 or 0), then the open durations in ms (at least one).
--
-- Reply: an array: allowed (1 or 0), probe (1 or 0), generation, state (after the step),
--   retryAfterMs (-1 for none), then six values per transition made: from, to, reason, atMs,
--   generation, openUntilMs (-1 unless to = open).
--
-- Invariants: every count and time is an integer below 2^53 and every rate the correctly rounded
--   double a / b, so Lua and TypeScript decide alike. A closed circuit is admitted without any
--   write (but for its creation at first use). Every transition moves the generation up by one; a
--   probe slot belongs to the generation that granted it. Every key written gets a TTL.

local SETTINGS = 6
redis.replicate_commands()

--#include lib/circuit-breaker-core.lua

load()

local purpose = ARGV[5]
local isHealthCheck = purpose == 'health-check'

local function answer(allowed, probe, retryAfter)
  return finish({ allowed, probe, C.g, C.st, retryAfter })
end

if C.st == 'closed' then
  if isHealthCheck then
    return answer(0, 0, -1)
  end
  return answer(1, 0, -1)
end
if C.st == 'isolated' then
  return answer(0, 0, -1)
end
elapsed()
if C.st == 'open' then
  local remaining = C.ou - now
  if remaining > 0 or (S.usesHealthCheck and not isHealthCheck) then
    return answer(0, 0, math.max(0, remaining))
  end
  transition('half-open', 'open-elapsed', now)
end
if (isHealthCheck or not S.usesHealthCheck) and C.pa < S.permitted then
  C.pa = C.pa + 1
  isDirty = true
  return answer(1, 1, -1)
end
return answer(0, 0, math.max(0, C.since + S.maxWait - now))
