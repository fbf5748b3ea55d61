-- lib/rate-limiter-gcra.lua
-- Purpose: the GCRA step (docs/algorithms.md, "GCRA"), shared by rate-limiter/acquire and
--   rate-limiter/acquire-gcra; pasted after lib/rate-limiter-instant.lua.
-- State "<tat>:<rem>": the theoretical arrival time, tat + rem / P ms.

-- Pushes the TAT `need` scaled units further when it then stays at most C ahead of now. Returns
-- how far the TAT was ahead of now (scaled), then the state after, or nil when denied.
local function gcraTake(tat, rem, need, C, P)
  local ahead = scaledAhead(tat, rem, P)
  if ahead + need > C then
    return ahead, nil, nil
  end
  local nextTat, nextRem = instantAfter(ahead + need, P)
  return ahead, nextTat, nextRem
end
