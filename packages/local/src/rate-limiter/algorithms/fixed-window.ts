import { decisionOf, type RateLimitAlgorithm } from './rate-limit-algorithm.js';

/**
 * Fixed window state: the window the count belongs to and the cost admitted in it.
 * Redis hash fields: `start`, `count`.
 *
 * @example
 * ```ts
 * import type { FixedWindowState } from '@hyx/local';
 * const state: FixedWindowState = { windowStartMs: 60_000, count: 3 };
 * ```
 */
export interface FixedWindowState {
  /** Start of the window, a multiple of `intervalMs` since the epoch. */
  readonly windowStartMs: number;
  /** Cost admitted in that window, `0 <= count <= limit`. */
  readonly count: number;
}

/** The start of the window holding `nowMs`; windows are aligned to the epoch. */
function windowStartOf(nowMs: number, windowMs: number): number {
  return Math.floor(nowMs / windowMs) * windowMs;
}

/**
 * Fixed window: time is cut into windows of `intervalMs` aligned to the epoch; each admits up to
 * `limit` cost units. Cheap and exact per window, but up to `2 × limit` can pass around a boundary.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, rateLimitAlgorithms } from '@hyx/local';
 * const config = deriveAlgorithmConfig({ algorithm: 'fixed-window', limit: 100, intervalMs: 60_000 });
 * const step = rateLimitAlgorithms['fixed-window'].decide(undefined, 1, 0, config, 0);
 * ```
 */
export const fixedWindow: RateLimitAlgorithm<FixedWindowState> = {
  name: 'fixed-window',

  decide(state, cost, nowMs, config) {
    const { limit, intervalMs } = config;
    const windowStartMs = windowStartOf(nowMs, intervalMs);
    const count = state !== undefined && state.windowStartMs === windowStartMs ? state.count : 0;
    const windowLeftMs = windowStartMs + intervalMs - nowMs;
    if (count + cost <= limit) {
      const counted = count + cost;
      return {
        state: { windowStartMs, count: counted },
        decision: decisionOf(true, limit, limit - counted, 0, windowLeftMs, 0),
      };
    }
    return {
      state: state ?? { windowStartMs, count },
      decision: decisionOf(false, limit, limit - count, windowLeftMs, count > 0 ? windowLeftMs : 0, 0),
    };
  },

  refund(state, cost, nowMs, config) {
    // A refund for an earlier window has nothing to give back: that window is over.
    if (state.windowStartMs !== windowStartOf(nowMs, config.intervalMs)) return state;
    const count = state.count - cost;
    return { windowStartMs: state.windowStartMs, count: count > 0 ? count : 0 };
  },

  expiresAtMs(state, config) {
    return state.count > 0 ? state.windowStartMs + config.intervalMs : state.windowStartMs;
  },
};
