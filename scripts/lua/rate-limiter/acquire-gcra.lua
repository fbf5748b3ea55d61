-- rate-limiter/acquire-gcra
--
-- Purpose: decides on one request, or on several in order (a batch), against one GCRA limit of one
-- rate-limiter key, in one atomic step: the common call, lean. rate-limiter/acquire decides the
-- same (same lib/rate-limiter-gcra.lua) for several limits, and reports every field; here Redis
-- replies with the one number the client needs to compute them with the TypeScript algorithm
-- (packages/local/src/rate-limiter/algorithms/gcra.ts) on the state it describes.
--
-- KEYS[1]: the state, a string "<tat>:<rem>" (the theoretical arrival time tat + rem / msScaled
--   ms), as in rate-limiter/acquire.
-- ARGV[1]: nowMs, integer ms since the Unix epoch to decide at; a negative value reads the server
--   clock: TIME seconds * 1000 + floor(microseconds / 1000).
-- ARGV[2]: capacity, the burst in cost units.
-- ARGV[3]: unitScaled, scaled units per cost unit.
-- ARGV[4]: msScaled, scaled units per ms.
-- ARGV[5..]: each request's cost, in order, in cost units, an integer 1..capacity.
--
-- Reply: for one request one integer, a = how far the TAT was ahead of nowMs before the request
--   (scaled units): a when the request is allowed, -1 - a when it is denied. Its decision is the
--   TypeScript GCRA's on the state { tatMs: floor(a / msScaled), tatRemainder: a mod msScaled } at
--   nowMs 0. For several, an array of those integers, one per request in order, each on the state
--   the requests before it left.
--
-- Invariants: as in rate-limiter/acquire: integers below 2^53 computed with + - *, floor/ceil of a
--   quotient and comparisons; a denied request changes nothing; the key written gets a TTL that
--   ends when the TAT is past (5 s more with an explicit nowMs), so an idle limiter leaves no key
--   and a stale state decides as an absent one.

--#include lib/rate-limiter-state.lua
--#include lib/rate-limiter-lean.lua
--#include lib/rate-limiter-instant.lua
--#include lib/rate-limiter-gcra.lua

local key = KEYS[1]
local U = tonumber(ARGV[3])
local P = tonumber(ARGV[4])
local C = tonumber(ARGV[2]) * U
local tat, rem = loadState(key)
if tat ~= nil and now >= instantExpiresAt(tat, rem) then
  tat = nil
end
local isChanged = false
local levels = eachRequest(5, 1, function(i)
  local ahead, nextTat, nextRem = gcraTake(tat, rem, tonumber(ARGV[i]) * U, C, P)
  if nextTat == nil then
    return -1 - ahead
  end
  tat, rem, isChanged = nextTat, nextRem, true
  return ahead
end)
if isChanged then
  saveState(key, instantExpiresAt(tat, rem), tat, rem)
end
return levelsReply(levels)
