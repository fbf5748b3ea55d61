import type { Cluster, Redis } from 'ioredis';
import Redlock, { ExecutionError, ResourceLockedError, type Lock as RedlockGrant } from 'redlock';
import { BackendUnavailableError } from '@hyx/local';
import { LUA_SCRIPTS } from '../lua.generated.js';
import { LuaScript } from '../lua-script.js';
import { checkRedisClients } from '../redis-client.js';
import { RedisKeyspace } from '../redis-keys.js';
import { HeldLease } from './held-lease.js';
import { FENCE_TTL_MS } from './lease-scripts.js';
import type { Lock, LockAcquireOptions, LockHandle } from './lock.js';
import { LockUnavailableError } from './lock-errors.js';
import { resolveLeaseSettings, type LeaseSettings, type RedisLockOptions } from './redis-lock-options.js';

const advanceFenceScript = new LuaScript<bigint>({
  ...LUA_SCRIPTS['lease/advance-fence'],
  decode: (reply) => {
    if (typeof reply !== 'string' || !/^[1-9]\d*$/.test(reply)) {
      throw new TypeError(`expected a decimal token, got ${typeof reply}`);
    }
    return BigInt(reply);
  },
});

type Attempt = { readonly handle: HeldLease } | { readonly error?: unknown };

/** Whether a quorum of the masters voted against because the lease is not (or no longer) ours. */
async function isRefusedByQuorum(error: unknown): Promise<boolean> {
  if (!(error instanceof ExecutionError)) return false;
  const last = error.attempts.at(-1);
  if (last === undefined) return true; // "Cannot extend an already-expired lock."
  const stats = await last;
  let refusals = 0;
  for (const vote of stats.votesAgainst.values()) if (vote instanceof ResourceLockedError) refusals++;
  return refusals >= stats.quorumSize;
}

class RedlockLock implements Lock {
  readonly name: string;
  readonly #clients: readonly (Redis | Cluster)[];
  readonly #redlock: Redlock;
  readonly #settings: LeaseSettings;
  readonly #resource: string;
  readonly #fence: string;
  readonly #quorum: number;

  constructor(clients: readonly (Redis | Cluster)[], settings: LeaseSettings) {
    checkRedisClients(`redlockLock ${JSON.stringify(settings.name)}`, clients);
    if (clients.length === 0) {
      throw new TypeError(`redlockLock "${settings.name}": needs at least one Redis client`);
    }
    this.name = settings.name;
    this.#clients = clients;
    this.#settings = settings;
    this.#quorum = Math.floor(clients.length / 2) + 1;
    // We retry ourselves (waitMs, signal, jitter); redlock makes one quorum round per call.
    this.#redlock = new Redlock(clients, { retryCount: 0, driftFactor: 0 });
    // redlock emits 'error' for every vote against (a held lock, a dead master): without a
    // listener, EventEmitter would throw it inside redlock's own promise and crash the process.
    this.#redlock.on('error', () => undefined);
    const keyspace = new RedisKeyspace({ pattern: 'lock', name: settings.name, parts: ['redlock', 'fence'] });
    this.#resource = keyspace.keyFor('', 'redlock');
    this.#fence = keyspace.keyFor('', 'fence');
  }

