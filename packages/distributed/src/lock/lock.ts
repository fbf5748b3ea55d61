/**
 * How one {@link Lock.acquire} call waits.
 *
 * @example
 * ```ts
 * import type { LockAcquireOptions } from '@hyx/distributed';
 * const options: LockAcquireOptions = { waitMs: 2_000, signal: AbortSignal.timeout(5_000) };
 * ```
 */
export interface LockAcquireOptions {
  /** Stops waiting: the call rejects with `signal.reason`, as `fetch` does. */
  readonly signal?: AbortSignal | undefined;
  /** How long to keep trying while someone else holds the lock; overrides the lock's `waitMs`. */
  readonly waitMs?: number | undefined;
}

/**
 * A lease on a lock, held until {@link LockHandle.release} or until it is lost. While held it is
 * renewed in the background; `signal` aborts (with a `LockLostError`) the moment the holder can no
 * longer be sure it holds the lock: the renewal was refused, could not be done before the lease's
 * conservative expiry, or the handle was released.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisLock, type LockHandle } from '@hyx/distributed';
 * const lock = redisLock(new Redis({ host: '127.0.0.1', port: 6380 }), { name: 'nightly-report', leaseMs: 10_000 });
 * const handle: LockHandle = await lock.acquire();
 * try {
 *   await fetch('http://127.0.0.1:8080/report', { method: 'POST', signal: handle.signal, headers: { 'fencing-token': String(handle.fencingToken) } });
 * } finally {
 *   await handle.release();
 * }
 * ```
 */
export interface LockHandle {
  /**
   * Greater than the token of every earlier grant of this lock (a `bigint`: tokens are server
   * microseconds or more, and compare exactly). Pass it to the resource the lock protects and let the
   * resource refuse a token lower than the highest it has seen: that, not the lock, is what keeps a
   * paused or partitioned former holder from overwriting a newer one's work.
   */
  readonly fencingToken: bigint;
  /** Aborted, with a `LockLostError` as its reason, when the lease is lost or released. */
  readonly signal: AbortSignal;
  /**
   * Whether the lease is still held as far as this process can tell: not lost, not released, and the
   * local clock is before {@link LockHandle.validUntilMs}. Read synchronously, so it is right even
   * just after the event loop stalled, before the deadline timer had a chance to run.
   */
  readonly isHeld: boolean;
  /**
   * The local clock's time (ms since the epoch) until which the lease is certainly valid: when the
   * successful acquire or renew was **sent**, plus `leaseMs`, minus the clock-drift allowance.
   */
  readonly validUntilMs: number;
  /**
   * Stops renewing, aborts `signal`, and deletes the lease in Redis if this handle still owns it.
   * Resolves `true` when it did, `false` when it was not the owner any more (lost or released
   * before); never deletes another holder's lease. Idempotent.
   */
  release(): Promise<boolean>;
}

/**
 * A distributed lock: {@link redisLock} on one Redis or Cluster, {@link redlockLock} on a quorum of
 * independent masters. Both return this type.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisLock, type Lock } from '@hyx/distributed';
 * const lock: Lock = redisLock(new Redis({ host: '127.0.0.1', port: 6380 }), { name: 'migrations', leaseMs: 30_000 });
 * const handle = await lock.tryAcquire();
 * if (handle !== undefined) await handle.release();
 * ```
 */
export interface Lock {
  /** The lock's name: locks with the same name on the same Redis exclude each other. */
  readonly name: string;
  /**
   * Takes the lock, trying again every `retryDelayMs` (with jitter) while someone else holds it,
   * for at most `waitMs`. Rejects with a `LockUnavailableError` when the wait runs out, with the
   * caller's `signal.reason` when it aborts, and with a `BackendUnavailableError` when the last
   * attempt failed on Redis.
   */
  acquire(options?: LockAcquireOptions): Promise<LockHandle>;
  /** One attempt, no waiting: the handle, or `undefined` when someone else holds the lock. */
  tryAcquire(): Promise<LockHandle | undefined>;
}
