import {
  ceilDiv,
  decisionOf,
  floorDiv,
  type AlgorithmConfig,
  type RateLimitAlgorithm,
} from './rate-limit-algorithm.js';

/**
 * Leaky bucket state: the instant the bucket is empty again, that is the next free slot,
 * `nextFreeMs + nextFreeRemainder / msScaled` ms. Redis hash fields: `free`, `rem`.
 *
 * @example
 * ```ts
 * import type { LeakyBucketState } from '@hyx/local';
 * const emptySince: LeakyBucketState = { nextFreeMs: 0, nextFreeRemainder: 0 };
 * ```
 */
export interface LeakyBucketState {
  /** Whole milliseconds of the next free slot. */
  readonly nextFreeMs: number;
  /** The fraction of it in `1/msScaled` ms, `0 <= nextFreeRemainder < msScaled`. */
  readonly nextFreeRemainder: number;
}

/** The work queued ahead of `nowMs`, in scaled units (one cost unit is `unitScaled`). */
function scaledBacklog(state: LeakyBucketState | undefined, nowMs: number, msScaled: number): number {
  if (state === undefined || state.nextFreeMs < nowMs) return 0;
  return (state.nextFreeMs - nowMs) * msScaled + state.nextFreeRemainder;
}

function stateAfter(nowMs: number, backlog: number, msScaled: number): LeakyBucketState {
  const wholeMs = Math.floor(backlog / msScaled);
  return { nextFreeMs: nowMs + wholeMs, nextFreeRemainder: backlog - wholeMs * msScaled };
}

/** How many cost-1 callers the queue still takes with `backlog` queued ahead. */
function queueRoom(backlog: number, config: AlgorithmConfig): number {
  const queueScaled = config.capacity * config.unitScaled;
  return backlog <= queueScaled ? floorDiv(queueScaled - backlog, config.unitScaled) + 1 : 0;
}

/**
 * Leaky bucket as a queue: callers are released one after another at an even pace, one cost unit
 * every `intervalMs / limit` ms, never in a burst. A caller gets the next free slot when at most
 * `queueSize` cost units are queued ahead of it, so nobody waits longer than
 * `queueSize × intervalMs / limit`; `delayMs` is how long it waits. With `maxDelayMs = 0` (a
 * `tryAcquire`) a caller is admitted only when its slot is now.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, rateLimitAlgorithms } from '@hyx/local';
 * const config = deriveAlgorithmConfig({ algorithm: 'leaky-bucket', limit: 10, intervalMs: 1000, queueSize: 20 });
 * const step = rateLimitAlgorithms['leaky-bucket'].decide(undefined, 1, 0, config, 5000);
 * ```
 */
export const leakyBucket: RateLimitAlgorithm<LeakyBucketState> = {
  name: 'leaky-bucket',

  decide(state, cost, nowMs, config, maxDelayMs) {
    const { capacity, unitScaled, msScaled } = config;
    const backlog = scaledBacklog(state, nowMs, msScaled);
    // The caller's slot starts when the work ahead has leaked out: the first whole ms at or after it.
    const delayMs = ceilDiv(backlog, msScaled);
    const queueScaled = capacity * unitScaled;
    if (backlog <= queueScaled && delayMs <= maxDelayMs) {
      const backlogAfter = backlog + cost * unitScaled;
      return {
        state: stateAfter(nowMs, backlogAfter, msScaled),
        decision: decisionOf(
          true,
          capacity + 1,
          queueRoom(backlogAfter, config),
          0,
          ceilDiv(backlogAfter, msScaled),
          delayMs,
        ),
      };
    }
    // Denied: wait until the queue has room, and until the slot is within maxDelayMs.
    const untilRoomMs = backlog > queueScaled ? ceilDiv(backlog - queueScaled, msScaled) : 0;
    const untilSlotMs = delayMs > maxDelayMs ? delayMs - maxDelayMs : 0;
    return {
      state: state ?? stateAfter(nowMs, 0, msScaled),
      decision: decisionOf(
        false,
        capacity + 1,
        queueRoom(backlog, config),
        untilRoomMs > untilSlotMs ? untilRoomMs : untilSlotMs,
        delayMs,
        0,
      ),
    };
  },

  refund(state, cost, nowMs, config) {
    const backlog = scaledBacklog(state, nowMs, config.msScaled) - cost * config.unitScaled;
    return stateAfter(nowMs, backlog > 0 ? backlog : 0, config.msScaled);
  },

  expiresAtMs(state) {
    return state.nextFreeRemainder > 0 ? state.nextFreeMs + 1 : state.nextFreeMs;
  },
};
