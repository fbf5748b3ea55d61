import { z } from 'zod';

import { exponentialBackoff } from '../backoff/exponential-backoff.js';
import type { Backoff } from '../backoff/backoff.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import {
  TYPE_CHECK_PARAMS,
  clockSchema,
  countOrInfinitySchema,
  durationMsSchema,
  functionSchema,
  policyNameSchema,
} from '../options/option-schemas.js';
import type { RetryBudget } from './retry-budget.js';

/**
 * What the {@link RetryOptions.delay} hook is told about the failure it may delay a retry for.
 *
 * @example
 * ```ts
 * import { type RetryDelayContext } from '@hyx/local';
 * const atLeastOneSecond = (context: RetryDelayContext) => Math.max(context.suggestedDelayMs, 1_000);
 * ```
 */
export interface RetryDelayContext {
  /** The attempt that failed: 1 for the first call. */
  readonly attempt: number;
  /** The error of the failed attempt, when it failed with an error. */
  readonly error?: unknown;
  /** The result of the failed attempt, when `shouldHandleResult` rejected it. */
  readonly result?: unknown;
  /** The backoff's delay for this retry, already capped at the policy's `maxDelayMs`. */
  readonly suggestedDelayMs: number;
}

/**
 * Options of {@link retry}.
 *
 * @example
 * ```ts
 * import { backoff, retry, retryAfterDelay, type RetryOptions } from '@hyx/local';
 * const options: RetryOptions = {
 *   name: 'inventory',
 *   maxAttempts: 4,
 *   backoff: backoff.exponential({ initialDelayMs: 200, maxDelayMs: 5_000, jitter: 'full' }),
 *   delay: retryAfterDelay,
 * };
 * const policy = retry(options);
 * ```
 */
export interface RetryOptions {
  /**
   * How many times the work runs at most, **the first call included**: 3 means one call and up to
   * two retries. An integer >= 1, or `Infinity` to retry until the work succeeds, an error is not
   * handled, the budget is spent or the caller aborts.
   * @defaultValue `3`
   */
  readonly maxAttempts?: number | undefined;
  /**
   * Which errors are retried. The caller's own abort (`signal.reason`) is never retried, whatever
   * this returns; an error it declines is rethrown unchanged.
   * @defaultValue every error except the caller's own abort
   */
  readonly shouldHandle?: ((error: unknown) => boolean) | undefined;
  /**
   * Which results count as failures to retry, e.g. `(response) => response.status === 503`.
   * When the attempts run out on such results, the call rejects with a `RetryExhaustedError` whose
   * `lastResult` is the last one.
   * @defaultValue no result is retried
   */
  readonly shouldHandleResult?: ((result: unknown) => boolean) | undefined;
  /**
   * The delays between attempts (see `backoff`).
   * @defaultValue `backoff.exponential({ initialDelayMs: 100, factor: 2, maxDelayMs: 30_000, jitter: 'full' })`
   */
  readonly backoff?: Backoff | undefined;
  /**
   * The cap on every delay, in ms, whatever the backoff or the `delay` hook says (a `Retry-After` of
   * an hour included). At most 2^31-1.
   * @defaultValue `30_000`
   */
  readonly maxDelayMs?: number | undefined;
  /**
   * Chooses the delay of one retry: return ms, or `undefined` to keep `suggestedDelayMs` (the
   * backoff's). The result is clamped to `[0, maxDelayMs]`; `NaN` keeps the suggestion. Use
   * `retryAfterDelay` to honour a `retryAfterMs` carried by an error or a result.
   * @defaultValue none: the backoff decides
   */
  readonly delay?: ((context: RetryDelayContext) => number | undefined) | undefined;
  /**
   * A budget shared with other policies that limits retries to a share of the successful calls
   * (see `retryBudget`). When it is spent, the call rejects with a `RetryExhaustedError` whose
   * `reason` is `'budget'`.
   * @defaultValue none: only `maxAttempts` limits retries
   */
  readonly budget?: RetryBudget | undefined;
  /** @defaultValue `'retry'` */
  readonly name?: string | undefined;
  /** @defaultValue {@link systemClock} */
  readonly clock?: Clock | undefined;
}

/**
 * The defaults of {@link RetryOptions}.
 *
 * @example
 * ```ts
 * import { RETRY_DEFAULTS } from '@hyx/local';
 * console.log(`retry makes ${RETRY_DEFAULTS.maxAttempts} attempts by default`);
 * ```
 */
export const RETRY_DEFAULTS = Object.freeze({
  name: 'retry',
  clock: systemClock,
  maxAttempts: 3,
  maxDelayMs: 30_000,
  backoff: exponentialBackoff({ initialDelayMs: 100, factor: 2, maxDelayMs: 30_000, jitter: 'full' }),
  shouldHandle: (): boolean => true,
  shouldHandleResult: (): boolean => false,
});

const backoffSchema = z.custom<Backoff>(
  (value) =>
    typeof value === 'object' && value !== null && typeof (value as Partial<Backoff>).start === 'function',
  {
    error: 'must be a Backoff (an object with start(), e.g. backoff.exponential())',
    params: TYPE_CHECK_PARAMS,
  },
);

const budgetSchema = z.custom<RetryBudget>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<RetryBudget>).tryWithdraw === 'function' &&
    typeof (value as Partial<RetryBudget>).deposit === 'function',
  { error: 'must be a RetryBudget (tryWithdraw, deposit), e.g. retryBudget()', params: TYPE_CHECK_PARAMS },
);

/** @internal */
export const retryOptionsSchema = z.strictObject({
  maxAttempts: countOrInfinitySchema.default(RETRY_DEFAULTS.maxAttempts),
  shouldHandle: functionSchema<(error: unknown) => boolean>().default(() => RETRY_DEFAULTS.shouldHandle),
  shouldHandleResult: functionSchema<(result: unknown) => boolean>().default(
    () => RETRY_DEFAULTS.shouldHandleResult,
  ),
  backoff: backoffSchema.default(() => RETRY_DEFAULTS.backoff),
  maxDelayMs: durationMsSchema.default(RETRY_DEFAULTS.maxDelayMs),
  delay: functionSchema<(context: RetryDelayContext) => number | undefined>().optional(),
  budget: budgetSchema.optional(),
  name: policyNameSchema.default(RETRY_DEFAULTS.name),
  clock: clockSchema.default(() => RETRY_DEFAULTS.clock),
});
