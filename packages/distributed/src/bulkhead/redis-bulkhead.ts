import {
  BULKHEAD_DEFAULTS,
  bulkhead,
  type BulkheadPolicy,
  type ExecuteOptions,
  type ResilienceEvent,
  type Work,
} from '@hyx/local';

import { PolicyListeners } from '../policy-listeners.js';
import { FACTORY_KEY, checkRedisClient, factoryLabel } from '../redis-client.js';
import type { RedisLike } from '../redis-like.js';
import type { DuplicableRedis, RedisBulkheadOptions } from './redis-bulkhead-options.js';
import { RedisBulkheadState } from './redis-bulkhead-state.js';

type Listener = (event: ResilienceEvent) => void;

/**
 * A bulkhead whose permits live in Redis: the local bulkhead's type, plus `close()` for a clean
 * shutdown.
 *
 * @example
 * ```ts
 * import type { RedisBulkheadPolicy } from '@hyx/distributed';
 * const shutdown = (db: RedisBulkheadPolicy) => db.close();
 * ```
 */
export interface RedisBulkheadPolicy extends BulkheadPolicy {
  /**
   * Gives back the leases kept for `usesPerLease`, stops renewing and watching, and closes the
   * pub/sub connection; resolves once the releases were answered (never rejects). Await it before
   * `redis.quit()`: a kept lease given back to a closed client stays taken until `leaseMs` passes.
   */
  close(): Promise<void>;
}

/**
 * The local bulkhead's shell over the Redis state, plus the backend events the state reports. Every
 * member is the local bulkhead's; only `onEvent` also hears `backend.failed` / `backend.recovered`,
 * and `close` closes the state.
 */
class RedisBulkheadShell implements RedisBulkheadPolicy {
  readonly kind = 'bulkhead' as const;
  readonly name: string;
  readonly #inner: BulkheadPolicy;
  readonly #listeners = new PolicyListeners();
  #state: RedisBulkheadState | undefined;

  constructor(redis: RedisLike & Partial<DuplicableRedis>, options: RedisBulkheadOptions) {
    checkRedisClient(factoryLabel('redisBulkhead', options, BULKHEAD_DEFAULTS.name), redis);
    const {
      leaseMs,
      renewMs,
      pollIntervalMs,
      subscriber,
      onLeaseLost,
      commandTimeoutMs,
      onBackendFailure,
      localShare,
      usesPerLease,
      ...local
    } = options;
    const name = local.name ?? 'bulkhead';
    this.#inner = bulkhead({
      ...local,
      // The local bulkhead's errors, and the state's, then name this factory: `redisBulkhead "db"`.
      [FACTORY_KEY]: 'redisBulkhead',
      state: (settings) =>
        (this.#state = new RedisBulkheadState(redis, {
          [FACTORY_KEY]: 'redisBulkhead',
          name,
          maxConcurrent: settings.maxConcurrent,
          leaseMs,
          renewMs,
          pollIntervalMs,
          subscriber,
          onLeaseLost,
          commandTimeoutMs,
          onBackendFailure,
          localShare,
          usesPerLease,
          onBackendTransition: (transition) => {
            this.#listeners.emitBackend(this, transition);
          },
          ...(local.clock === undefined ? {} : { clock: local.clock }),
        })),
    });
    this.name = this.#inner.name;
  }

  close(): Promise<void> {
    return this.#state?.close() ?? Promise.resolve();
  }

  get inFlight(): number {
    return this.#inner.inFlight;
  }

  get queued(): number {
    return this.#inner.queued;
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    return this.#inner.execute(fn, options);
  }

  wrap<TArgs extends unknown[], T>(
    fn: (...args: TArgs) => T | PromiseLike<T>,
  ): (...args: TArgs) => Promise<T> {
    return (...args: TArgs) => this.execute(() => fn(...args));
  }

  onEvent(listener: Listener): () => void {
    return this.#listeners.subscribe(listener, this.#inner.onEvent(listener));
  }
}

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
 * - Every round-trip to Redis waits at most `commandTimeoutMs`. When Redis fails or hangs,
 *   `onBackendFailure` decides: `'reject'` (the call fails with `BackendUnavailableError`; it did
 *   not run), `'allow'` (it runs without a permit) or `'local'` (an in-process bulkhead of
 *   `localShare` of `maxConcurrent` guards it); `backend.failed` is emitted once per outage and
 *   `backend.recovered` when Redis answers again.
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
 * await db.close(); // before redis.quit(): gives back what usesPerLease kept
 * ```
 */
export function redisBulkhead(
  redis: RedisLike & Partial<DuplicableRedis>,
  options: RedisBulkheadOptions,
): RedisBulkheadPolicy {
  return new RedisBulkheadShell(redis, options);
}
