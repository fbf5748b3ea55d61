-- rate-limiter/acquire-leaky-bucket
--
-- Purpose: decides on one request against the leaky bucket of one rate-limiter key, in one atomic
-- step: the common call, lean. rate-limiter/acquire decides the same (same
-- lib/rate-limiter-leaky-bucket.lua) for several requests, and reports every field; here Redis
-- replies with the one number the client needs to compute them with the TypeScript algorithm
-- (packages/local/src/rate-limiter/algorithms/leaky-bucket.ts) on the state it describes.
--
-- KEYS[1]: the state, a string "<free>:<rem>" (the bucket is empty from free + rem / msScaled
--   ms), as in rate-limiter/acquire.
-- ARGV[1]: nowMs, integer ms since the Unix epoch to decide at; a negative value reads the server
--   clock: TIME seconds * 1000 + floor(microseconds / 1000).
-- ARGV[2]: cost, in cost units, an integer 1..limit.
-- ARGV[3]: maxDelayMs, the longest an admitted caller waits for its slot (ms; 2^53 - 1 for no
--   limit).
-- ARGV[4]: capacity, the queue size in cost units.
-- ARGV[5]: unitScaled, scaled units per cost unit.
-- ARGV[6]: msScaled, scaled units that leak per ms.
--
-- Reply: one integer, b = the backlog queued ahead at nowMs before the request (scaled units): b
--   when the request is allowed, -1 - b when it is denied. Its decision is the TypeScript leaky
--   bucket's on the state { nextFreeMs: floor(b / msScaled), nextFreeRemainder: b mod msScaled } at
--   nowMs 0 with the same maxDelayMs.
--
-- Invariants: as in rate-limiter/acquire: integers below 2^53 computed with + - *, floor/ceil of a
--   quotient and comparisons; a denied request changes nothing; the key written gets a TTL that
--   ends when the bucket is empty (5 s more with an explicit nowMs), so an idle limiter leaves no
--   key and a stale state decides as an absent one.

--#include lib/rate-limiter-state.lua
--#include lib/rate-limiter-instant.lua
--#include lib/rate-limiter-leaky-bucket.lua

local key = KEYS[1]
local U = tonumber(ARGV[5])
local free, rem = loadState(key)
if free ~= nil and now >= instantExpiresAt(free, rem) then
  free = nil
end
local backlog, nextFree, nextRem =
  leakyBucketTake(free, rem, tonumber(ARGV[2]) * U, tonumber(ARGV[4]) * U, tonumber(ARGV[6]), tonumber(ARGV[3]))
if nextFree == nil then
  return -1 - backlog
end
saveState(key, instantExpiresAt(nextFree, nextRem), nextFree, nextRem)
return backlog
