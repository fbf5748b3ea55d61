import type { Clock, ResilienceEvent } from '@hyx/local';
import { LeaseLock } from '../lock/lease-lock.js';
import type { LockHandle } from '../lock/lock.js';
import type { LockLossReason } from '../lock/lock-errors.js';
import { resolveLeaseSettings } from '../lock/redis-lock-options.js';
import type { LeaderElectionOptions } from './leader-election-options.js';

/**
 * What the work of {@link LeaderElection.runWhileLeader} receives for one term.
 *
 * @example
 * ```ts
 * import type { LeadershipContext } from '@hyx/distributed';
 * const work = async ({ signal, fencingToken }: LeadershipContext) => {
 *   while (!signal.aborted) await fetch('http://127.0.0.1:8080/tick', { method: 'POST', signal, headers: { 'fencing-token': String(fencingToken) } });
 * };
 * ```
 */
export interface LeadershipContext {
  /** Aborted when the term ends: lost, stepped down, or the caller's own signal aborted. */
  readonly signal: AbortSignal;
  /** Greater than every earlier term's token: hand it to every resource the leader writes to. */
  readonly fencingToken: bigint;
}

/**
 * One candidate in a leader election; see {@link leaderElection}.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { leaderElection, type LeaderElection } from '@hyx/distributed';
 * const election: LeaderElection = leaderElection({ redis: new Redis({ host: '127.0.0.1', port: 6380 }), name: 'cron', leaseMs: 5_000 });
 * console.log(election.isLeader);
 * ```
 */
export interface LeaderElection {
  /** The election's name. */
  readonly name: string;
  /** How long a term lasts without renewal, in ms: a dead leader is replaced after this. */
  readonly leaseMs: number;
  /**
   * Whether this candidate leads now: it holds a term, and the local clock is still within the
   * term's conservative validity (read synchronously, so it is right just after a stall).
   */
  readonly isLeader: boolean;
  /** The current term's fencing token while leading, else `undefined`. */
  readonly fencingToken: bigint | undefined;
  /**
   * Campaigns until elected, then runs `work` with the term's `signal` and `fencingToken`. When
   * the term is lost while `work` runs, `signal` aborts; once `work` settles, the candidate
   * campaigns again and runs `work` again in its next term. Resolves with `work`'s value (or
   * rejects with its error) when it settles while still leader, giving the term back; rejects with
   * the caller's `signal.reason` when that aborts. One call at a time per candidate.
   */
  runWhileLeader<T>(
    work: (context: LeadershipContext) => T | PromiseLike<T>,
    options?: { readonly signal?: AbortSignal | undefined },
  ): Promise<T>;
  /** Subscribes to `leader.elected` and `leader.lost`; returns the unsubscribe function. */
  onEvent(listener: (event: ResilienceEvent) => void): () => void;
}

class RedisLeaderElection implements LeaderElection {
  readonly name: string;
  readonly leaseMs: number;
  readonly #lease: LeaseLock;
  #listeners: readonly ((event: ResilienceEvent) => void)[] = [];
  #hasWarned = false;
  readonly #clock: Clock;
  #term: LockHandle | undefined;
  #isRunning = false;

