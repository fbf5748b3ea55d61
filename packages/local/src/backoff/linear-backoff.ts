import { z } from 'zod';

import { durationMsSchema } from '../options/option-schemas.js';
import { parseLabelledOptions } from '../options/parse-options.js';
import type { Backoff } from './backoff.js';
import { type GrowingBackoffOptions, growingShape, refineMaxAtLeastInitial } from './backoff-options.js';
import { shapeDelay } from './shape-delay.js';

/**
 * Options of `backoff.linear`.
 *
 * @example
 * ```ts
 * import { backoff, type LinearBackoffOptions } from '@hyx/local';
 * const options: LinearBackoffOptions = { initialDelayMs: 100, stepMs: 50, maxDelayMs: 1_000 };
 * const delays = backoff.linear(options);
 * ```
 */
export interface LinearBackoffOptions extends GrowingBackoffOptions {
  /**
   * How much each retry adds to the previous delay, in ms.
   * @defaultValue `initialDelayMs`
   */
  readonly stepMs?: number | undefined;
}

const linearBackoffSchema = z
  .strictObject({ ...growingShape, stepMs: durationMsSchema.optional() })
  .superRefine(refineMaxAtLeastInitial);

/**
 * A delay that grows by a fixed step: retry `n` waits `min(maxDelayMs, initialDelayMs + (n - 1) × stepMs)`,
 * then jitter.
 *
 * @example
 * ```ts
 * import { backoff, retry } from '@hyx/local';
 * // 100, 200, 300, 400 ms ...
 * const policy = retry({ maxAttempts: 5, backoff: backoff.linear({ initialDelayMs: 100 }) });
 * ```
 */
export function linearBackoff(options?: LinearBackoffOptions): Backoff {
  const { initialDelayMs, stepMs, maxDelayMs, jitter, random } = parseLabelledOptions(
    'backoff.linear',
    linearBackoffSchema,
    options,
  );
  const step = stepMs ?? initialDelayMs;
  return {
    start() {
      let retry = 0;
      return {
        nextDelayMs() {
          retry++;
          // Finite for any retry count: both terms are bounded by 2^31 and retry by 2^53.
          return shapeDelay(initialDelayMs + (retry - 1) * step, maxDelayMs, jitter, random);
        },
      };
    },
  };
}