  async tryAcquire(): Promise<LockHandle | undefined> {
    const attempt = await this.#attempt();
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
    const startedAtMs = clock.now();
    for (;;) {
      const attempt = await this.#attempt();
      if (signal?.aborted === true) {
        if ('handle' in attempt) await attempt.handle.release().catch(() => false);
        throw signal.reason;
      }
      if ('handle' in attempt) return attempt.handle;
      const waitedMs = clock.now() - startedAtMs;
      if (waitedMs >= waitMs) {
        if (attempt.error !== undefined) throw this.#backendError(attempt.error);
        throw new LockUnavailableError(this.name, waitedMs);
      }
      const delayMs = Math.max(1, Math.min(retryDelayMs * (0.5 + Math.random()), waitMs - waitedMs));
      await new Promise<void>((resolve, reject) => {
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
  }

  async #attempt(): Promise<Attempt> {
    const { clock, leaseMs, safetyMs } = this.#settings;
    const sentAtMs = clock.now();
    let grant: RedlockGrant;
    try {
      grant = await this.#redlock.acquire([this.#resource], leaseMs);
    } catch (error) {
      // Held by someone else on a quorum, or too many masters down: tell them apart for the error.
      return (await isRefusedByQuorum(error)) ? {} : { error };
    }
    let current = grant;
    const store = {
      renew: async (): Promise<boolean> => {
        try {
          current = await current.extend(leaseMs);
          return true;
        } catch (error) {
          if (await isRefusedByQuorum(error)) return false;
          throw error;
        }
      },
      release: async (): Promise<boolean> => {
        try {
          await this.#redlock.release(current);
          return true;
        } catch (error) {
          if (error instanceof ExecutionError) return false;
          throw error;
        }
      },
    };
    let fencingToken: bigint;
    try {
      fencingToken = await this.#nextFencingToken();
    } catch (error) {
      await store.release().catch(() => false);
      return { error };
    }
    const handle = new HeldLease({ settings: this.#settings, store, fencingToken, sentAtMs });
    if (clock.now() >= sentAtMs + leaseMs - safetyMs) {
      await handle.release().catch(() => false);
      return {};
    }
    return { handle };
  }

  /**
   * The highest next token a quorum answers, written back to a quorum before it is used: any later
   * grant's quorum shares a master with this one, so its token is higher.
   */
  async #nextFencingToken(): Promise<bigint> {
    const round = async (floor: bigint): Promise<bigint> => {
      const replies = await Promise.allSettled(
        this.#clients.map((client) =>
          advanceFenceScript.run(client, [this.#fence], [floor.toString(), FENCE_TTL_MS]),
        ),
      );
      const tokens = replies.flatMap((reply) => (reply.status === 'fulfilled' ? [reply.value] : []));
      if (tokens.length < this.#quorum) {
        const failure = replies.find((reply) => reply.status === 'rejected');
        throw new Error(
          `redlockLock "${this.name}": only ${tokens.length} of ${this.#clients.length} masters issued a fencing token`,
          { cause: failure?.reason },
        );
      }
      return tokens.reduce((highest, token) => (token > highest ? token : highest), 0n);
    };
    const token = await round(0n);
    await round(token);
    return token;
  }

  #backendError(error: unknown): BackendUnavailableError {
    return new BackendUnavailableError({ policyKind: 'lock', policyName: this.name }, error);
  }
}

/**
 * The same {@link Lock} as {@link redisLock}, held on a **quorum** of independent Redis masters
 * (the Redlock algorithm, through the `redlock` package): it is granted, renewed and kept while a
 * majority of the masters agree, so it survives the loss of a minority of them. Its fencing
 * token is advanced on every master and the highest one a quorum answered is written back to a
 * quorum before the handle is returned, so it grows from grant to grant while no master loses its
 * writes (a master restarted without persistence can break this; so can a clock that steps back).
 *
 * Use it with masters that fail independently (not a Cluster, not a primary and its replica).
 * A renewal refused by a quorum aborts the handle's signal (`not-owner`); a quorum that cannot be
 * reached makes it step down at `validUntilMs` (`renewal-deadline`).
 *
 * @param clients - one ioredis `Redis` per master (an odd number, 3 or 5)
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redlockLock } from '@hyx/distributed';
 * const masters = [6380, 6381, 6382].map((port) => new Redis({ host: '127.0.0.1', port }));
 * const lock = redlockLock(masters, { name: 'ledger', leaseMs: 10_000 });
 * const handle = await lock.acquire({ waitMs: 2_000 });
 * try {
 *   console.log(`holding with token ${handle.fencingToken}`);
 * } finally {
 *   await handle.release();
 * }
 * ```
 */
export function redlockLock(clients: readonly (Redis | Cluster)[], options: RedisLockOptions): Lock {
  return new RedlockLock(clients, resolveLeaseSettings('redlockLock', options));
}
