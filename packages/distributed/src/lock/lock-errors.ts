/** Why a lease stopped being held. */
export type LockLossReason = 'released' | 'not-owner' | 'renewal-deadline';

/**
 * The reason of a {@link LockHandle.signal} once the lease is no longer held:
 * - `'released'`: the holder called `release()`;
 * - `'not-owner'`: a renewal found the lease expired or held by someone else (it is never taken back);
 * - `'renewal-deadline'`: no renewal succeeded before the lease's conservative expiry (Redis
 *   unreachable, or this process's event loop stalled), so the holder steps down by itself.
 *
 * @example
 * ```ts
 * import { LockLostError } from '@hyx/distributed';
 * const wasTakenOver = (error: unknown) => error instanceof LockLostError && error.reason !== 'released';
 * ```
 */
export class LockLostError extends Error {
  /** A stable code to compare instead of the message. */
  readonly code = 'LOCK_LOST';
  /** The lock's name. */
  readonly lockName: string;
  /** Why the lease is no longer held. */
  readonly reason: LockLossReason;

  constructor(lockName: string, reason: LockLossReason, options?: ErrorOptions) {
    super(`lock "${lockName}": lease lost (${reason})`, options);
    this.lockName = lockName;
    this.reason = reason;
  }

  override get name(): string {
    return 'LockLostError';
  }
}

/**
 * {@link Lock.acquire} waited `waitMs` and someone else still held the lock.
 *
 * @example
 * ```ts
 * import { LockUnavailableError } from '@hyx/distributed';
 * const retryIn = (error: LockUnavailableError) => error.retryAfterMs ?? 1_000;
 * ```
 */
export class LockUnavailableError extends Error {
  /** A stable code to compare instead of the message. */
  readonly code = 'LOCK_UNAVAILABLE';
  /** The lock's name. */
  readonly lockName: string;
  /** How long the current holder's lease still runs, when Redis said so. */
  readonly retryAfterMs: number | undefined;

  constructor(lockName: string, waitedMs: number, retryAfterMs?: number, options?: ErrorOptions) {
    super(`lock "${lockName}": still held by another holder after waiting ${waitedMs} ms`, options);
    this.lockName = lockName;
    this.retryAfterMs = retryAfterMs;
  }

  override get name(): string {
    return 'LockUnavailableError';
  }
}
