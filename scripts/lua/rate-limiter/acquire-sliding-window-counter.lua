-- rate-limiter/acquire-sliding-window-counter
--
-- Purpose: decides on one request, or on several in order (a batch), against one
-- sliding-window-counter limit of one rate-limiter key, in one atomic step: the common call, lean.
-- rate-limiter/acquire decides the same (same lib/rate-limiter-sliding-window-counter.lua) for
-- several limits, and reports every
-- field; here Redis replies with the three numbers the client needs to compute them with the
-- TypeScript algorithm (packages/local/src/rate-limiter/algorithms/sliding-window-counter.ts) on
-- the state they describe.
--
-- KEYS[1]: the state, a string "<start>:<count>:<prev>" (the current window's start in ms, the
--   cost admitted in it and in the window before), as in rate-limiter/acquire.
-- ARGV[1]: nowMs, integer ms since the Unix epoch to decide at; a negative value reads the server
--   clock: TIME seconds * 1000 + floor(microseconds / 1000).
-- ARGV[2]: limit, the cost units the sliding window admits.
-- ARGV[3]: intervalMs, the window's length (ms).
-- ARGV[4..]: each request's cost, in order, in cost units, an integer 1..limit.
--
-- Reply: an array of one integer per request and then two more: for each request n = the cost the
--   window holding nowMs had admitted before it (n when it is allowed, -1 - n when it is denied;
--   the requests before it in the batch counted), then p = the cost the window before it admitted,
--   and last elapsedMs = nowMs minus the start of the window holding nowMs. A request's decision
--   is the TypeScript sliding window counter's on the state
--   { windowStartMs: 0, count: n, previousCount: p } at nowMs = elapsedMs.
--
-- Invariants: as in rate-limiter/acquire: integers below 2^53 computed with + - *, floor/ceil of a
--   quotient and comparisons; a denied request changes nothing; the key written gets a TTL that
--   ends when both its windows have left the sliding window (5 s more with an explicit nowMs), so
--   an idle limiter leaves no key and a stale state decides as an absent one.

--#include lib/rate-limiter-state.lua
--#include lib/rate-limiter-lean.lua
--#include lib/rate-limiter-sliding-window-counter.lua

local key = KEYS[1]
local limit = tonumber(ARGV[2])
local W = tonumber(ARGV[3])
local start, count, prev = loadState(key)
if start ~= nil and now >= slidingWindowCounterExpiresAt(start, count, prev, W) then
  start = nil
end
local isChanged = false
local current, previous = math.floor(now / W) * W, 0
local reply = eachRequest(4, 1, function(i)
  local window, n, p, counted = slidingWindowCounterTake(start, count, prev, tonumber(ARGV[i]), limit, W)
  current, previous = window, p
  if counted == nil then
    return -1 - n
  end
  start, count, prev, isChanged = window, counted, p, true
  return n
end)
if isChanged then
  saveState(key, slidingWindowCounterExpiresAt(start, count, prev, W), start, count, prev)
end
reply[#reply + 1] = previous
reply[#reply + 1] = now - current
return reply
