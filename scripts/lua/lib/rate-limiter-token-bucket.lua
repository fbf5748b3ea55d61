-- lib/rate-limiter-token-bucket.lua
-- Purpose: the token bucket's step (docs/algorithms.md, "Token bucket"), shared by
--   rate-limiter/acquire and rate-limiter/acquire-token-bucket; pasted after
--   lib/rate-limiter-state.lua, whose `now` and ceildiv it reads.
-- State "<tokens>:<at>": the tokens in scaled units at `at` (ms), refilled by P scaled units per
--   ms up to C = capacity * unitScaled.

-- From when the state decides as no state: the bucket is full again.
local function tokenBucketExpiresAt(tokens, at, C, P)
  return at + ceildiv(C - tokens, P)
end

-- Takes `need` scaled units at `now` from the state (tokens, at), or from a full bucket when
-- tokens is nil. Returns the tokens there were, then the state after, or nil when too few.
local function tokenBucketTake(tokens, at, need, C, P)
  local t = C
  if tokens ~= nil then
    local elapsed = now - at
    if elapsed <= 0 then
      t = tokens
    elseif elapsed < ceildiv(C - tokens, P) then
      t = tokens + elapsed * P
    end
  end
  if t < need then
    return t, nil, nil
  end
  -- A clock that stepped back never moves `at` back: that would refill twice.
  if tokens == nil or at < now then
    at = now
  end
  return t, t - need, at
end
