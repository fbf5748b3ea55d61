import { z } from 'zod';

import { parseLabelledOptions } from '../options/parse-options.js';
import type { Backoff } from './backoff.js';
import { type GrowingBackoffOptions, growingShape, refineMaxAtLeastInitial } from './backoff-options.js';
import { shapeDelay } from './shape-delay.js';

/**
 * Options of `backoff.fibonacci`.
 *
 * @example
 * ```ts
 * import { backoff, type FibonacciBackoffOptions } from '@hyx/local';
 * const options: FibonacciBackoffOptions = { initialDelayMs: 100, maxDelayMs: 5_000 };
 * const delays = backoff.fibonacci(options);
 * ```
 */
export type FibonacciBackoffOptions = GrowingBackoffOptions;

const fibonacciBackoffSchema = z.strictObject(growingShape).superRefine(refineMaxAtLeastInitial);

/**
 * Delays that follow the Fibonacci numbers 1, 1, 2, 3, 5, 8, ...: retry `n` waits
 * `min(maxDelayMs, initialDelayMs × F(n))`, then jitter. It grows more gently than doubling.
 *
 * @example
 * ```ts
 * import { backoff, retry } from '@hyx/local';
 * // 100, 100, 200, 300, 500 ms ...
 * const policy = retry({ maxAttempts: 6, backoff: backoff.fibonacci({ initialDelayMs: 100 }) });
 * ```
 */
export function fibonacciBackoff(options?: FibonacciBackoffOptions): Backoff {
  const { initialDelayMs, maxDelayMs, jitter, random } = parseLabelledOptions(
    'backoff.fibonacci',
    fibonacciBackoffSchema,
    options,
  );
  return {
    start() {
      // F(n) and F(n + 1) in units of initialDelayMs.
      let current = 1;
      let next = 1;
      return {
        nextDelayMs() {
          const rawMs = initialDelayMs * current;
          // Stop advancing once past the cap: the sum would reach Infinity after ~1,476 retries.
          if (rawMs < maxDelayMs) {
            const sum = current + next;
            current = next;
            next = sum;
          }
          return shapeDelay(rawMs, maxDelayMs, jitter, random);
        },
      };
    },
  };
}
