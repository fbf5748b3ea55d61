import { z } from 'zod';

import { parseLabelledOptions } from '../options/parse-options.js';
import type { Backoff } from './backoff.js';
import { type GrowingBackoffOptions, growingShape, refineMaxAtLeastInitial } from './backoff-options.js';
import { shapeDelay } from './shape-delay.js';

/**
 * Options of `backoff.exponential`.
 *
 * @example
 * ```ts
 * import { backoff, type ExponentialBackoffOptions } from '@hyx/local';
 * const options: ExponentialBackoffOptions = { initialDelayMs: 100, factor: 3, maxDelayMs: 10_000 };
 * const delays = backoff.exponential(options);
 * ```
 */
export interface ExponentialBackoffOptions extends GrowingBackoffOptions {
  /**
   * The base of the exponential: each delay is the previous one times `factor`. At least 1.
   * @defaultValue `2`
   */
  readonly factor?: number | undefined;
}

/** The default base of `backoff.exponential`. */
const EXPONENTIAL_FACTOR = 2;

const exponentialBackoffSchema = z
  .strictObject({ ...growingShape, factor: z.number().min(1).default(EXPONENTIAL_FACTOR) })
  .superRefine(refineMaxAtLeastInitial);

/**
 * A delay that multiplies by `factor` each retry: retry `n` waits
 * `min(maxDelayMs, initialDelayMs × factor^(n - 1))`, then jitter.
 *
 * @example
 * ```ts
 * import { backoff, retry } from '@hyx/local';
 * // 100, 200, 400, 800 ms ... up to 30 s, each spread over [0, delay]
 * const policy = retry({ maxAttempts: 6, backoff: backoff.exponential({ initialDelayMs: 100, jitter: 'full' }) });
 * ```
 */
export function exponentialBackoff(options?: ExponentialBackoffOptions): Backoff {
  const { initialDelayMs, factor, maxDelayMs, jitter, random } = parseLabelledOptions(
    'backoff.exponential',
    exponentialBackoffSchema,
    options,
  );
  return {
    start() {
      let retry = 0;
      return {
        nextDelayMs() {
          retry++;
          // factor ** n reaches Infinity after enough retries; 0 × Infinity would be NaN.
          const rawMs = initialDelayMs === 0 ? 0 : initialDelayMs * factor ** (retry - 1);
          return shapeDelay(rawMs, maxDelayMs, jitter, random);
        },
      };
    },
  };
}
