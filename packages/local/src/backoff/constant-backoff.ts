import { z } from 'zod';

import { durationMsSchema } from '../options/option-schemas.js';
import { parseLabelledOptions } from '../options/parse-options.js';
import type { Backoff, BackoffSequence } from './backoff.js';
import { type BackoffJitterOptions, UNCAPPED_MAX_DELAY_MS, jitterShape } from './backoff-options.js';
import { shapeDelay } from './shape-delay.js';

/**
 * Options of `backoff.constant`.
 *
 * @example
 * ```ts
 * import { backoff, type ConstantBackoffOptions } from '@hyx/local';
 * const options: ConstantBackoffOptions = { delayMs: 250, jitter: 'equal' };
 * const delays = backoff.constant(options);
 * ```
 */
export interface ConstantBackoffOptions extends BackoffJitterOptions {
  /** The delay before every retry, in ms. */
  readonly delayMs: number;
}

const constantBackoffSchema = z.strictObject({ ...jitterShape, delayMs: durationMsSchema });

/**
 * The same delay before every retry: `delayMs`, then jitter.
 *
 * @example
 * ```ts
 * import { backoff, retry } from '@hyx/local';
 * const policy = retry({ maxAttempts: 4, backoff: backoff.constant({ delayMs: 200 }) });
 * ```
 */
export function constantBackoff(options: ConstantBackoffOptions): Backoff {
  const { delayMs, jitter, random } = parseLabelledOptions(
    'backoff.constant',
    constantBackoffSchema,
    options,
  );
  const sequence: BackoffSequence = {
    nextDelayMs: () => shapeDelay(delayMs, UNCAPPED_MAX_DELAY_MS, jitter, random),
  };
  // Nothing changes from one retry to the next, so every execution can share one sequence.
  return { start: () => sequence };
}
