import { z } from 'zod';

import { parseLabelledOptions } from '../options/parse-options.js';
import type { Backoff } from './backoff.js';
import { type GrowingBackoffOptions, growingShape, refineMaxAtLeastInitial } from './backoff-options.js';
import { shapeDelay, unitRandom } from './shape-delay.js';

/**
 * Options of `backoff.decorrelatedExponential`.
 *
 * @example
 * ```ts
 * import { backoff, type DecorrelatedExponentialBackoffOptions } from '@hyx/local';
 * const options: DecorrelatedExponentialBackoffOptions = { initialDelayMs: 100, factor: 3 };
 * const delays = backoff.decorrelatedExponential(options);
 * ```
 */
export interface DecorrelatedExponentialBackoffOptions extends GrowingBackoffOptions {
  /**
   * How far above the previous delay the next one may reach. At least 1.
   * @defaultValue `3`
   */
  readonly factor?: number | undefined;
}

/** The default growth bound of `backoff.decorrelatedExponential`, as in the AWS article. */
const DECORRELATED_FACTOR = 3;

const decorrelatedExponentialBackoffSchema = z
  .strictObject({ ...growingShape, factor: z.number().min(1).default(DECORRELATED_FACTOR) })
  .superRefine(refineMaxAtLeastInitial);

/**
 * AWS's "decorrelated jitter": each delay is drawn uniformly between `initialDelayMs` and `factor`
 * times the previous delay, capped: `d(n) = min(maxDelayMs, initialDelayMs + random × (factor ×
 * d(n - 1) - initialDelayMs))` with `d(0) = initialDelayMs`. It is random by itself, so `jitter`
 * defaults to `'none'`; a jitter given is applied on top.
 *
 * @example
 * ```ts
 * import { backoff, retry } from '@hyx/local';
 * const policy = retry({
 *   maxAttempts: 5,
 *   backoff: backoff.decorrelatedExponential({ initialDelayMs: 100, maxDelayMs: 5_000 }),
 * });
 * ```
 */
export function decorrelatedExponentialBackoff(options?: DecorrelatedExponentialBackoffOptions): Backoff {
  const { initialDelayMs, factor, maxDelayMs, jitter, random } = parseLabelledOptions(
    'backoff.decorrelatedExponential',
    decorrelatedExponentialBackoffSchema,
    options,
  );
  return {
    start() {
      let previousMs = initialDelayMs;
      return {
        nextDelayMs() {
          const ceilingMs = previousMs * factor;
          const drawnMs = initialDelayMs + unitRandom(random) * (ceilingMs - initialDelayMs);
          // previousMs stays <= maxDelayMs <= 2^31-1, so factor × previousMs never overflows.
          previousMs = drawnMs < maxDelayMs ? drawnMs : maxDelayMs;
          return shapeDelay(previousMs, maxDelayMs, jitter, random);
        },
      };
    },
  };
}
