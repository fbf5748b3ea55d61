-- lib/rate-limiter-fixed-window.lua
-- Purpose: the fixed window's step (docs/algorithms.md, "Fixed window"), shared by
--   rate-limiter/acquire, rate-limiter/acquire-fixed-window and rate-limiter/refund; pasted after
--   lib/rate-limiter-state.lua, whose `now` it reads.
-- State "<start>:<count>": the cost admitted in the window of W ms that starts at `start` (windows
--   are aligned to the epoch).

-- From when the state decides as no state: its window is over, or it counts nothing.
local function fixedWindowExpiresAt(start, count, W)
  if count > 0 then
    return start + W
  end
  return start
end

-- The start of the window holding now, and the count the state holds in it.
local function fixedWindowAt(start, count, W)
  local current = math.floor(now / W) * W
  if start == current then
    return current, count
  end
  return current, 0
end

-- Counts `cost` in the window holding now when it then holds at most `limit`. Returns that
-- window's start, the count it held, then the count after, or nil when denied.
local function fixedWindowTake(start, count, cost, limit, W)
  local current, n = fixedWindowAt(start, count, W)
  if n + cost > limit then
    return current, n, nil
  end
  return current, n, n + cost
end
