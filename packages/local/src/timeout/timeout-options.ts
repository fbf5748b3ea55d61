import { z } from 'zod';

import { clockSchema, policyNameSchema, positiveDurationMsSchema } from '../options/option-schemas.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';

/**
 * What a timeout does when the deadline passes:
 * - `'cooperative'` aborts the work's signal and waits for the work: a rejection becomes a
 *   `TimeoutError` (the work's error as `cause`), a value returned anyway is returned;
 * - `'aggressive'` aborts the work's signal and rejects with the `TimeoutError` at once, even if the
 *   work ignores its signal (the work keeps running in the background; its outcome is dropped).
 */
export type TimeoutStrategy = 'cooperative' | 'aggressive';

/**
 * Options of {@link timeout}.
 *
 * @example
 * ```ts
 * import { timeout } from '@hyx/local';
 * const policy = timeout({ timeoutMs: 250, strategy: 'aggressive', name: 'search' });
 * ```
 */
export interface TimeoutOptions {
  /** How long the work may run, in ms: > 0 and at most 2^31-1. */
  readonly timeoutMs: number;
  /**
   * What happens at the deadline (see {@link TimeoutStrategy}).
   * @defaultValue `'cooperative'`
   */
  readonly strategy?: TimeoutStrategy | undefined;
  /** @defaultValue `'timeout'` */
  readonly name?: string | undefined;
  /** @defaultValue {@link systemClock} */
  readonly clock?: Clock | undefined;
}

/**
 * The defaults of {@link TimeoutOptions}.
 *
 * @example
 * ```ts
 * import { TIMEOUT_DEFAULTS } from '@hyx/local';
 * const strategy: 'cooperative' | 'aggressive' = TIMEOUT_DEFAULTS.strategy;
 * ```
 */
export const TIMEOUT_DEFAULTS = Object.freeze({
  strategy: 'cooperative',
  name: 'timeout',
  clock: systemClock,
});

/** @internal */
export const timeoutOptionsSchema = z.strictObject({
  timeoutMs: positiveDurationMsSchema,
  strategy: z.enum(['cooperative', 'aggressive']).default(TIMEOUT_DEFAULTS.strategy),
  name: policyNameSchema.default(TIMEOUT_DEFAULTS.name),
  clock: clockSchema.default(() => TIMEOUT_DEFAULTS.clock),
});
