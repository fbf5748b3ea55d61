import { LUA_SCRIPTS } from '../lua.generated.js';
import { integerReply } from '../lua-reply.js';
import { LuaScript } from '../lua-script.js';
import type { RedisLike } from '../redis-like.js';

const serverTimeScript = new LuaScript({
  ...LUA_SCRIPTS['clock/server-time'],
  decode: (reply) => integerReply(reply),
});

/**
 * The time, in milliseconds since the Unix epoch, of the Redis server that owns `routingKey`: the
 * clock every hyx script reads (each Cluster node has its own). Compare it with `Date.now()` to see
 * how far a host's clock is off; hyx's decisions never depend on the host's clock.
 *
 * @param client - an ioredis `Redis` or `Cluster`
 * @param routingKey - any key of the policy (from a `RedisKeyspace`); only routes the call
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisKeyspace, serverTimeMs } from '@hyx/distributed';
 * const keyspace = new RedisKeyspace({ pattern: 'rate-limiter', name: 'api', parts: ['tokens'] });
 * const redis = new Redis({ host: '127.0.0.1', port: 6380 });
 * const skewMs = Date.now() - (await serverTimeMs(redis, keyspace.keyFor('user-1', 'tokens')));
 * ```
 */
export async function serverTimeMs(client: RedisLike, routingKey: string): Promise<number> {
  return serverTimeScript.run(client, [routingKey], []);
}
