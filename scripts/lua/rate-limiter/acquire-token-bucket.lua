-- rate-limiter/acquire-token-bucket
--
-- Purpose: decides on one request, or on several in order (a batch), against one token-bucket limit of
-- one rate-limiter key, in one atomic step: the common call, lean. rate-limiter/acquire decides the
-- same (same lib/rate-limiter-token-bucket.lua) for several limits, and reports every field; here
-- Redis replies with the one number the client needs to compute them with the TypeScript algorithm
-- (packages/local/src/rate-limiter/algorithms/token-bucket.ts) on the state it describes.
--
-- KEYS[1]: the state, a string "<tokens>:<at>" (tokens in scaled units, at in ms), as in
--   rate-limiter/acquire.
-- ARGV[1]: nowMs, integer ms since the Unix epoch to decide at; a negative value reads the server
--   clock: TIME seconds * 1000 + floor(microseconds / 1000).
-- ARGV[2]: capacity, the burst in cost units.
-- ARGV[3]: unitScaled, scaled units per cost unit.
-- ARGV[4]: msScaled, scaled units refilled per ms.
-- ARGV[5..]: each request's cost, in order, in cost units, an integer 1..capacity.
--
-- Reply: for one request one integer, t = the tokens in the bucket at nowMs before the request
--   (scaled units): t when the request is allowed, -1 - t when it is denied. Its decision is the
--   TypeScript token bucket's on the state { scaledTokens: t, refilledAtMs: 0 } at nowMs 0. For
--   several, an array of those integers, one per request in order, each on the state the requests
--   before it left (as if they had come one by one at nowMs).
--
-- Invariants: as in rate-limiter/acquire: integers below 2^53 computed with + - *, floor/ceil of a
--   quotient and comparisons; a denied request changes nothing; the key written gets a TTL that
--   ends when the bucket is full again (5 s more with an explicit nowMs), so an idle limiter leaves
--   no key and a stale state decides as an absent one.

--#include lib/rate-limiter-state.lua
--#include lib/rate-limiter-lean.lua
--#include lib/rate-limiter-token-bucket.lua

local key = KEYS[1]
local U = tonumber(ARGV[3])
local P = tonumber(ARGV[4])
local C = tonumber(ARGV[2]) * U
local tokens, at = loadState(key)
if tokens ~= nil and now >= tokenBucketExpiresAt(tokens, at, C, P) then
  tokens = nil
end
local isChanged = false
local levels = eachRequest(5, 1, function(i)
  local t, left, nextAt = tokenBucketTake(tokens, at, tonumber(ARGV[i]) * U, C, P)
  if left == nil then
    return -1 - t
  end
  tokens, at, isChanged = left, nextAt, true
  return t
end)
if isChanged then
  saveState(key, tokenBucketExpiresAt(tokens, at, C, P), tokens, at)
end
return levelsReply(levels)
