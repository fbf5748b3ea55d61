import { z } from 'zod';

import { parseLabelledOptions } from '../options/parse-options.js';
import type { Backoff } from './backoff.js';
import { type GrowingBackoffOptions, growingShape, refineMaxAtLeastInitial } from './backoff-options.js';
import { shapeDelay, unitRandom } from './shape-delay.js';

/**
 * Options of `backoff.softExponential`. `initialDelayMs` is the median of the first delay.
 *
 * @example
 * ```ts
 * import { backoff, type SoftExponentialBackoffOptions } from '@hyx/local';
 * const options: SoftExponentialBackoffOptions = { initialDelayMs: 1_000, maxDelayMs: 60_000 };
 * const delays = backoff.softExponential(options);
 * ```
 */
export type SoftExponentialBackoffOptions = GrowingBackoffOptions;

const softExponentialBackoffSchema = z.strictObject(growingShape).superRefine(refineMaxAtLeastInitial);

/** Smooths the first delay (Polly's `pFactor`). */
const SMOOTHING = 4;
/** Scales the medians onto 1, 2, 4, ... × initialDelayMs instead of 1.4, 2.8, 5.6 (Polly's `rpScalingFactor`). */
const MEDIAN_SCALE = 1 / 1.4;

/**
 * The position of the formula at time `t`: `2^t × tanh(√(4t))`. Increasing in `t`.
 */
function softCurve(t: number): number {
  return 2 ** t * Math.tanh(Math.sqrt(SMOOTHING * t));
}

/**
 * Polly's "decorrelated jitter v2" (by George Polevoy, Polly issue 530): exponential growth whose
 * delays are jittered without the spikes and clustering of the AWS formula. For retry `n`,
 * `t = n - 1 + random` and the delay is `(curve(t) - curve(t_prev)) / 1.4 × initialDelayMs`, capped,
 * where `curve(t) = 2^t × tanh(√(4t))`. Median delays land near `initialDelayMs × 1, 2, 4, ...`.
 * Random by itself, so `jitter` defaults to `'none'`. Past ~1,000 retries the curve overflows and
 * every delay is `maxDelayMs`.
 *
 * @example
 * ```ts
 * import { backoff, retry } from '@hyx/local';
 * const policy = retry({ maxAttempts: 6, backoff: backoff.softExponential({ initialDelayMs: 200 }) });
 * ```
 */
export function softExponentialBackoff(options?: SoftExponentialBackoffOptions): Backoff {
  const { initialDelayMs, maxDelayMs, jitter, random } = parseLabelledOptions(
    'backoff.softExponential',
    softExponentialBackoffSchema,
    options,
  );
  return {
    start() {
      let retry = 0;
      let previousPosition = 0;
      return {
        nextDelayMs() {
          retry++;
          const position = softCurve(retry - 1 + unitRandom(random));
          // t only grows (random is in [0, 1]), so the step is >= 0 until the curve overflows:
          // then it is Infinity or NaN (Infinity - Infinity), which shapeDelay turns into the cap.
          const stepMs =
            initialDelayMs === 0 ? 0 : (position - previousPosition) * MEDIAN_SCALE * initialDelayMs;
          previousPosition = position;
          return shapeDelay(stepMs, maxDelayMs, jitter, random);
        },
      };
    },
  };
}
