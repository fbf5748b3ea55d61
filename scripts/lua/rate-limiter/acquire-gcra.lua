-- rate-limiter/acquire-gcra
--
-- Purpose: decides on one request against one GCRA limit of one rate-limiter key, in one atomic
-- step: the common call, lean. rate-limiter/acquire decides the same (same
-- lib/rate-limiter-gcra.lua) for several requests or limits, and reports every field; here Redis
-- replies with the one number the client needs to compute them with the TypeScript algorithm
-- (packages/local/src/rate-limiter/algorithms/gcra.ts) on the state it describes.
--
-- KEYS[1]: the state, a string "<tat>:<rem>" (the theoretical arrival time tat + rem / msScaled
--   ms), as in rate-limiter/acquire.
-- ARGV[1]: nowMs, integer ms since the Unix epoch to decide at; a negative value reads the server
--   clock: TIME seconds * 1000 + floor(microseconds / 1000).
-- ARGV[2]: cost, in cost units, an integer 1..capacity.
-- ARGV[3]: capacity, the burst in cost units.
-- ARGV[4]: unitScaled, scaled units per cost unit.
-- ARGV[5]: msScaled, scaled units per ms.
--
-- Reply: one integer, a = how far the TAT was ahead of nowMs before the request (scaled units): a
--   when the request is allowed, -1 - a when it is denied. Its decision is the TypeScript GCRA's
--   on the state { tatMs: floor(a / msScaled), tatRemainder: a mod msScaled } at nowMs 0.
--
-- Invariants: as in rate-limiter/acquire: integers below 2^53 computed with + - *, floor/ceil of a
--   quotient and comparisons; a denied request changes nothing; the key written gets a TTL that
--   ends when the TAT is past (5 s more with an explicit nowMs), so an idle limiter leaves no key
--   and a stale state decides as an absent one.

--#include lib/rate-limiter-state.lua
--#include lib/rate-limiter-instant.lua
--#include lib/rate-limiter-gcra.lua

local key = KEYS[1]
local U = tonumber(ARGV[4])
local P = tonumber(ARGV[5])
local tat, rem = loadState(key)
if tat ~= nil and now >= instantExpiresAt(tat, rem) then
  tat = nil
end
local ahead, nextTat, nextRem = gcraTake(tat, rem, tonumber(ARGV[2]) * U, tonumber(ARGV[3]) * U, P)
if nextTat == nil then
  return -1 - ahead
end
saveState(key, instantExpiresAt(nextTat, nextRem), nextTat, nextRem)
return ahead
