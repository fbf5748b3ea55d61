import { z } from 'zod';

import { clockSchema, functionSchema, policyNameSchema } from '../options/option-schemas.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';

/** What a fallback hands to a function `value`. */
export type FallbackReason =
  { readonly kind: 'error'; readonly error: unknown } | { readonly kind: 'result'; readonly result: unknown };

/**
 * Options of {@link fallback}.
 *
 * @example
 * ```ts
 * import { fallback } from '@hyx/local';
 * const policy = fallback({ value: () => 'cached answer', shouldHandle: (error) => error instanceof TypeError });
 * ```
 */
export interface FallbackOptions<TAlt> {
  /**
   * The alternative: a value, or a function of what went wrong that returns one (or a promise).
   * A value that is itself a function must be wrapped: `value: () => myFunction`.
   */
  readonly value: TAlt | ((reason: FallbackReason) => TAlt | PromiseLike<TAlt>);
  /**
   * Which errors fall back.
   * @defaultValue every error except the caller's own abort (`signal.reason`)
   */
  readonly shouldHandle?: ((error: unknown) => boolean) | undefined;
  /**
   * Which results fall back, e.g. `(response) => response.status >= 500`.
   * @defaultValue no result falls back
   */
  readonly shouldHandleResult?: ((result: unknown) => boolean) | undefined;
  /** @defaultValue `'fallback'` */
  readonly name?: string | undefined;
  /** @defaultValue {@link systemClock} */
  readonly clock?: Clock | undefined;
}

/** The defaults of {@link FallbackOptions}. */
export const FALLBACK_DEFAULTS = Object.freeze({
  name: 'fallback',
  clock: systemClock,
  shouldHandle: (): boolean => true,
  shouldHandleResult: (): boolean => false,
});

/** @internal */
export const fallbackOptionsSchema = z.strictObject({
  value: z.unknown(),
  shouldHandle: functionSchema<(error: unknown) => boolean>().default(() => FALLBACK_DEFAULTS.shouldHandle),
  shouldHandleResult: functionSchema<(result: unknown) => boolean>().default(
    () => FALLBACK_DEFAULTS.shouldHandleResult,
  ),
  name: policyNameSchema.default(FALLBACK_DEFAULTS.name),
  clock: clockSchema.default(() => FALLBACK_DEFAULTS.clock),
});
