import { z } from 'zod';

import { MAX_TIMER_DELAY_MS } from '../clock/clock.js';
import { TYPE_CHECK_PARAMS, durationMsSchema, functionSchema } from '../options/option-schemas.js';

/**
 * How a backoff spreads its delays so that many clients that failed together do not retry
 * together:
 *
 * - `'none'`: the delay as computed.
 * - `'full'`: uniform in `[0, delay]` (AWS "full jitter").
 * - `'equal'`: `delay / 2` plus uniform in `[0, delay / 2]` (AWS "equal jitter").
 * - a function `(delayMs, random) => number`: your own; the result is clamped to the backoff's
 *   `[0, maxDelayMs]`, and a `NaN` or non-number result falls back to `delayMs`.
 *
 * Jitter is applied after the cap, so full jitter on a capped exponential spreads over
 * `[0, maxDelayMs]` instead of collapsing onto it.
 *
 * @example
 * ```ts
 * import { backoff, type Jitter } from '@hyx/local';
 * const plusUpToTenPercent: Jitter = (delayMs, random) => delayMs * (1 + 0.1 * random());
 * const delays = backoff.exponential({ initialDelayMs: 200, jitter: plusUpToTenPercent });
 * ```
 */
export type Jitter = 'none' | 'full' | 'equal' | ((delayMs: number, random: () => number) => number);

/**
 * Options every backoff accepts.
 *
 * @example
 * ```ts
 * import { backoff, type BackoffJitterOptions } from '@hyx/local';
 * const fixedRandom: BackoffJitterOptions = { jitter: 'full', random: () => 0.5 };
 * const delays = backoff.constant({ delayMs: 100, ...fixedRandom });
 * ```
 */
export interface BackoffJitterOptions {
  /** @defaultValue `'none'` */
  readonly jitter?: Jitter | undefined;
  /**
   * The source of randomness, returning numbers in `[0, 1)` like `Math.random`; inject a fixed
   * one in tests. Values outside `[0, 1]` are clamped into it, `NaN` counts as 0.
   * @defaultValue `Math.random`
   */
  readonly random?: (() => number) | undefined;
}

/**
 * Options of the backoffs whose delay grows with each retry (linear, exponential, fibonacci,
 * decorrelated exponential, soft exponential).
 *
 * @example
 * ```ts
 * import { backoff, type GrowingBackoffOptions } from '@hyx/local';
 * const shape: GrowingBackoffOptions = { initialDelayMs: 50, maxDelayMs: 5_000, jitter: 'equal' };
 * const delays = backoff.fibonacci(shape);
 * ```
 */
export interface GrowingBackoffOptions extends BackoffJitterOptions {
  /**
   * The delay before the first retry (for `softExponential`: its median), in ms.
   * @defaultValue `100`
   */
  readonly initialDelayMs?: number | undefined;
  /**
   * The cap on every delay, in ms, applied before jitter. At most 2^31-1.
   * @defaultValue `30_000`
   */
  readonly maxDelayMs?: number | undefined;
}

/**
 * The defaults shared by the backoffs. `constant` and `intervals` have no `maxDelayMs` of their own:
 * what a jitter function returns is bounded by {@link MAX_TIMER_DELAY_MS} for them.
 *
 * @example
 * ```ts
 * import { BACKOFF_DEFAULTS } from '@hyx/local';
 * console.log(`exponential backoff starts at ${BACKOFF_DEFAULTS.initialDelayMs} ms`);
 * ```
 */
export const BACKOFF_DEFAULTS = Object.freeze({
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  jitter: 'none',
  random: Math.random,
});

const jitterSchema = z.custom<Jitter>(
  (value) => value === 'none' || value === 'full' || value === 'equal' || typeof value === 'function',
  { error: 'must be "none", "full", "equal" or a function', params: TYPE_CHECK_PARAMS },
);

/** @internal The zod shape of {@link BackoffJitterOptions}, with defaults. */
export const jitterShape = {
  jitter: jitterSchema.default(BACKOFF_DEFAULTS.jitter),
  random: functionSchema<() => number>().default(() => BACKOFF_DEFAULTS.random),
};

/** @internal The zod shape of {@link GrowingBackoffOptions}, with defaults. */
export const growingShape = {
  ...jitterShape,
  initialDelayMs: durationMsSchema.default(BACKOFF_DEFAULTS.initialDelayMs),
  maxDelayMs: durationMsSchema.default(BACKOFF_DEFAULTS.maxDelayMs),
};

/**
 * Rejects a cap below the initial delay: such a backoff would never show its shape, and the
 * mistake is usually a unit slip (seconds for ms).
 *
 * @internal
 */
export function refineMaxAtLeastInitial(
  options: { readonly initialDelayMs: number; readonly maxDelayMs: number },
  context: z.core.$RefinementCtx,
): void {
  if (options.maxDelayMs < options.initialDelayMs) {
    context.addIssue({
      code: 'custom',
      path: ['maxDelayMs'],
      message: `must be >= initialDelayMs (${options.initialDelayMs})`,
    });
  }
}

/** @internal The bound of backoffs without a `maxDelayMs` option. */
export const UNCAPPED_MAX_DELAY_MS = MAX_TIMER_DELAY_MS;
