import { decisionOf, floorDiv, type RateLimitAlgorithm } from './rate-limit-algorithm.js';

/**
 * Sliding window counter state: the counts of the current window and of the one before it.
 * Redis hash fields: `start`, `count`, `prev`.
 *
 * @example
 * ```ts
 * import type { SlidingWindowCounterState } from '@hyx/local';
 * const state: SlidingWindowCounterState = { windowStartMs: 60_000, count: 2, previousCount: 7 };
 * ```
 */
export interface SlidingWindowCounterState {
  /** Start of the current window, a multiple of `intervalMs` since the epoch. */
  readonly windowStartMs: number;
  /** Cost admitted in the window starting at `windowStartMs`. */
  readonly count: number;
  /** Cost admitted in the window before it (starting at `windowStartMs - intervalMs`). */
  readonly previousCount: number;
}

/** The state seen from the window starting at `windowStartMs`: rolled forward by 0, 1 or more windows. */
function rolledTo(
  state: SlidingWindowCounterState | undefined,
  windowStartMs: number,
  windowMs: number,
): SlidingWindowCounterState {
  if (state === undefined) return { windowStartMs, count: 0, previousCount: 0 };
  if (state.windowStartMs === windowStartMs) return state;
  if (state.windowStartMs === windowStartMs - windowMs) {
    return { windowStartMs, count: 0, previousCount: state.count };
  }
  return { windowStartMs, count: 0, previousCount: 0 };
}

/**
 * Sliding window counter: two fixed windows of `intervalMs`; the previous window's count is
 * weighted by the part of it still inside the sliding window:
 * `previous × (W − elapsed) / W + current + cost <= limit`, compared in integers by multiplying by W.
 * O(1) state; an estimate that assumes the previous window's calls were spread evenly.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, rateLimitAlgorithms } from '@hyx/local';
 * const config = deriveAlgorithmConfig({ algorithm: 'sliding-window-counter', limit: 100, intervalMs: 60_000 });
 * const step = rateLimitAlgorithms['sliding-window-counter'].decide(undefined, 1, 0, config, 0);
 * ```
 */
export const slidingWindowCounter: RateLimitAlgorithm<SlidingWindowCounterState> = {
  name: 'sliding-window-counter',

  decide(state, cost, nowMs, config) {
    const { limit, intervalMs: windowMs } = config;
    const windowStartMs = Math.floor(nowMs / windowMs) * windowMs;
    const elapsedMs = nowMs - windowStartMs;
    const rolled = rolledTo(state, windowStartMs, windowMs);
    const { count, previousCount } = rolled;
    // All in units of cost × ms: `weighted / windowMs` is the estimated cost in the sliding window.
    const previousWeight = previousCount * (windowMs - elapsedMs);
    const capacity = limit * windowMs;
    const weightedAfter = previousWeight + (count + cost) * windowMs;
    if (weightedAfter <= capacity) {
      const counted = count + cost;
      return {
        state: { windowStartMs, count: counted, previousCount },
        decision: decisionOf(
          true,
          limit,
          floorDiv(capacity - weightedAfter, windowMs),
          0,
          windowStartMs + 2 * windowMs - nowMs,
          0,
        ),
      };
    }
    const weighted = previousWeight + count * windowMs;
    const remaining = weighted < capacity ? floorDiv(capacity - weighted, windowMs) : 0;
    let retryAfterMs: number;
    if (count + cost > limit) {
      // The current count alone is too much: wait until it is the previous window and has faded
      // enough: count × (W − e) <= (limit − cost) × W, at elapsed e of the next window.
      const fadedMs = windowMs - floorDiv((limit - cost) * windowMs, count);
      retryAfterMs = windowMs - elapsedMs + fadedMs;
    } else {
      // Only the previous window's share is too much: wait until previous × (W − e) fits.
      const fadedMs = windowMs - floorDiv((limit - count - cost) * windowMs, previousCount);
      retryAfterMs = fadedMs - elapsedMs;
    }
    const resetAfterMs =
      count > 0 ? windowStartMs + 2 * windowMs - nowMs : previousCount > 0 ? windowMs - elapsedMs : 0;
    return {
      state: state ?? rolled,
      decision: decisionOf(false, limit, remaining, retryAfterMs, resetAfterMs, 0),
    };
  },

  refund(state, cost, nowMs, config) {
    const windowMs = config.intervalMs;
    const rolled = rolledTo(state, Math.floor(nowMs / windowMs) * windowMs, windowMs);
    // Give back from the current window first; what it did not hold came from the previous one.
    const fromCurrent = cost < rolled.count ? cost : rolled.count;
    const fromPrevious =
      cost - fromCurrent < rolled.previousCount ? cost - fromCurrent : rolled.previousCount;
    return {
      windowStartMs: rolled.windowStartMs,
      count: rolled.count - fromCurrent,
      previousCount: rolled.previousCount - fromPrevious,
    };
  },

  expiresAtMs(state, config) {
    if (state.count > 0) return state.windowStartMs + 2 * config.intervalMs;
    if (state.previousCount > 0) return state.windowStartMs + config.intervalMs;
    return state.windowStartMs;
  },
};
