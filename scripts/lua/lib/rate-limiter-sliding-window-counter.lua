-- lib/rate-limiter-sliding-window-counter.lua
-- Purpose: the sliding window counter's step (docs/algorithms.md, "Sliding window counter"),
--   shared by rate-limiter/acquire, rate-limiter/acquire-sliding-window-counter and
--   rate-limiter/refund; pasted after lib/rate-limiter-state.lua, whose `now` it reads.
-- State "<start>:<count>:<prev>": the cost admitted in the window of W ms that starts at `start`,
--   and in the window before it.

-- From when the state decides as no state: both its windows have left the sliding window.
local function slidingWindowCounterExpiresAt(start, count, prev, W)
  if count > 0 then
    return start + 2 * W
  end
  if prev > 0 then
    return start + W
  end
  return start
end

-- The state rolled to the window holding now: that window's start, its count and the previous
-- window's count.
local function slidingWindowCounterAt(start, count, prev, W)
  local current = math.floor(now / W) * W
  if start == current then
    return current, count, prev
  end
  if start == current - W then
    return current, 0, count
  end
  return current, 0, 0
end

-- Counts `cost` in the window holding now when the previous window's count, weighted by its share
-- still in the sliding window, plus the current count then holds at most `limit` (all in cost
-- units x ms). Returns the current window's start, its count, the previous window's count, then
-- the count after, or nil when denied.
local function slidingWindowCounterTake(start, count, prev, cost, limit, W)
  local current, n, p = slidingWindowCounterAt(start, count, prev, W)
  if p * (W - (now - current)) + (n + cost) * W > limit * W then
    return current, n, p, nil
  end
  return current, n, p, n + cost
end
