import { ceilDiv, decisionOf, floorDiv, type RateLimitAlgorithm } from './rate-limit-algorithm.js';

/**
 * Token bucket state: the tokens in the bucket (scaled: one cost unit is `unitScaled`) and when
 * they were last brought up to date. Redis hash fields: `tokens`, `at`.
 *
 * @example
 * ```ts
 * import type { TokenBucketState } from '@hyx/local';
 * const full: TokenBucketState = { scaledTokens: 10_000, refilledAtMs: 0 };
 * ```
 */
export interface TokenBucketState {
  /** Tokens in scaled units, `0 <= scaledTokens <= capacity * unitScaled`. */
  readonly scaledTokens: number;
  /** The time the tokens were last refilled to, in ms. */
  readonly refilledAtMs: number;
}

/** The tokens `state` holds at `nowMs`: refilled by `msScaled` per ms, up to the capacity. */
function tokensAt(state: TokenBucketState, nowMs: number, msScaled: number, capacityScaled: number): number {
  const elapsedMs = nowMs - state.refilledAtMs;
  if (elapsedMs <= 0) return state.scaledTokens;
  const deficit = capacityScaled - state.scaledTokens;
  // Compare times rather than multiply first: elapsedMs * msScaled could pass 2^53 after a long idle.
  return elapsedMs >= ceilDiv(deficit, msScaled) ? capacityScaled : state.scaledTokens + elapsedMs * msScaled;
}

/**
 * Token bucket: a bucket of `capacity` (burst) tokens refilled continuously at `limit` per
 * `intervalMs`; a request of cost `c` takes `c` tokens or is denied. Admits bursts up to the
 * capacity, then the refill rate. Same decisions as {@link gcra}, stored as a level instead of a time.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, rateLimitAlgorithms } from '@hyx/local';
 * const config = deriveAlgorithmConfig({ algorithm: 'token-bucket', limit: 5, intervalMs: 1000 });
 * const step = rateLimitAlgorithms['token-bucket'].decide(undefined, 1, 0, config, 0);
 * ```
 */
export const tokenBucket: RateLimitAlgorithm<TokenBucketState> = {
  name: 'token-bucket',

  decide(state, cost, nowMs, config) {
    const { capacity, unitScaled, msScaled } = config;
    const capacityScaled = capacity * unitScaled;
    const tokens = state === undefined ? capacityScaled : tokensAt(state, nowMs, msScaled, capacityScaled);
    const needed = cost * unitScaled;
    if (tokens >= needed) {
      const left = tokens - needed;
      // A clock that stepped back never moves refilledAtMs back: that would refill twice.
      const refilledAtMs = state === undefined || nowMs > state.refilledAtMs ? nowMs : state.refilledAtMs;
      return {
        state: { scaledTokens: left, refilledAtMs },
        decision: decisionOf(
          true,
          capacity,
          floorDiv(left, unitScaled),
          0,
          ceilDiv(capacityScaled - left, msScaled),
          0,
        ),
      };
    }
    return {
      state: state ?? { scaledTokens: tokens, refilledAtMs: nowMs },
      decision: decisionOf(
        false,
        capacity,
        floorDiv(tokens, unitScaled),
        ceilDiv(needed - tokens, msScaled),
        ceilDiv(capacityScaled - tokens, msScaled),
        0,
      ),
    };
  },

  refund(state, cost, nowMs, config) {
    const capacityScaled = config.capacity * config.unitScaled;
    const tokens = tokensAt(state, nowMs, config.msScaled, capacityScaled) + cost * config.unitScaled;
    return {
      scaledTokens: tokens > capacityScaled ? capacityScaled : tokens,
      refilledAtMs: nowMs > state.refilledAtMs ? nowMs : state.refilledAtMs,
    };
  },

  expiresAtMs(state, config) {
    const deficit = config.capacity * config.unitScaled - state.scaledTokens;
    return state.refilledAtMs + ceilDiv(deficit, config.msScaled);
  },
};
