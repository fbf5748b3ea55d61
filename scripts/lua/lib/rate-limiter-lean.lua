-- lib/rate-limiter-lean.lua
-- Purpose: the request loop and the reply every rate-limiter/acquire-<algorithm> (lean) script
--   shares; pasted after lib/rate-limiter-state.lua.
-- The requests start at ARGV[first], `width` arguments each (its cost, and maxDelayMs for the
--   leaky bucket).

-- Calls decide(i) for each request in order, i being the ARGV index of its first argument; decide
-- returns the request's signed level (>= 0 allowed, -1 - level denied) and moves the script's
-- state on when it admits. Returns the levels in request order.
local function eachRequest(first, width, decide)
  local levels = {}
  for i = first, #ARGV - width + 1, width do
    levels[#levels + 1] = decide(i)
  end
  return levels
end

-- The reply of the token bucket, GCRA and leaky bucket: one integer for one request (no table),
-- else the levels in request order.
local function levelsReply(levels)
  if #levels == 1 then
    return levels[1]
  end
  return levels
end
