-- rate-limiter/acquire-leaky-bucket
--
-- Purpose: decides on one request, or on several in order (a batch), against the leaky bucket of
-- one rate-limiter key, in one atomic step: the common call, lean. rate-limiter/acquire decides the
-- same (same lib/rate-limiter-leaky-bucket.lua) and reports every field; here Redis
-- replies with the one number the client needs to compute them with the TypeScript algorithm
-- (packages/local/src/rate-limiter/algorithms/leaky-bucket.ts) on the state it describes.
--
-- KEYS[1]: the state, a string "<free>:<rem>" (the bucket is empty from free + rem / msScaled
--   ms), as in rate-limiter/acquire.
-- ARGV[1]: nowMs, integer ms since the Unix epoch to decide at; a negative value reads the server
--   clock: TIME seconds * 1000 + floor(microseconds / 1000).
-- ARGV[2]: capacity, the queue size in cost units.
-- ARGV[3]: unitScaled, scaled units per cost unit.
-- ARGV[4]: msScaled, scaled units that leak per ms.
-- ARGV[5..]: for each request, in order, two integers: its cost in cost units (1..limit), and its
--   maxDelayMs, the longest the admitted caller waits for its slot (ms; 2^53 - 1 for no limit).
--
-- Reply: for one request one integer, b = the backlog queued ahead at nowMs before the request
--   (scaled units): b when the request is allowed, -1 - b when it is denied. Its decision is the
--   TypeScript leaky bucket's on the state { nextFreeMs: floor(b / msScaled), nextFreeRemainder:
--   b mod msScaled } at nowMs 0 with the same maxDelayMs. For several, an array of those integers,
--   one per request in order, each on the state the requests before it left.
--
-- Invariants: as in rate-limiter/acquire: integers below 2^53 computed with + - *, floor/ceil of a
--   quotient and comparisons; a denied request changes nothing; the key written gets a TTL that
--   ends when the bucket is empty (5 s more with an explicit nowMs), so an idle limiter leaves no
--   key and a stale state decides as an absent one.

--#include lib/rate-limiter-state.lua
--#include lib/rate-limiter-lean.lua
--#include lib/rate-limiter-instant.lua
--#include lib/rate-limiter-leaky-bucket.lua

local key = KEYS[1]
local U = tonumber(ARGV[3])
local P = tonumber(ARGV[4])
local Q = tonumber(ARGV[2]) * U
local free, rem = loadState(key)
if free ~= nil and now >= instantExpiresAt(free, rem) then
  free = nil
end
local isChanged = false
local levels = eachRequest(5, 2, function(i)
  local backlog, nextFree, nextRem =
    leakyBucketTake(free, rem, tonumber(ARGV[i]) * U, Q, P, tonumber(ARGV[i + 1]))
  if nextFree == nil then
    return -1 - backlog
  end
  free, rem, isChanged = nextFree, nextRem, true
  return backlog
end)
if isChanged then
  saveState(key, instantExpiresAt(free, rem), free, rem)
end
return levelsReply(levels)
