import { z } from 'zod';

import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import {
  clockSchema,
  functionSchema,
  policyNameSchema,
  positiveIntSchema,
} from '../options/option-schemas.js';

/**
 * Options of {@link cache}.
 *
 * @example
 * ```ts
 * import { cache } from '@hyx/local';
 * // Keep up to 500 results for 30 s; never keep an empty list.
 * const prices = cache({ name: 'prices', ttlMs: 30_000, maxEntries: 500, shouldCache: (rows) => Array.isArray(rows) && rows.length > 0 });
 * ```
 */
export interface CacheOptions {
  /**
   * How long a result stays fresh, in ms from the moment its execution finished: a number >= 0, or
   * `Infinity` (until evicted). `0` keeps nothing and only coalesces concurrent calls.
   */
  readonly ttlMs: number;
  /**
   * How many results are kept; storing one more evicts the least recently used. An integer >= 1.
   * @defaultValue `1000`
   */
  readonly maxEntries?: number | undefined;
  /**
   * Which successful results are kept, e.g. `(response) => response.status === 200`. Failures are
   * never kept.
   * @defaultValue every result
   */
  readonly shouldCache?: ((result: unknown) => boolean) | undefined;
  /** @defaultValue `'cache'` */
  readonly name?: string | undefined;
  /** @defaultValue {@link systemClock} */
  readonly clock?: Clock | undefined;
}

/**
 * The defaults of {@link CacheOptions}.
 *
 * @example
 * ```ts
 * import { CACHE_DEFAULTS, cache } from '@hyx/local';
 * const small = cache({ ttlMs: 5000, maxEntries: CACHE_DEFAULTS.maxEntries / 10 });
 * ```
 */
export const CACHE_DEFAULTS = Object.freeze({
  maxEntries: 1000,
  shouldCache: (): boolean => true,
  name: 'cache',
  clock: systemClock,
});

/** A time to live in ms >= 0, or `Infinity`. */
const ttlMsSchema = z.custom<number>((value) => typeof value === 'number' && value >= 0, {
  error: 'must be a number of ms >= 0 or Infinity',
});

/** @internal */
export const cacheOptionsSchema = z.strictObject({
  ttlMs: ttlMsSchema,
  maxEntries: positiveIntSchema.default(CACHE_DEFAULTS.maxEntries),
  shouldCache: functionSchema<(result: unknown) => boolean>().default(() => CACHE_DEFAULTS.shouldCache),
  name: policyNameSchema.default(CACHE_DEFAULTS.name),
  clock: clockSchema.default(() => CACHE_DEFAULTS.clock),
});
