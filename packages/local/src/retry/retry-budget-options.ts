import { z } from 'zod';

import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { clockSchema, positiveDurationMsSchema } from '../options/option-schemas.js';

/**
 * Options of {@link retryBudget}.
 *
 * @example
 * ```ts
 * import { retryBudget, type RetryBudgetOptions } from '@hyx/local';
 * const options: RetryBudgetOptions = { ratio: 0.1, minRetriesPerSecond: 10, windowMs: 10_000 };
 * const budget = retryBudget(options);
 * ```
 */
export interface RetryBudgetOptions {
  /**
   * Retries allowed per successful call within the window: 0.2 lets retries add at most 20% to the
   * traffic that succeeds. A finite number >= 0.
   * @defaultValue `0.2`
   */
  readonly ratio?: number | undefined;
  /**
   * Retries allowed per second even when nothing succeeds, so that low-traffic callers can still
   * retry. A finite number >= 0.
   * @defaultValue `10`
   */
  readonly minRetriesPerSecond?: number | undefined;
  /**
   * How far back successes and retries count, in ms.
   * @defaultValue `10_000`
   */
  readonly windowMs?: number | undefined;
  /**
   * The time source; give the same `FakeClock` as the policies in tests.
   * @defaultValue {@link systemClock}
   */
  readonly clock?: Clock | undefined;
}

/**
 * The defaults of {@link RetryBudgetOptions}, those of Finagle's retry budget.
 *
 * @example
 * ```ts
 * import { RETRY_BUDGET_DEFAULTS } from '@hyx/local';
 * console.log(`${RETRY_BUDGET_DEFAULTS.ratio * 100}% of successful calls may be retried`);
 * ```
 */
export const RETRY_BUDGET_DEFAULTS = Object.freeze({
  ratio: 0.2,
  minRetriesPerSecond: 10,
  windowMs: 10_000,
  clock: systemClock,
});

/** @internal */
export const retryBudgetOptionsSchema = z.strictObject({
  ratio: z.number().min(0).default(RETRY_BUDGET_DEFAULTS.ratio),
  minRetriesPerSecond: z.number().min(0).default(RETRY_BUDGET_DEFAULTS.minRetriesPerSecond),
  windowMs: positiveDurationMsSchema.default(RETRY_BUDGET_DEFAULTS.windowMs),
  clock: clockSchema.default(() => RETRY_BUDGET_DEFAULTS.clock),
});
