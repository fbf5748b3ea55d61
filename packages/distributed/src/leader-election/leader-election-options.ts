import type { Clock } from '@hyx/local';
import type { RedisLike } from '../redis-like.js';

/**
 * The options of {@link leaderElection}.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import type { LeaderElectionOptions } from '@hyx/distributed';
 * const options: LeaderElectionOptions = {
 *   redis: new Redis({ host: '127.0.0.1', port: 6380 }),
 *   name: 'recovery',
 *   leaseMs: 5_000,
 *   renewMs: 1_000,
 * };
 * ```
 */
export interface LeaderElectionOptions {
  /** An ioredis `Redis` or `Cluster`; hyx only sends EVALSHA/EVAL on it. */
  readonly redis: RedisLike;
  /** The election's name: every candidate with this name on this Redis competes for one leadership. */
  readonly name: string;
  /** How long a term lasts without renewal: a leader that dies is replaced after this. */
  readonly leaseMs: number;
  /**
   * How often the leader renews its term; less than `leaseMs - safetyMs`.
   * @defaultValue `leaseMs / 3`
   */
  readonly renewMs?: number | undefined;
  /**
   * How often a candidate asks again while another leads, jittered to 50–150 %; it also asks right
   * after the current term would expire.
   * @defaultValue `renewMs`
   */
  readonly retryDelayMs?: number | undefined;
  /**
   * Taken off each term's validity for clock drift and for the time a stalled process needs to
   * notice: the leader steps down `safetyMs` before its term can expire in Redis.
   * @defaultValue `ceil(leaseMs / 100) + 2`
   */
  readonly safetyMs?: number | undefined;
  /**
   * The clock for renewal timers and validity.
   * @defaultValue `systemClock`
   */
  readonly clock?: Clock | undefined;
}
