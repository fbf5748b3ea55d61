import type { Jitter } from './backoff-options.js';

/**
 * A draw of `random` forced into `[0, 1]`: a user's random source that returns 1.5 or `NaN` must not
 * push a delay out of its bounds.
 *
 * @internal
 */
export function unitRandom(random: () => number): number {
  const value = random();
  // `NaN >= 0` is false, so NaN lands on 0.
  return value >= 0 ? (value <= 1 ? value : 1) : 0;
}

/**
 * `value` forced into `[0, maxMs]`; a `NaN` or a non-number (from user code) becomes `fallbackMs`.
 *
 * @internal
 */
export function clampDelayMs(value: unknown, maxMs: number, fallbackMs: number): number {
  if (typeof value !== 'number' || Number.isNaN(value)) return fallbackMs;
  if (value <= 0) return 0;
  return value < maxMs ? value : maxMs;
}

/**
 * What every backoff does after its formula: cap the raw delay at `capMs`, then apply `jitter`.
 * The result is finite and within `[0, capMs]` whatever the formula produced (`Infinity` after an
 * overflow, `NaN` from `Infinity - Infinity`) and whatever `random` and a jitter function return.
 *
 * @internal
 */
export function shapeDelay(rawMs: number, capMs: number, jitter: Jitter, random: () => number): number {
  // An overflowed formula (Infinity, or NaN from Infinity - Infinity) means "beyond the cap".
  const cappedMs = rawMs < capMs ? (rawMs > 0 ? rawMs : 0) : capMs;
  switch (jitter) {
    case 'none':
      return cappedMs;
    case 'full':
      return cappedMs * unitRandom(random);
    case 'equal': {
      // Halving then adding rounds up for subnormal caps (7.4e-323 / 2 + ... = 8e-323): clamp.
      const halfMs = cappedMs / 2;
      const delayMs = halfMs + halfMs * unitRandom(random);
      return delayMs < cappedMs ? delayMs : cappedMs;
    }
    default:
      return clampDelayMs(jitter(cappedMs, random), capMs, cappedMs);
  }
}
