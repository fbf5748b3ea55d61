-- lib/rate-limiter-leaky-bucket.lua
-- Purpose: the leaky bucket's step (docs/algorithms.md, "Leaky bucket"), shared by
--   rate-limiter/acquire and rate-limiter/acquire-leaky-bucket; pasted after
--   lib/rate-limiter-instant.lua.
-- State "<free>:<rem>": when the bucket is empty, free + rem / P ms.

-- Queues `need` scaled units behind the backlog when the backlog is at most Q and the caller's
-- slot at most maxDelay ms away. Returns the backlog (scaled), then the state after, or nil when
-- denied.
local function leakyBucketTake(free, rem, need, Q, P, maxDelay)
  local backlog = scaledAhead(free, rem, P)
  if backlog > Q or ceildiv(backlog, P) > maxDelay then
    return backlog, nil, nil
  end
  local nextFree, nextRem = instantAfter(backlog + need, P)
  return backlog, nextFree, nextRem
end
