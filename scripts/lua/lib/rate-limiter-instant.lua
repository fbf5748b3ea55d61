-- lib/rate-limiter-instant.lua
-- Purpose: an instant kept as whole ms and a remainder in scaled units (whole + rem / P ms), the
--   state of GCRA (the TAT) and of the leaky bucket (when the bucket is empty); pasted before
--   lib/rate-limiter-gcra.lua or lib/rate-limiter-leaky-bucket.lua (and into rate-limiter/refund),
--   after lib/rate-limiter-state.lua, whose `now` it reads.

-- How far the instant is ahead of now, in scaled units: 0 when it is not ahead, or nil.
local function scaledAhead(whole, rem, P)
  if whole == nil or whole < now then
    return 0
  end
  return (whole - now) * P + rem
end

-- The instant `ahead` scaled units after now: whole ms and remainder.
local function instantAfter(ahead, P)
  local whole = math.floor(ahead / P)
  return now + whole, ahead - whole * P
end

-- From when the instant is in the past: its state decides as no state.
local function instantExpiresAt(whole, rem)
  if rem > 0 then
    return whole + 1
  end
  return whole
end
