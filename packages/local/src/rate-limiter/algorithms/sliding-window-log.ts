import { decisionOf, type RateLimitAlgorithm } from './rate-limit-algorithm.js';

/**
 * Sliding window log state: every admitted request still inside the window, oldest first, with
 * requests of the same millisecond merged into one entry (so at most `limit` entries). In Redis: a
 * list of `"<timeMs>:<cost>"` entries plus a `used` counter.
 *
 * The arrays are updated in place by {@link slidingWindowLog}; copying them would make every
 * decision O(limit).
 *
 * @example
 * ```ts
 * import type { SlidingWindowLogState } from '@hyx/local';
 * const state: SlidingWindowLogState = { timesMs: [1000, 1200], costs: [1, 3], used: 4 };
 * ```
 */
export interface SlidingWindowLogState {
  /** Admission times in ms, ascending. */
  readonly timesMs: number[];
  /** The cost admitted at `timesMs[i]`. */
  readonly costs: number[];
  /** The sum of `costs`. */
  used: number;
}

/** Drops the entries that left the window `(nowMs - windowMs, nowMs]`. */
function dropExpired(state: SlidingWindowLogState, nowMs: number, windowMs: number): void {
  const { timesMs, costs } = state;
  let expired = 0;
  while (expired < timesMs.length && (timesMs[expired] ?? 0) + windowMs <= nowMs) {
    state.used -= costs[expired] ?? 0;
    expired++;
  }
  if (expired > 0) {
    timesMs.splice(0, expired);
    costs.splice(0, expired);
  }
}

/**
 * Sliding window log: remembers when each admitted request happened; a request is admitted when the
 * cost admitted in the last `intervalMs` (the window `(now − W, now]`) plus its own is at most
 * `limit`. Exact for every window; memory grows with the limit.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, rateLimitAlgorithms } from '@hyx/local';
 * const config = deriveAlgorithmConfig({ algorithm: 'sliding-window-log', limit: 10, intervalMs: 1000 });
 * const step = rateLimitAlgorithms['sliding-window-log'].decide(undefined, 1, 0, config, 0);
 * ```
 */
export const slidingWindowLog: RateLimitAlgorithm<SlidingWindowLogState> = {
  name: 'sliding-window-log',

  decide(given, cost, nowMs, config) {
    const { limit, intervalMs: windowMs } = config;
    const state = given ?? { timesMs: [], costs: [], used: 0 };
    dropExpired(state, nowMs, windowMs);
    const { timesMs, costs } = state;
    const last = timesMs.length - 1;
    if (state.used + cost <= limit) {
      // A clock that stepped back records at the newest time, so the log stays in order.
      const newestMs = last >= 0 ? (timesMs[last] ?? 0) : -Infinity;
      if (newestMs >= nowMs) {
        costs[last] = (costs[last] ?? 0) + cost;
      } else {
        timesMs.push(nowMs);
        costs.push(cost);
      }
      state.used += cost;
      const resetAfterMs = (timesMs[timesMs.length - 1] ?? nowMs) + windowMs - nowMs;
      return { state, decision: decisionOf(true, limit, limit - state.used, 0, resetAfterMs, 0) };
    }
    // Denied: wait until enough of the oldest entries leave the window for `cost` to fit.
    let stillUsed = state.used;
    let retryAfterMs = 0;
    for (let index = 0; index <= last; index++) {
      stillUsed -= costs[index] ?? 0;
      if (stillUsed + cost <= limit) {
        retryAfterMs = (timesMs[index] ?? 0) + windowMs - nowMs;
        break;
      }
    }
    const resetAfterMs = last >= 0 ? (timesMs[last] ?? 0) + windowMs - nowMs : 0;
    return {
      state,
      decision: decisionOf(false, limit, limit - state.used, retryAfterMs, resetAfterMs, 0),
    };
  },

  refund(state, cost, nowMs, config) {
    dropExpired(state, nowMs, config.intervalMs);
    const { timesMs, costs } = state;
    // Give back the newest entries first: the refunded request is most likely the latest one.
    let left = cost;
    while (left > 0 && costs.length > 0) {
      const last = costs.length - 1;
      const entryCost = costs[last] ?? 0;
      if (entryCost > left) {
        costs[last] = entryCost - left;
        state.used -= left;
        left = 0;
      } else {
        costs.pop();
        timesMs.pop();
        state.used -= entryCost;
        left -= entryCost;
      }
    }
    return state;
  },

  expiresAtMs(state, config) {
    const newestMs = state.timesMs[state.timesMs.length - 1];
    return newestMs === undefined ? -Infinity : newestMs + config.intervalMs;
  },
};
