import type { RateLimitStateDecision } from '../rate-limiter-state.js';

/**
 * The algorithms a rate limiter can use. Each is described once in `docs/algorithms.md` and
 * written twice: TypeScript (this folder) and Lua (`scripts/lua/rate-limiter/`).
 *
 * @example
 * ```ts
 * import { rateLimiter, type RateLimitAlgorithmName } from '@hyx/local';
 * const algorithm: RateLimitAlgorithmName = 'gcra';
 * const limiter = rateLimiter({ algorithm, limit: 10, intervalMs: 1000 });
 * ```
 */
export type RateLimitAlgorithmName =
  'token-bucket' | 'gcra' | 'sliding-window-log' | 'sliding-window-counter' | 'fixed-window' | 'leaky-bucket';

/**
 * The numbers an algorithm works with, derived once from the options. The Redis state passes the
 * same integers to Lua as `ARGV`, so both sides compute with identical inputs.
 *
 * Rates are exact fractions: one cost unit is worth `unitScaled` "scaled units" and one millisecond
 * of refill is worth `msScaled` of them, where `unitScaled / msScaled = intervalMs / limit` in
 * lowest terms. Every quantity then stays an integer below 2^53, where doubles (JS and Lua) are exact.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig } from '@hyx/local';
 * // 3 per second: one unit every 1000/3 ms, so unitScaled = 1000 and msScaled = 3.
 * const config = deriveAlgorithmConfig({ algorithm: 'gcra', limit: 3, intervalMs: 1000 });
 * ```
 */
export interface AlgorithmConfig {
  /** Cost units admitted per `intervalMs` (the rate, or the window's quota). */
  readonly limit: number;
  /** The refill interval (token bucket, GCRA, leaky bucket) or the window length (windows), in ms. */
  readonly intervalMs: number;
  /**
   * Token bucket and GCRA: the burst (most cost units at once). Leaky bucket: the queue size (cost
   * units that may wait ahead of a caller). Windows: `limit`.
   */
  readonly capacity: number;
  /** The largest cost one call may ask for: `capacity` for token bucket and GCRA, `limit` otherwise. */
  readonly maxCost: number;
  /** Scaled units per cost unit: `intervalMs / gcd(intervalMs, limit)`. */
  readonly unitScaled: number;
  /** Scaled units per millisecond: `limit / gcd(intervalMs, limit)`. */
  readonly msScaled: number;
}

/**
 * What one decision produces: the next state (to store) and the decision (to return).
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, rateLimitAlgorithms } from '@hyx/local';
 * const config = deriveAlgorithmConfig({ algorithm: 'token-bucket', limit: 5, intervalMs: 1000 });
 * const { state, decision } = rateLimitAlgorithms['token-bucket'].decide(undefined, 1, 0, config, 0);
 * ```
 */
export interface AlgorithmStep<TState> {
  readonly state: TState;
  readonly decision: RateLimitStateDecision;
}

/**
 * A rate-limit algorithm as pure code: state in, state out, time passed in. No clock, no timers, no
 * globals; integer arithmetic that Lua reproduces exactly.
 *
 * Rules every algorithm keeps, which the memory state and the Lua scripts rely on:
 * - `decide` with `state === undefined` means "idle key, nothing recorded".
 * - A denied decision returns the `state` it was given, the very same object: nothing to store.
 * - At and after `expiresAtMs(state)`, `state` decides exactly as `undefined` would, so it may be
 *   dropped (memory) or left to its TTL (Redis). Expiry is never needed for correctness.
 * - States are immutable except the sliding-window log's entry arrays, which are updated in place
 *   (copying them would make each decision O(limit)); callers use only the state returned last.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, rateLimitAlgorithms } from '@hyx/local';
 * const gcra = rateLimitAlgorithms.gcra;
 * const config = deriveAlgorithmConfig({ algorithm: 'gcra', limit: 2, intervalMs: 1000 });
 * const first = gcra.decide(undefined, 2, 0, config, 0);
 * const second = gcra.decide(first.state, 1, 0, config, 0); // denied, retryAfterMs 500
 * ```
 */
export interface RateLimitAlgorithm<TState> {
  readonly name: RateLimitAlgorithmName;
  /**
   * Decides on a request of `cost` units at `nowMs`. `maxDelayMs` is how long an admitted caller is
   * prepared to wait for its slot: only the leaky bucket schedules callers in the future; every
   * other algorithm admits now or not at all, and ignores it.
   */
  decide(
    state: TState | undefined,
    cost: number,
    nowMs: number,
    config: AlgorithmConfig,
    maxDelayMs: number,
  ): AlgorithmStep<TState>;
  /** Gives `cost` units back at `nowMs` (the call did not happen, or should not count). */
  refund(state: TState, cost: number, nowMs: number, config: AlgorithmConfig): TState;
  /** The time from which `state` is the same as no state: its TTL ends there. */
  expiresAtMs(state: TState, config: AlgorithmConfig): number;
}

