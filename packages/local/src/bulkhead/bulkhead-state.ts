/**
 * A permit granted by a {@link BulkheadState}: the right to run one call until it is released.
 *
 * The memory state's leases never expire (their holder lives in the same process). A distributed
 * state (Redis) grants leases that expire after `leaseMs` unless renewed, so that a holder that dies
 * cannot keep its permit; `expiresAtMs` says when, and `fencingToken` lets a downstream refuse
 * writes from a holder whose lease has already passed to someone else.
 *
 * @example
 * ```ts
 * import { MemoryBulkheadState } from '@hyx/local';
 * const state = new MemoryBulkheadState({ maxConcurrent: 1 });
 * const lease = state.acquire('db');
 * if (lease !== undefined) console.log(lease.id, lease.fencingToken);
 * ```
 */
export interface Lease {
  /** Unique among the leases a state has granted; what `release` identifies the permit by. */
  readonly id: string;
  /** The permit pool the lease belongs to (the key passed to `acquire`). */
  readonly key: string;
  /**
   * Grows with every grant for a key, never repeats: newer holders have larger tokens. (A Redis
   * bulkhead with `usesPerLease` above 1 lets one grant serve several calls in a row: their leases
   * share its token.)
   */
  readonly fencingToken: number;
  /** When the lease lapses unless renewed; `undefined` for leases that never expire. */
  readonly expiresAtMs?: number | undefined;
}

/**
 * What a bulkhead asks of its state: the state port shared by the memory and Redis backends.
 * The state owns the permit count and nothing else; the bulkhead shell owns the queue, waiting,
 * timeouts, abort and events, so every backend enforces the same rules.
 *
 * Methods may answer synchronously: the memory state does, so that an uncontended call does not
 * pay for a promise. A backend that talks to a server returns promises.
 *
 * @example
 * ```ts
 * import { MemoryBulkheadState, bulkhead, type BulkheadState } from '@hyx/local';
 * // A state that logs every request, delegating to the memory state.
 * const logged = (inner: BulkheadState): BulkheadState => ({
 *   acquire: (key, nowMs) => {
 *     const lease = inner.acquire(key, nowMs);
 *     console.log('acquire', key);
 *     return lease;
 *   },
 *   release: (lease) => inner.release(lease),
 * });
 * const db = bulkhead({ maxConcurrent: 4, state: (settings) => logged(new MemoryBulkheadState(settings)) });
 * ```
 */
export interface BulkheadState {
  /**
   * Takes a permit of pool `key` if one is free. Never waits: a full pool answers `undefined`.
   *
   * @param key - the pool; a bulkhead passes its own name, so one state can serve several pools
   * @param nowMs - the time of the request, for backends whose leases expire; the memory state
   *   ignores it, and the bulkhead does not pass it (memory leases never expire, Redis reads
   *   its server's time), so an uncontended call never reads the clock
   */
  acquire(key: string, nowMs?: number): Lease | undefined | Promise<Lease | undefined>;
  /**
   * Gives a permit back. Releasing a lease that was already released (or has expired) does
   * nothing: a permit is freed at most once.
   */
  release(lease: Lease): void | Promise<void>;
  /**
   * Optional: calls `onFree` whenever a permit of `key` may have come free other than through this
   * bulkhead (another process released one, a dead holder's lease lapsed). The bulkhead watches
   * while callers wait in its queue and calls the returned function once its queue is empty; on
   * `onFree` it asks `acquire` again for the head of the queue. A spurious call costs one
   * `acquire`. Without it, a bulkhead only wakes its queue on its own releases.
   *
   * @returns stops watching; calling it twice does nothing
   */
  watch?(key: string, onFree: () => void): () => void;
}

/**
 * What a bulkhead tells its state when it builds it.
 *
 * @example
 * ```ts
 * import { MemoryBulkheadState, type BulkheadSettings } from '@hyx/local';
 * const settings: BulkheadSettings = { maxConcurrent: 8 };
 * const state = new MemoryBulkheadState(settings);
 * ```
 */
export interface BulkheadSettings {
  /** How many leases of one key may be held at once. */
  readonly maxConcurrent: number;
}

/**
 * Builds a bulkhead's state from its settings: the `state` option of {@link bulkhead}. The
 * bulkhead calls it once, at construction, so the permit limit is given in one place only.
 *
 * @example
 * ```ts
 * import { MemoryBulkheadState, bulkhead, type BulkheadStateProvider } from '@hyx/local';
 * // Two bulkheads drawing on one pool of permits (each passes its own name as the key, so they
 * // share it only if they share a name).
 * const shared = new MemoryBulkheadState({ maxConcurrent: 4 });
 * const provider: BulkheadStateProvider = () => shared;
 * const reads = bulkhead({ name: 'db', maxConcurrent: 4, state: provider });
 * ```
 */
export type BulkheadStateProvider = (settings: BulkheadSettings) => BulkheadState;
