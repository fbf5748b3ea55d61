import { BULKHEAD_DEFAULTS, bulkhead, type BulkheadPolicy } from '@hyx/local';

import { FACTORY_KEY, checkRedisClient, factoryLabel } from '../redis-client.js';
import type { RedisLike } from '../redis-like.js';
import type { DuplicableRedis, RedisBulkheadOptions } from './redis-bulkhead-options.js';
import { RedisBulkheadState } from './redis-bulkhead-state.js';

/**
 * A bulkhead whose `maxConcurrent` permits are shared by every process that uses the same `name`
 * on the same Redis (or Redis Cluster): the local `bulkhead` shell (queue, `maxQueue`,
 * `queueTimeoutMs`, abort, events) over a {@link RedisBulkheadState}.
 *
 * - Permits are leases that lapse `leaseMs` after their last renewal; they are renewed every
 *   `renewMs` while held, so a process that dies frees its permits within `leaseMs`.
 * - Waiting callers are woken by release notifications (Redis pub/sub, on a connection made with
 *   `redis.duplicate()` only while someone waits), when the earliest lease lapses, and at least
 *   every `pollIntervalMs`.
 * - When Redis fails, a call is rejected with `BackendUnavailableError` (it did not run).
 *
 * @param redis - an ioredis `Redis` or `Cluster`; hyx sends EVALSHA/EVAL on it and duplicates it
 *   for pub/sub
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisBulkhead } from '@hyx/distributed';
 * const redis = new Redis({ host: '127.0.0.1', port: 6380 });
 * // At most 10 queries at once across the whole fleet; 50 more may wait up to 2 s.
 * const db = redisBulkhead(redis, { name: 'db', maxConcurrent: 10, maxQueue: 50, queueTimeoutMs: 2_000 });
 * const rows = await db.execute(async () => ['row']);
 * ```
 */
export function redisBulkhead(
  redis: RedisLike & Partial<DuplicableRedis>,
  options: RedisBulkheadOptions,
): BulkheadPolicy {
  checkRedisClient(factoryLabel('redisBulkhead', options, BULKHEAD_DEFAULTS.name), redis);
  const { leaseMs, renewMs, pollIntervalMs, subscriber, onLeaseLost, ...local } = options;
  const name = local.name ?? 'bulkhead';
  return bulkhead({
    ...local,
    // The local bulkhead's errors, and the state's, then name this factory: `redisBulkhead "db"`.
    [FACTORY_KEY]: 'redisBulkhead',
    state: (settings) =>
      new RedisBulkheadState(redis, {
        [FACTORY_KEY]: 'redisBulkhead',
        name,
        maxConcurrent: settings.maxConcurrent,
        leaseMs,
        renewMs,
        pollIntervalMs,
        subscriber,
        onLeaseLost,
        ...(local.clock === undefined ? {} : { clock: local.clock }),
      }),
  });
}
