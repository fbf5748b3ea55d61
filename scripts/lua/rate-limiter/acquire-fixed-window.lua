-- rate-limiter/acquire-fixed-window
--
-- Purpose: decides on one request, or on several in order (a batch), against one fixed-window
-- limit of one rate-limiter key, in one atomic step: the common call, lean. rate-limiter/acquire
-- decides the same (same lib/rate-limiter-fixed-window.lua) for several limits, and reports every
-- field; here
-- Redis replies with the two numbers the client needs to compute them with the TypeScript algorithm
-- (packages/local/src/rate-limiter/algorithms/fixed-window.ts) on the state they describe.
--
-- KEYS[1]: the state, a string "<start>:<count>" (the window's start in ms, the cost admitted in
--   it), as in rate-limiter/acquire.
-- ARGV[1]: nowMs, integer ms since the Unix epoch to decide at; a negative value reads the server
--   clock: TIME seconds * 1000 + floor(microseconds / 1000).
-- ARGV[2]: limit, the cost units each window admits.
-- ARGV[3]: intervalMs, the window's length (ms).
-- ARGV[4..]: each request's cost, in order, in cost units, an integer 1..limit.
--
-- Reply: an array of one integer per request and then one more: for each request n = the cost the
--   window holding nowMs had admitted before it (n when it is allowed, -1 - n when it is denied;
--   the requests before it in the batch counted), and last elapsedMs = nowMs minus that window's
--   start. A request's decision is the TypeScript fixed window's on the state
--   { windowStartMs: 0, count: n } at nowMs = elapsedMs.
--
-- Invariants: as in rate-limiter/acquire: integers below 2^53 computed with + - *, floor/ceil of a
--   quotient and comparisons; a denied request changes nothing; the key written gets a TTL that
--   ends with its window (5 s more with an explicit nowMs), so an idle limiter leaves no key and a
--   stale state decides as an absent one.

--#include lib/rate-limiter-state.lua
--#include lib/rate-limiter-lean.lua
--#include lib/rate-limiter-fixed-window.lua

local key = KEYS[1]
local limit = tonumber(ARGV[2])
local W = tonumber(ARGV[3])
local start, count = loadState(key)
if start ~= nil and now >= fixedWindowExpiresAt(start, count, W) then
  start = nil
end
local isChanged = false
local current = math.floor(now / W) * W
local reply = eachRequest(4, 1, function(i)
  local window, n, counted = fixedWindowTake(start, count, tonumber(ARGV[i]), limit, W)
  current = window
  if counted == nil then
    return -1 - n
  end
  start, count, isChanged = window, counted, true
  return n
end)
if isChanged then
  saveState(key, fixedWindowExpiresAt(start, count, W), start, count)
end
reply[#reply + 1] = now - current
return reply
