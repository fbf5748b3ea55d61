-- lib/rate-limiter-state.lua
-- Purpose: what every rate-limiter/acquire* script and rate-limiter/refund start with: the
--   decision time `now`, the TTL grace, integer helpers, and the load and save of a one-string
--   state. Redis scripts cannot import modules, so tools/embed-lua.js pastes this file where a
--   script says `--#include lib/rate-limiter-state.lua`, before the algorithm's own
--   lib/rate-limiter-*.lua.
-- It reads ARGV[1] (nowMs; negative: the server's TIME) and defines now, grace, str, ceildiv,
--   floordiv, loadState and saveState.

redis.replicate_commands()

-- Numbers go to Redis as text; Lua's default %.14g would round values above 10^14.
local function str(x)
  return string.format('%.0f', x)
end

local function ceildiv(a, b)
  return math.ceil(a / b)
end

local function floordiv(a, b)
  return math.floor(a / b)
end

local now = tonumber(ARGV[1])
-- TTLs run on the server's clock. With the server's time they end exactly when the state goes
-- idle; with a caller's nowMs (tests) the two clocks differ, so keys get a grace period: a key that
-- expired early would forget admitted requests, one that lives longer decides as an absent one.
local grace = 5000
if now < 0 then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  grace = 0
end

-- A state is one string of two or three integers joined by ':', written with SET ... PX: one
-- command where a hash needed HSET and PEXPIRE, and every admission writes. Returns its fields
-- (a third 0 for a two-field state), or nothing when there is no state.
local function loadState(key)
  local value = redis.call('GET', key)
  if not value then
    return nil
  end
  local a, b, c = string.match(value, '^([^:]*):([^:]*):?([^:]*)$')
  return tonumber(a) or 0, tonumber(b) or 0, tonumber(c) or 0
end

-- Writes the fields a, b (and c when given) with a TTL that ends at expiresAt (ms, plus the grace),
-- or deletes the key when the state is already idle.
local function saveState(key, expiresAt, a, b, c)
  local ttl = expiresAt - now
  if ttl <= 0 then
    redis.call('DEL', key)
    return
  end
  -- One string.format per value: each call and each concatenation makes a Lua string.
  local value
  if c == nil then
    value = string.format('%.0f:%.0f', a, b)
  else
    value = string.format('%.0f:%.0f:%.0f', a, b, c)
  end
  -- A Lua number reaches Redis as exact integer text (%.17g, Redis 6.2 and 7): no string.format.
  redis.call('SET', key, value, 'PX', ttl + grace)
end
