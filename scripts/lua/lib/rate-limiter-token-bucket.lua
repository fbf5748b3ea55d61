-- lib/rate-limiter-token-bucket.lua
-- Purpose: the token bucket's step (docs/algorithms.md, "Token bucket"), shared by
--   rate-limiter/acquire, rate-limiter/acquire-token-bucket and rate-limiter/refund; pasted after
--   lib/rate-limiter-state.lua, whose `now` and ceildiv it reads.
-- State "<tokens>:<at>": the tokens in scaled units at `at` (ms), refilled by P scaled units per
--   ms up to C = capacity * unitScaled.

-- From when the state decides as no state: the bucket is full again.
local function tokenBucketExpiresAt(tokens, at, C, P)
  return at + ceildiv(C - tokens, P)
end

-- The tokens at `now` of the state (tokens, at), refilled and capped at C; C when tokens is nil.
local function tokenBucketLevel(tokens, at, C, P)
  if tokens == nil then
    return C
  end
  local elapsed = now - at
  if elapsed <= 0 then
    return tokens
  end
  if elapsed < ceildiv(C - tokens, P) then
    return tokens + elapsed * P
  end
  return C
end

-- Takes `need` scaled units at `now` from the state (tokens, at), or from a full bucket when
-- tokens is nil. Returns the tokens there were, then the state after, or nil when too few.
local function tokenBucketTake(tokens, at, need, C, P)
  local t = tokenBucketLevel(tokens, at, C, P)
  if t < need then
    return t, nil, nil
  end
  -- A clock that stepped back never moves `at` back: that would refill twice.
  if tokens == nil or at < now then
    at = now
  end
  return t, t - need, at
end
