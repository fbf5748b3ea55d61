import { z } from 'zod';

import { durationMsSchema } from '../options/option-schemas.js';
import { parseLabelledOptions } from '../options/parse-options.js';
import type { Backoff } from './backoff.js';
import { type BackoffJitterOptions, UNCAPPED_MAX_DELAY_MS, jitterShape } from './backoff-options.js';
import { shapeDelay } from './shape-delay.js';

/**
 * Options of `backoff.intervals`.
 *
 * @example
 * ```ts
 * import { backoff, type IntervalsBackoffOptions } from '@hyx/local';
 * const options: IntervalsBackoffOptions = { delaysMs: [100, 500, 2_000] };
 * const delays = backoff.intervals(options);
 * ```
 */
export interface IntervalsBackoffOptions extends BackoffJitterOptions {
  /**
   * The delay before the first, second, ... retry, in ms. Once the list runs out, every further
   * retry waits its last entry (the list is not cycled): `maxAttempts` decides when to stop.
   */
  readonly delaysMs: readonly number[];
}

const intervalsBackoffSchema = z.strictObject({
  ...jitterShape,
  delaysMs: z.array(durationMsSchema).refine((delays) => delays.length > 0, { error: 'must not be empty' }),
});

/**
 * Delays from a list: retry `n` waits `delaysMs[n - 1]`, and the last entry once the list runs out.
 *
 * @example
 * ```ts
 * import { backoff, retry } from '@hyx/local';
 * const policy = retry({ maxAttempts: 5, backoff: backoff.intervals({ delaysMs: [100, 1_000, 5_000] }) });
 * ```
 */
export function intervalsBackoff(options: IntervalsBackoffOptions): Backoff {
  const { delaysMs, jitter, random } = parseLabelledOptions(
    'backoff.intervals',
    intervalsBackoffSchema,
    options,
  );
  // A copy, so that a caller mutating their array later cannot change a policy built from it.
  const delays = Object.freeze([...delaysMs]);
  const lastIndex = delays.length - 1;
  return {
    start() {
      let index = 0;
      return {
        nextDelayMs() {
          const rawMs = delays[index] ?? 0;
          if (index < lastIndex) index++;
          return shapeDelay(rawMs, UNCAPPED_MAX_DELAY_MS, jitter, random);
        },
      };
    },
  };
}
