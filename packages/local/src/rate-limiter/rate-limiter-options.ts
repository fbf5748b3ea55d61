import { z } from 'zod';

import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import {
  clockSchema,
  functionSchema,
  nonNegativeIntSchema,
  policyNameSchema,
  positiveIntSchema,
} from '../options/option-schemas.js';
import {
  MAX_SCALED,
  deriveAlgorithmConfig,
  largestScaledQuantity,
  type RateLimitAlgorithmName,
} from './algorithms/rate-limit-algorithm.js';
import { memoryRateLimiterState } from './memory-rate-limiter-state.js';
import type { RateLimiterStateFactory } from './rate-limiter-state.js';

/**
 * Options of {@link rateLimiter}.
 *
 * @example
 * ```ts
 * import { rateLimiter } from '@hyx/local';
 * // 100 requests a minute per user, in bursts of up to 20.
 * const limiter = rateLimiter({ name: 'api', algorithm: 'gcra', limit: 100, intervalMs: 60_000, burst: 20 });
 * ```
 */
export interface RateLimiterOptions {
  /**
   * How requests are counted; see `docs/policies/rate-limiter.md` for what each guarantees.
   * @defaultValue `'token-bucket'`
   */
  readonly algorithm?: RateLimitAlgorithmName | undefined;
  /** Cost units admitted per `intervalMs`: the refill rate, or each window's quota. An integer >= 1. */
  readonly limit: number;
  /**
   * The interval `limit` applies to, in ms (an integer; a year is fine). `windowMs` is the same
   * option under the name window algorithms use; give one of them.
   * @defaultValue `1000`
   */
  readonly intervalMs?: number | undefined;
  /** Same as `intervalMs`, for the window algorithms. */
  readonly windowMs?: number | undefined;
  /**
   * Token bucket and GCRA only: the most cost units admitted at once from idle (the bucket size).
   * @defaultValue `limit`
   */
  readonly burst?: number | undefined;
  /**
   * Leaky bucket only: the most cost units that may be queued ahead of a caller. A caller never
   * waits longer than `queueSize × intervalMs / limit`.
   * @defaultValue `limit`
   */
  readonly queueSize?: number | undefined;
  /**
   * Memory state: the most keys kept at once. Idle keys are dropped as soon as their state has
   * expired; beyond `maxKeys` the least recently used key is dropped even if it is not idle (it
   * then starts afresh), so set this above the number of keys active at one time.
   * @defaultValue `100_000`
   */
  readonly maxKeys?: number | undefined;
  /** @defaultValue `'rate-limiter'` */
  readonly name?: string | undefined;
  /** @defaultValue {@link systemClock} */
  readonly clock?: Clock | undefined;
  /**
   * Builds the state the limiter keeps its counts in.
   * @defaultValue {@link memoryRateLimiterState}
   */
  readonly state?: RateLimiterStateFactory | undefined;
}

/**
 * The defaults of {@link RateLimiterOptions}.
 *
 * @example
 * ```ts
 * import { RATE_LIMITER_DEFAULTS } from '@hyx/local';
 * console.log(RATE_LIMITER_DEFAULTS.algorithm); // 'token-bucket'
 * ```
 */
export const RATE_LIMITER_DEFAULTS: {
  readonly algorithm: RateLimitAlgorithmName;
  readonly intervalMs: number;
  readonly maxKeys: number;
  readonly name: string;
  readonly clock: Clock;
  readonly state: RateLimiterStateFactory;
} = Object.freeze({
  algorithm: 'token-bucket',
  intervalMs: 1000,
  maxKeys: 100_000,
  name: 'rate-limiter',
  clock: systemClock,
  state: memoryRateLimiterState,
});

/** Intervals beyond this (about 34 years) would bring `now + 2 × interval` near 2^53. */
const MAX_INTERVAL_MS = 2 ** 40;

const intervalMsSchema = positiveIntSchema.max(MAX_INTERVAL_MS);

const ALGORITHMS_WITH_BURST: readonly RateLimitAlgorithmName[] = ['token-bucket', 'gcra'];

/** @internal */
export const rateLimiterOptionsSchema = z
  .strictObject({
    algorithm: z
      .enum([
        'token-bucket',
        'gcra',
        'sliding-window-log',
        'sliding-window-counter',
        'fixed-window',
        'leaky-bucket',
      ])
      .default(RATE_LIMITER_DEFAULTS.algorithm),
    limit: positiveIntSchema.max(MAX_SCALED),
    intervalMs: intervalMsSchema.optional(),
    windowMs: intervalMsSchema.optional(),
    burst: positiveIntSchema.max(MAX_SCALED).optional(),
    queueSize: nonNegativeIntSchema.max(MAX_SCALED).optional(),
    maxKeys: positiveIntSchema.default(RATE_LIMITER_DEFAULTS.maxKeys),
    name: policyNameSchema.default(RATE_LIMITER_DEFAULTS.name),
    clock: clockSchema.default(() => RATE_LIMITER_DEFAULTS.clock),
    state: functionSchema<RateLimiterStateFactory>().default(() => RATE_LIMITER_DEFAULTS.state),
  })
  .superRefine((options, context) => {
    if (options.intervalMs !== undefined && options.windowMs !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['windowMs'],
        message: 'cannot be given together with intervalMs',
      });
      return;
    }
    if (options.burst !== undefined && !ALGORITHMS_WITH_BURST.includes(options.algorithm)) {
      context.addIssue({
        code: 'custom',
        path: ['burst'],
        message: `only applies to "token-bucket" and "gcra", not "${options.algorithm}"`,
      });
      return;
    }
    if (options.queueSize !== undefined && options.algorithm !== 'leaky-bucket') {
      context.addIssue({
        code: 'custom',
        path: ['queueSize'],
        message: `only applies to "leaky-bucket", not "${options.algorithm}"`,
      });
      return;
    }
    const intervalMs = options.intervalMs ?? options.windowMs ?? RATE_LIMITER_DEFAULTS.intervalMs;
    const config = deriveAlgorithmConfig({ ...options, intervalMs });
    const largest = largestScaledQuantity(options.algorithm, config);
    if (largest > MAX_SCALED) {
      const option =
        options.burst !== undefined ? 'burst' : options.queueSize !== undefined ? 'queueSize' : 'limit';
      context.addIssue({
        code: 'custom',
        path: [option],
        message:
          `is too large to compute exactly with an interval of ${intervalMs} ms ` +
          `(a scaled quantity reaches ${largest}, above 2^52; lower it, or pick an interval that limit divides)`,
      });
    }
  });
