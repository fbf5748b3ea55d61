import { z } from 'zod';

import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import {
  clockSchema,
  functionSchema,
  policyNameSchema,
  positiveIntSchema,
} from '../options/option-schemas.js';
import type { BulkheadStateProvider } from './bulkhead-state.js';
import { memoryBulkheadState } from './memory-bulkhead-state.js';

/**
 * Options of {@link bulkhead}.
 *
 * @example
 * ```ts
 * import { bulkhead } from '@hyx/local';
 * // 10 calls at once, 20 more may wait up to 2 s each, the rest are refused at once.
 * const db = bulkhead({ name: 'db', maxConcurrent: 10, maxQueue: 20, queueTimeoutMs: 2000 });
 * ```
 */
export interface BulkheadOptions {
  /** How many calls may run at once. An integer >= 1. */
  readonly maxConcurrent: number;
  /**
   * How many calls may wait for a permit when all are taken; a call beyond that is refused with
   * `BulkheadFullError`. An integer >= 0, or `Infinity`.
   * @defaultValue `0` (no queue: a call that finds no free permit is refused at once)
   */
  readonly maxQueue?: number | undefined;
  /**
   * How long a queued call waits for a permit before it is refused with `BulkheadFullError`.
   * A number of ms > 0, or `Infinity` (wait as long as it takes, or until the caller aborts).
   * @defaultValue `Infinity`
   */
  readonly queueTimeoutMs?: number | undefined;
  /**
   * Builds the state that counts permits, from this bulkhead's settings (`maxConcurrent`). Replace
   * it to keep permits elsewhere: the Redis bulkhead of `@hyx/distributed` does.
   * @defaultValue `memoryBulkheadState()`
   */
  readonly state?: BulkheadStateProvider | undefined;
  /** @defaultValue `'bulkhead'` */
  readonly name?: string | undefined;
  /** @defaultValue {@link systemClock} */
  readonly clock?: Clock | undefined;
}

/**
 * The defaults of {@link BulkheadOptions}.
 *
 * @example
 * ```ts
 * import { BULKHEAD_DEFAULTS, bulkhead } from '@hyx/local';
 * const db = bulkhead({ maxConcurrent: 4, maxQueue: BULKHEAD_DEFAULTS.maxQueue + 8 });
 * ```
 */
export const BULKHEAD_DEFAULTS = Object.freeze({
  maxQueue: 0,
  queueTimeoutMs: Infinity,
  state: memoryBulkheadState(),
  name: 'bulkhead',
  clock: systemClock,
});

/** A whole number >= 0, or `Infinity`. */
const queueLengthSchema = z.custom<number>(
  (value) => value === Infinity || (typeof value === 'number' && Number.isInteger(value) && value >= 0),
  { error: 'must be an integer >= 0 or Infinity' },
);

/** A wait in ms > 0, or `Infinity`. */
const queueTimeoutMsSchema = z.custom<number>(
  (value) => typeof value === 'number' && value > 0 && !Number.isNaN(value),
  { error: 'must be a number of ms > 0 or Infinity' },
);

/** @internal */
export const bulkheadOptionsSchema = z.strictObject({
  maxConcurrent: positiveIntSchema,
  maxQueue: queueLengthSchema.default(BULKHEAD_DEFAULTS.maxQueue),
  queueTimeoutMs: queueTimeoutMsSchema.default(BULKHEAD_DEFAULTS.queueTimeoutMs),
  state: functionSchema<BulkheadStateProvider>().default(() => BULKHEAD_DEFAULTS.state),
  name: policyNameSchema.default(BULKHEAD_DEFAULTS.name),
  clock: clockSchema.default(() => BULKHEAD_DEFAULTS.clock),
});
