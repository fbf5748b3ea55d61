import { randomUUID } from 'node:crypto';
import { BackendUnavailableError, type PolicyKind } from '@hyx/local';
import { LuaReplyError } from '../lua-reply.js';
import { checkRedisClient } from '../redis-client.js';
import { RedisKeyspace } from '../redis-keys.js';
import type { RedisLike } from '../redis-like.js';
import { HeldLease } from './held-lease.js';
import { FENCE_TTL_MS, acquireLeaseScript, releaseLeaseScript, renewLeaseScript } from './lease-scripts.js';
import type { Lock, LockAcquireOptions, LockHandle } from './lock.js';
import { LockUnavailableError, type LockLossReason } from './lock-errors.js';
import type { LeaseSettings } from './redis-lock-options.js';

type Attempt =
  { readonly handle: HeldLease } | { readonly retryAfterMs: number | undefined; readonly error?: unknown };

/** Waits `delayMs` on the settings' clock, or rejects with `signal.reason`; cleans up either way. */
function sleep(settings: LeaseSettings, delayMs: number, signal: AbortSignal | undefined): Promise<void> {
  const { clock } = settings;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's reason, as fetch does
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A lease in one Redis (or one Cluster slot): the engine of {@link redisLock} and of
 * `leaderElection`, which differ only in key pattern and names.
 *
 * @internal
 */
export class LeaseLock implements Lock {
  readonly name: string;
  readonly #redis: RedisLike;
  readonly #settings: LeaseSettings;
  readonly #policyKind: PolicyKind;
  readonly #keys: readonly [string, string];
  readonly #onLost:
    ((token: bigint, reason: LockLossReason, cause: unknown, endedAtMs: number) => void) | undefined;

  constructor(
    redis: RedisLike,
    settings: LeaseSettings,
    policyKind: 'lock' | 'leader-election',
    onLost?: (token: bigint, reason: LockLossReason, cause: unknown, endedAtMs: number) => void,
  ) {
    // Checked here rather than in the factories so that leaderElection's `redis` option is too.
    const factory = policyKind === 'lock' ? 'redisLock' : 'leaderElection';
    checkRedisClient(`${factory} ${JSON.stringify(settings.name)}`, redis);
    this.name = settings.name;
    this.#redis = redis;
    this.#settings = settings;
    this.#policyKind = policyKind;
    this.#onLost = onLost;
    const keyspace = new RedisKeyspace({
      pattern: policyKind,
      name: settings.name,
      parts: ['owner', 'fence'],
    });
    const [owner, fence] = keyspace.keysFor('');
    this.#keys = [owner ?? '', fence ?? ''];
  }

  async tryAcquire(): Promise<LockHandle | undefined> {
    const attempt = await this.#attempt(randomUUID());
    if ('handle' in attempt) return attempt.handle;
    if (attempt.error !== undefined) throw this.#backendError(attempt.error);
    return undefined;
  }

  async acquire(options: LockAcquireOptions = {}): Promise<LockHandle> {
    const { signal } = options;
    const waitMs = options.waitMs ?? this.#settings.waitMs;
    if (typeof waitMs !== 'number' || Number.isNaN(waitMs) || waitMs < 0) {
      throw new RangeError(`lock "${this.name}": waitMs must be >= 0, got ${String(waitMs)}`);
    }
    signal?.throwIfAborted();
    const { clock, retryDelayMs } = this.#settings;
    // One holder id for every attempt of this call: an attempt whose reply was lost (the connection
    // dropped after Redis ran it) is found again by the next one, never granted twice.
    const holderId = randomUUID();
    const startedAtMs = clock.now();
    for (;;) {
      const attempt = await this.#attemptUnlessAborted(holderId, signal);
      if ('handle' in attempt) return attempt.handle;
      const waitedMs = clock.now() - startedAtMs;
      if (waitedMs >= waitMs) {
        if (attempt.error !== undefined) throw this.#backendError(attempt.error);
        throw new LockUnavailableError(this.name, waitedMs, attempt.retryAfterMs);
      }
      const jitteredMs = retryDelayMs * (0.5 + Math.random());
      const untilFreeMs = attempt.retryAfterMs === undefined ? Infinity : attempt.retryAfterMs + 1;
      await sleep(this.#settings, Math.max(1, Math.min(jitteredMs, untilFreeMs, waitMs - waitedMs)), signal);
    }
  }

  /** One attempt, raced with the caller's abort; a grant that lands after the abort is released. */
  async #attemptUnlessAborted(holderId: string, signal: AbortSignal | undefined): Promise<Attempt> {
    const pending = this.#attempt(holderId);
    if (signal === undefined) return pending;
    return new Promise<Attempt>((resolve, reject) => {
      const onAbort = (): void => {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's reason, as fetch does
        reject(signal.reason);
        void pending
          .then((attempt) => ('handle' in attempt ? attempt.handle.release() : false))
          .catch(() => false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (attempt) => {
          signal.removeEventListener('abort', onAbort);
          resolve(attempt);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  async #attempt(holderId: string): Promise<Attempt> {
    const { clock, leaseMs, safetyMs } = this.#settings;
    const [ownerKey] = this.#keys;
    const sentAtMs = clock.now();
    let grant;
    try {
      grant = await acquireLeaseScript.run(this.#redis, this.#keys, [holderId, leaseMs, FENCE_TTL_MS]);
    } catch (error) {
      if (error instanceof LuaReplyError) throw error;
      return { retryAfterMs: undefined, error };
    }
    if (!grant.isGranted) return { retryAfterMs: grant.retryAfterMs };
    const tokenText = grant.token;
    const fencingToken = BigInt(tokenText);
    const handle = new HeldLease({
      settings: this.#settings,
      fencingToken,
      sentAtMs,
      store: {
        renew: () => renewLeaseScript.run(this.#redis, [ownerKey], [holderId, tokenText, leaseMs]),
        release: () => releaseLeaseScript.run(this.#redis, [ownerKey], [holderId, tokenText]),
      },
      onLost:
        this.#onLost === undefined
          ? undefined
          : (reason, cause, endedAtMs) => this.#onLost?.(fencingToken, reason, cause, endedAtMs),
    });
    if (clock.now() >= sentAtMs + leaseMs - safetyMs) {
      // The reply came so late that the lease may have expired already: give it back, try again.
      await handle.release().catch(() => false);
      return { retryAfterMs: 0 };
    }
    return { handle };
  }

  #backendError(error: unknown): BackendUnavailableError {
    return new BackendUnavailableError({ policyKind: this.#policyKind, policyName: this.name }, error);
  }
}
