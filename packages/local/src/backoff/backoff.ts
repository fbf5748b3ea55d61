import { constantBackoff } from './constant-backoff.js';
import { decorrelatedExponentialBackoff } from './decorrelated-exponential-backoff.js';
import { exponentialBackoff } from './exponential-backoff.js';
import { fibonacciBackoff } from './fibonacci-backoff.js';
import { intervalsBackoff } from './intervals-backoff.js';
import { linearBackoff } from './linear-backoff.js';
import { softExponentialBackoff } from './soft-exponential-backoff.js';

/**
 * The delays of one retried execution, in order. Created by {@link Backoff.start} for each
 * execution, so that stateful backoffs (the decorrelated ones) never share state between calls.
 *
 * @example
 * ```ts
 * import { backoff } from '@hyx/local';
 * const delays = backoff.exponential({ initialDelayMs: 100 }).start();
 * const first = delays.nextDelayMs(); // 100
 * const second = delays.nextDelayMs(); // 200
 * ```
 */
export interface BackoffSequence {
  /**
   * The delay before the next retry, in ms; each call moves on by one retry. Always finite and
   * within `[0, maxDelayMs]` of the backoff (2^31-1 at most), never `NaN`.
   */
  nextDelayMs(): number;
}

/**
 * A recipe for the delays between attempts. It holds no per-call state: one backoff may be shared by
 * many policies, and each retried execution calls `start` once, at its first retry.
 *
 * @example
 * ```ts
 * import { type Backoff, retry } from '@hyx/local';
 * // Your own: 1 s, then 5 s for every later retry.
 * const oneThenFive: Backoff = {
 *   start() {
 *     let retries = 0;
 *     return { nextDelayMs: () => (++retries === 1 ? 1_000 : 5_000) };
 *   },
 * };
 * const policy = retry({ maxAttempts: 4, backoff: oneThenFive });
 * ```
 */
export interface Backoff {
  /** Begins the delays of one retried execution. */
  start(): BackoffSequence;
}

/**
 * The backoffs hyx ships. Every one validates its options when called (a bad value throws a
 * `TypeError` or `RangeError` naming it: `backoff.exponential: initialDelayMs must be >= 0, got -1`),
 * accepts `jitter` and an injectable `random`, and never produces a delay that is negative, `NaN`,
 * above its `maxDelayMs` or above 2^31-1 ms, however many retries run.
 *
 * | backoff | delay before retry `n` (before jitter) |
 * | --- | --- |
 * | `constant` | `delayMs` |
 * | `intervals` | `delaysMs[n - 1]`, then the last entry forever |
 * | `linear` | `min(max, initial + (n - 1) × stepMs)` |
 * | `exponential` | `min(max, initial × factor^(n - 1))` |
 * | `fibonacci` | `min(max, initial × F(n))`, F = 1, 1, 2, 3, 5, ... |
 * | `decorrelatedExponential` | `min(max, initial + random × (factor × d(n - 1) - initial))` |
 * | `softExponential` | Polly's decorrelated jitter v2, medians near `initial × 2^(n - 1)` |
 *
 * @example
 * ```ts
 * import { backoff, retry } from '@hyx/local';
 * const policy = retry({
 *   maxAttempts: 5,
 *   backoff: backoff.exponential({ initialDelayMs: 100, factor: 2, maxDelayMs: 5_000, jitter: 'full' }),
 * });
 * ```
 */
export const backoff = Object.freeze({
  /** The same delay before every retry. See {@link constantBackoff}. */
  constant: constantBackoff,
  /** Delays from a list; the last one repeats once the list runs out. See {@link intervalsBackoff}. */
  intervals: intervalsBackoff,
  /** A delay growing by a fixed step. See {@link linearBackoff}. */
  linear: linearBackoff,
  /** A delay multiplied by `factor` each retry. See {@link exponentialBackoff}. */
  exponential: exponentialBackoff,
  /** Delays following the Fibonacci numbers. See {@link fibonacciBackoff}. */
  fibonacci: fibonacciBackoff,
  /** AWS's decorrelated jitter. See {@link decorrelatedExponentialBackoff}. */
  decorrelatedExponential: decorrelatedExponentialBackoff,
  /** Polly's decorrelated jitter v2. See {@link softExponentialBackoff}. */
  softExponential: softExponentialBackoff,
});