  constructor(options: LeaderElectionOptions) {
    const { redis, retryDelayMs, ...lease } = options;
    const base = resolveLeaseSettings('leaderElection', { ...lease, waitMs: Infinity });
    const settings = resolveLeaseSettings('leaderElection', {
      ...lease,
      waitMs: Infinity,
      retryDelayMs: retryDelayMs ?? base.renewMs,
    });
    this.name = settings.name;
    this.leaseMs = settings.leaseMs;
    this.#clock = settings.clock;
    this.#lease = new LeaseLock(redis, settings, 'leader-election', (token, reason, _cause, endedAtMs) => {
      this.#emitLost(token, reason, endedAtMs);
    });
  }

  get isLeader(): boolean {
    return this.#term?.isHeld ?? false;
  }

  get fencingToken(): bigint | undefined {
    return this.isLeader ? this.#term?.fencingToken : undefined;
  }

  onEvent(listener: (event: ResilienceEvent) => void): () => void {
    this.#listeners = [...this.#listeners, listener];
    let isSubscribed = true;
    return () => {
      if (!isSubscribed) return;
      isSubscribed = false;
      this.#listeners = this.#listeners.filter((candidate) => candidate !== listener);
    };
  }

  async runWhileLeader<T>(
    work: (context: LeadershipContext) => T | PromiseLike<T>,
    options: { readonly signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    if (this.#isRunning) {
      throw new Error(`leaderElection "${this.name}": runWhileLeader is already running on this candidate`);
    }
    const { signal } = options;
    signal?.throwIfAborted();
    this.#isRunning = true;
    try {
      for (;;) {
        const term = await this.#lease.acquire({ signal, waitMs: Infinity });
        this.#term = term;
        this.#emit({
          type: 'leader.elected',
          policyKind: 'leader-election',
          policyName: this.name,
          fencingToken: String(term.fencingToken),
        });
        const termSignal = signal === undefined ? term.signal : AbortSignal.any([term.signal, signal]);
        let outcome: { readonly value: T } | { readonly error: unknown };
        try {
          outcome = { value: await work({ signal: termSignal, fencingToken: term.fencingToken }) };
        } catch (error) {
          outcome = { error };
        }
        const wasLeaderToTheEnd = term.isHeld;
        if (wasLeaderToTheEnd) this.#emitLost(term.fencingToken, 'released', this.#clock.now());
        this.#term = undefined;
        await term.release().catch(() => false);
        if (signal?.aborted === true) throw signal.reason;
        if (!wasLeaderToTheEnd) continue; // lost the term: campaign for the next one
        if ('error' in outcome) throw outcome.error;
        return outcome.value;
      }
    } finally {
      this.#isRunning = false;
    }
  }

  #emitLost(token: bigint, reason: LockLossReason, endedAtMs: number): void {
    this.#emit({
      type: 'leader.lost',
      policyKind: 'leader-election',
      policyName: this.name,
      fencingToken: String(token),
      reason,
      endedAtMs,
    });
  }

  #emit(event: ResilienceEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        if (this.#hasWarned) continue;
        this.#hasWarned = true;
        const detail = error instanceof Error ? error.message : String(error);
        process.emitWarning(`a hyx event listener threw and was ignored: ${detail}`, 'HyxListenerWarning');
      }
    }
  }
}

/**
 * Elects one leader among the candidates that share `name` on one Redis (or Cluster): the leader
 * holds a term (a lease, see `redisLock`) renewed every `renewMs`, with a fencing token greater than
 * every earlier term's. A leader that dies is replaced once its term expires, within `leaseMs` of
 * its last renewal (plus a candidate's retry). A leader that cannot renew in time (Redis
 * unreachable, its event loop stalled) aborts its own `signal` `safetyMs` before its term can
 * expire in Redis, so at most one candidate holds a valid term at a time while Redis keeps its
 * writes; after a failover that loses writes, use the fencing token (docs/distributed.md).
 *
 * Events: `leader.elected` when a term starts, `leader.lost` when it ends (with the reason).
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { leaderElection } from '@hyx/distributed';
 * const election = leaderElection({ redis: new Redis({ host: '127.0.0.1', port: 6380 }), name: 'recovery', leaseMs: 5_000, renewMs: 1_000 });
 * election.onEvent((event) => console.log(event.type));
 * await election.runWhileLeader(async ({ signal, fencingToken }) => {
 *   while (!signal.aborted) {
 *     console.log(`leading with token ${fencingToken}`);
 *     await new Promise((resolve) => setTimeout(resolve, 1_000));
 *   }
 * }, { signal: AbortSignal.timeout(60_000) });
 * ```
 */
export function leaderElection(options: LeaderElectionOptions): LeaderElection {
  return new RedisLeaderElection(options);
}
