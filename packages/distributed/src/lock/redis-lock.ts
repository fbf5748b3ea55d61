import type { RedisLike } from '../redis-like.js';
import { LeaseLock } from './lease-lock.js';
import type { Lock } from './lock.js';
import { resolveLeaseSettings, type RedisLockOptions } from './redis-lock-options.js';

/**
 * A lock held as a lease in one Redis, or in one slot of a Redis Cluster (its keys share a hash
 * tag, so they live on one master). Each acquire, renew and release is one atomic script and one
 * round-trip; the lease expires in Redis `leaseMs` after its last renewal, so a holder that dies
 * frees the lock by itself; every grant carries a fencing token greater than all before it.
 *
 * While held, the lease is renewed every `renewMs`. The handle's `signal` aborts when a renewal
 * finds the lease gone (it is never taken back), when no renewal succeeded before the lease's
 * conservative expiry (`validUntilMs`: send time of the last successful acquire or renew +
 * `leaseMs` − `safetyMs`, on the local clock), or on `release()`.
 *
 * Guarantees hold while Redis keeps its writes: after a failover that loses them, two holders may
 * briefly both believe they hold the lock; the fencing token is what protects the resource (see
 * docs/distributed.md, "Locks and leader election").
 *
 * @param redis - an ioredis `Redis` or `Cluster`; hyx only sends EVALSHA/EVAL on it
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisLock } from '@hyx/distributed';
 * const lock = redisLock(new Redis({ host: '127.0.0.1', port: 6380 }), { name: 'billing-run', leaseMs: 15_000 });
 * const handle = await lock.acquire({ waitMs: 5_000 });
 * try {
 *   if (!handle.signal.aborted) console.log(`billing with fencing token ${handle.fencingToken}`);
 * } finally {
 *   await handle.release();
 * }
 * ```
 */
export function redisLock(redis: RedisLike, options: RedisLockOptions): Lock {
  return new LeaseLock(redis, resolveLeaseSettings('redisLock', options), 'lock');
}
