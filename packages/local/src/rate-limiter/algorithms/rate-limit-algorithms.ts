import { fixedWindow } from './fixed-window.js';
import { gcra } from './gcra.js';
import { leakyBucket } from './leaky-bucket.js';
import type { RateLimitAlgorithm, RateLimitAlgorithmName } from './rate-limit-algorithm.js';
import { slidingWindowCounter } from './sliding-window-counter.js';
import { slidingWindowLog } from './sliding-window-log.js';
import { tokenBucket } from './token-bucket.js';

/**
 * Every rate-limit algorithm by name, as pure functions: what the memory state runs, and what the
 * differential test compares with the Lua scripts.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, rateLimitAlgorithms } from '@hyx/local';
 * const config = deriveAlgorithmConfig({ algorithm: 'fixed-window', limit: 2, intervalMs: 1000 });
 * const { decision } = rateLimitAlgorithms['fixed-window'].decide(undefined, 1, 0, config, 0);
 * ```
 */
export const rateLimitAlgorithms: {
  readonly [TName in RateLimitAlgorithmName]: RateLimitAlgorithm<unknown>;
} = Object.freeze({
  'token-bucket': tokenBucket,
  gcra,
  'sliding-window-log': slidingWindowLog,
  'sliding-window-counter': slidingWindowCounter,
  'fixed-window': fixedWindow,
  'leaky-bucket': leakyBucket,
});
