-- clock/server-time
--
-- Purpose: the current time of the Redis server that owns KEYS[1], in milliseconds since the Unix
-- epoch. Every hyx script reads time the same way (TIME on the node that runs it), so this is the
-- clock a policy's decisions use; a client compares it with its own to see the skew.
--
-- KEYS[1]: any key of the policy instance (hyx:{<name>:<key>}:<part>). It only routes the call to
--   the node that owns the key's slot (on a Cluster each node has its own clock). Never read or
--   written.
-- ARGV: none.
--
-- Reply: integer, milliseconds since the Unix epoch (TIME seconds * 1000 + microseconds / 1000,
--   rounded down).
--
-- Invariants: read-only: no key is read, written or expired.

-- Redis < 7 replicates scripts verbatim and then refuses non-deterministic commands such as TIME
-- before a write; effect replication (the only mode from Redis 7 on) lifts that. Harmless here.
redis.replicate_commands()

local time = redis.call('TIME')
return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
