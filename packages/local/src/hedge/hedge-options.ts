import { z } from 'zod';

import {
  clockSchema,
  durationMsSchema,
  policyNameSchema,
  positiveIntSchema,
} from '../options/option-schemas.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';

/**
 * Options of {@link hedge}.
 *
 * @example
 * ```ts
 * import { hedge } from '@hyx/local';
 * // Around the p95 latency of the service: 5% of calls send a second request.
 * const policy = hedge({ delayMs: 120, maxHedgedAttempts: 2, name: 'catalog' });
 * ```
 */
export interface HedgeOptions {
  /**
   * How long an attempt may run without a result before the next one starts, in ms (>= 0). A good
   * value is a high percentile of the normal latency: only the slow tail is hedged.
   */
  readonly delayMs: number;
  /**
   * How many attempts may start in addition to the first one: 1 means at most two in flight.
   * @defaultValue `1`
   */
  readonly maxHedgedAttempts?: number | undefined;
  /** @defaultValue `'hedge'` */
  readonly name?: string | undefined;
  /** @defaultValue {@link systemClock} */
  readonly clock?: Clock | undefined;
}

/**
 * The defaults of {@link HedgeOptions}.
 *
 * @example
 * ```ts
 * import { HEDGE_DEFAULTS } from '@hyx/local';
 * const extraAttempts: number = HEDGE_DEFAULTS.maxHedgedAttempts; // 1
 * ```
 */
export const HEDGE_DEFAULTS = Object.freeze({
  maxHedgedAttempts: 1,
  name: 'hedge',
  clock: systemClock,
});

/** @internal */
export const hedgeOptionsSchema = z.strictObject({
  delayMs: durationMsSchema,
  maxHedgedAttempts: positiveIntSchema.max(100).default(HEDGE_DEFAULTS.maxHedgedAttempts),
  name: policyNameSchema.default(HEDGE_DEFAULTS.name),
  clock: clockSchema.default(() => HEDGE_DEFAULTS.clock),
});
