/**
 * A value a Lua script receives in `ARGV`: Redis turns numbers into their decimal text.
 *
 * @example
 * ```ts
 * import type { LuaArgument } from '@hyx/distributed';
 * const args: LuaArgument[] = [10, 1_000, 'user-1'];
 * ```
 */
export type LuaArgument = string | number;

/**
 * The narrow slice of a Redis client that hyx calls: EVALSHA, and EVAL when the server answers
 * NOSCRIPT. ioredis `Redis` and `Cluster` satisfy it as they are; hyx never calls `defineCommand`
 * or changes the client in any other way, so the same client can serve the rest of the app.
 *
 * On a `Cluster`, ioredis routes both commands by their keys, so the EVAL that follows a NOSCRIPT
 * reaches the node that owns the keys, the node that answered NOSCRIPT.
 *
 * @example
 * ```ts
 * import { Cluster, Redis } from 'ioredis';
 * import type { RedisLike } from '@hyx/distributed';
 * const single: RedisLike = new Redis({ host: '127.0.0.1', port: 6380, lazyConnect: true });
 * const cluster: RedisLike = new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true });
 * ```
 */
export interface RedisLike {
  /** `EVALSHA sha1 numkeys key... arg...`. Rejects with a `NOSCRIPT ...` error when the script is not cached. */
  evalsha(sha1: string, numkeys: number, ...keysAndArgs: LuaArgument[]): Promise<unknown>;
  /** `EVAL script numkeys key... arg...`, which also caches the script on the node that runs it. */
  eval(script: string, numkeys: number, ...keysAndArgs: LuaArgument[]): Promise<unknown>;
}