/**
 * The largest scaled quantity an algorithm may reach. Below 2^53 doubles hold integers exactly;
 * keeping every quantity at most 2^52 leaves room for one more addition of the same size.
 *
 * @internal
 */
export const MAX_SCALED = 2 ** 52;

/**
 * `ceil(a / b)` for integers `0 <= |a| < 2^53`, `b >= 1`. Exact: a correctly rounded quotient
 * cannot cross an integer when `|a| < 2^53`. Lua: `math.ceil(a / b)`.
 *
 * @internal
 */
export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

/**
 * `floor(a / b)` for integers `0 <= |a| < 2^53`, `b >= 1`. Lua: `math.floor(a / b)`.
 *
 * @internal
 */
export function floorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}

/** Euclid's algorithm on positive integers. */
function greatestCommonDivisor(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) {
    const rest = x - Math.floor(x / y) * y;
    x = y;
    y = rest;
  }
  return x;
}

/**
 * Builds a decision with one property order, so that V8 keeps a single hidden class for all of them.
 *
 * @internal
 */
export function decisionOf(
  allowed: boolean,
  limit: number,
  remaining: number,
  retryAfterMs: number,
  resetAfterMs: number,
  delayMs: number,
): RateLimitStateDecision {
  return { allowed, limit, remaining, retryAfterMs, resetAfterMs, delayMs };
}

/**
 * What {@link deriveAlgorithmConfig} needs: the validated options of one limiter.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, type AlgorithmParameters } from '@hyx/local';
 * const parameters: AlgorithmParameters = { algorithm: 'leaky-bucket', limit: 10, intervalMs: 1000, queueSize: 5 };
 * const config = deriveAlgorithmConfig(parameters);
 * ```
 */
export interface AlgorithmParameters {
  readonly algorithm: RateLimitAlgorithmName;
  readonly limit: number;
  readonly intervalMs: number;
  /** Token bucket and GCRA only. @defaultValue `limit` */
  readonly burst?: number | undefined;
  /** Leaky bucket only. @defaultValue `limit` */
  readonly queueSize?: number | undefined;
}

/**
 * Derives the integers an algorithm computes with. Call it with validated options; the rate limiter
 * options schema checks that the results stay below {@link MAX_SCALED}.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig } from '@hyx/local';
 * // 1,000,000 per 365 days: gcd reduces one unit to 31,536 ms exactly.
 * const config = deriveAlgorithmConfig({ algorithm: 'token-bucket', limit: 1_000_000, intervalMs: 31_536_000_000 });
 * ```
 */
export function deriveAlgorithmConfig(parameters: AlgorithmParameters): AlgorithmConfig {
  const { algorithm, limit, intervalMs } = parameters;
  const divisor = greatestCommonDivisor(intervalMs, limit);
  const unitScaled = intervalMs / divisor;
  const msScaled = limit / divisor;
  switch (algorithm) {
    case 'token-bucket':
    case 'gcra': {
      const burst = parameters.burst ?? limit;
      return { limit, intervalMs, capacity: burst, maxCost: burst, unitScaled, msScaled };
    }
    case 'leaky-bucket':
      return {
        limit,
        intervalMs,
        capacity: parameters.queueSize ?? limit,
        maxCost: limit,
        unitScaled,
        msScaled,
      };
    case 'fixed-window':
    case 'sliding-window-log':
    case 'sliding-window-counter':
      return { limit, intervalMs, capacity: limit, maxCost: limit, unitScaled, msScaled };
  }
}

/**
 * The largest scaled quantity `config` can produce under `algorithm`, checked against
 * {@link MAX_SCALED} when options are validated.
 *
 * @internal
 */
export function largestScaledQuantity(algorithm: RateLimitAlgorithmName, config: AlgorithmConfig): number {
  switch (algorithm) {
    case 'token-bucket':
    case 'gcra':
      return config.capacity * config.unitScaled;
    case 'leaky-bucket':
      return (config.capacity + config.limit) * config.unitScaled;
    case 'sliding-window-counter':
      return config.limit * config.intervalMs;
    case 'fixed-window':
    case 'sliding-window-log':
      return config.limit;
  }
}
