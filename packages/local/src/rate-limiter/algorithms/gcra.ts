import { ceilDiv, decisionOf, floorDiv, type RateLimitAlgorithm } from './rate-limit-algorithm.js';

/**
 * GCRA state: the theoretical arrival time (TAT), `tatMs + tatRemainder / msScaled` ms, kept as two
 * integers so that fractional emission intervals stay exact. Redis hash fields: `tat`, `rem`.
 *
 * @example
 * ```ts
 * import type { GcraState } from '@hyx/local';
 * const idleSince: GcraState = { tatMs: 0, tatRemainder: 0 };
 * ```
 */
export interface GcraState {
  /** Whole milliseconds of the TAT. */
  readonly tatMs: number;
  /** The fraction of the TAT in `1/msScaled` ms, `0 <= tatRemainder < msScaled`. */
  readonly tatRemainder: number;
}

/** How far the TAT is ahead of `nowMs`, in scaled units; 0 when it is not ahead. */
function scaledAhead(state: GcraState | undefined, nowMs: number, msScaled: number): number {
  if (state === undefined || state.tatMs < nowMs) return 0;
  return (state.tatMs - nowMs) * msScaled + state.tatRemainder;
}

/** The state whose TAT is `ahead` scaled units after `nowMs`. */
function stateAhead(nowMs: number, ahead: number, msScaled: number): GcraState {
  const wholeMs = Math.floor(ahead / msScaled);
  return { tatMs: nowMs + wholeMs, tatRemainder: ahead - wholeMs * msScaled };
}

/**
 * GCRA (generic cell rate algorithm, as in redis-cell): each cost unit pushes the theoretical
 * arrival time (TAT) forward by one emission interval `intervalMs / limit`; a request is admitted
 * when the TAT it would produce is at most `burst` intervals ahead of now. Same decisions as
 * {@link tokenBucket}; the state is one instant instead of a level and a time.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, rateLimitAlgorithms } from '@hyx/local';
 * const config = deriveAlgorithmConfig({ algorithm: 'gcra', limit: 5, intervalMs: 1000 });
 * const step = rateLimitAlgorithms.gcra.decide(undefined, 1, 0, config, 0);
 * ```
 */
export const gcra: RateLimitAlgorithm<GcraState> = {
  name: 'gcra',

  decide(state, cost, nowMs, config) {
    const { capacity, unitScaled, msScaled } = config;
    const capacityScaled = capacity * unitScaled;
    const ahead = scaledAhead(state, nowMs, msScaled);
    const aheadAfter = ahead + cost * unitScaled;
    if (aheadAfter <= capacityScaled) {
      return {
        state: stateAhead(nowMs, aheadAfter, msScaled),
        decision: decisionOf(
          true,
          capacity,
          floorDiv(capacityScaled - aheadAfter, unitScaled),
          0,
          ceilDiv(aheadAfter, msScaled),
          0,
        ),
      };
    }
    return {
      state: state ?? stateAhead(nowMs, 0, msScaled),
      decision: decisionOf(
        false,
        capacity,
        floorDiv(capacityScaled - ahead, unitScaled),
        ceilDiv(aheadAfter - capacityScaled, msScaled),
        ceilDiv(ahead, msScaled),
        0,
      ),
    };
  },

  refund(state, cost, nowMs, config) {
    const ahead = scaledAhead(state, nowMs, config.msScaled) - cost * config.unitScaled;
    return stateAhead(nowMs, ahead > 0 ? ahead : 0, config.msScaled);
  },

  expiresAtMs(state) {
    return state.tatRemainder > 0 ? state.tatMs + 1 : state.tatMs;
  },
};
