import type { Clock } from '../clock/clock.js';
import type { AlgorithmConfig, RateLimitAlgorithmName } from './algorithms/rate-limit-algorithm.js';

/**
 * A rate limiter's answer to one request. Every number is a whole number of ms or cost units, never
 * negative.
 *
 * @example
 * ```ts
 * import { rateLimiter } from '@hyx/local';
 * const limiter = rateLimiter({ limit: 10, intervalMs: 1000 });
 * const decision = await limiter.tryAcquire({ key: 'user-42' });
 * if (!decision.allowed) console.log(`retry in ${decision.retryAfterMs} ms`);
 * ```
 */
export interface RateLimitDecision {
  /** True when the request may go ahead. */
  readonly allowed: boolean;
  /** The most `remaining` can be: the burst, the window's limit, or the leaky bucket's `queueSize + 1`. */
  readonly limit: number;
  /** Cost units that could still be admitted now (after this request, when it was allowed). */
  readonly remaining: number;
  /** 0 when allowed; otherwise the least wait after which the same request is allowed, if nothing else happens. */
  readonly retryAfterMs: number;
  /** How long until the key is back to fully free (its state can be forgotten then). */
  readonly resetAfterMs: number;
  /**
   * Which path decided, on a limiter whose state is remote: `'redis'` (the shared state), or
   * `'fallback'` (Redis failed or was too slow, and `onBackendFailure` decided). Absent on the
   * in-process limiter.
   */
  readonly source?: 'redis' | 'fallback' | undefined;
}

/**
 * A decision as a {@link RateLimiterState} returns it: the public decision plus how long an admitted
 * caller waits for its slot.
 *
 * @example
 * ```ts
 * import type { RateLimitStateDecision } from '@hyx/local';
 * const waitFor = (decision: RateLimitStateDecision) => (decision.allowed ? decision.delayMs : decision.retryAfterMs);
 * ```
 */
export interface RateLimitStateDecision extends RateLimitDecision {
  /** Leaky bucket: the wait until an admitted caller's slot. Always 0 for the other algorithms. */
  readonly delayMs: number;
}

/**
 * One request to a {@link RateLimiterState}.
 *
 * @example
 * ```ts
 * import type { RateLimitStateRequest } from '@hyx/local';
 * const request: RateLimitStateRequest = { key: 'user-42', cost: 1, nowMs: 1_000 };
 * ```
 */
export interface RateLimitStateRequest {
  readonly key: string;
  /** An integer in `[1, config.maxCost]`; the shell checks it before calling the state. */
  readonly cost: number;
  /** The time to decide at. Memory state: the config's clock when absent. Redis: server `TIME`. */
  readonly nowMs?: number | undefined;
  /**
   * Leaky bucket only: the longest an admitted caller is prepared to wait for its slot, an integer
   * >= 0. @defaultValue 0 (admitted only when the slot is now)
   */
  readonly maxDelayMs?: number | undefined;
}

/**
 * A refund: `cost` units go back to `key` at `nowMs`.
 *
 * @example
 * ```ts
 * import type { RateLimitRefundRequest } from '@hyx/local';
 * const refund: RateLimitRefundRequest = { key: 'user-42', cost: 1 };
 * ```
 */
export interface RateLimitRefundRequest {
  readonly key: string;
  readonly cost: number;
  readonly nowMs?: number | undefined;
}

/**
 * Where a rate limiter keeps its per-key state: in memory ({@link memoryRateLimiterState}) or in
 * Redis. Each call is one atomic step of the configured algorithm. Memory answers synchronously so
 * the in-process path stays cheap; Redis answers with a promise.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, memoryRateLimiterState, systemClock, type RateLimiterState } from '@hyx/local';
 * const config = deriveAlgorithmConfig({ algorithm: 'gcra', limit: 5, intervalMs: 1000 });
 * const state: RateLimiterState = memoryRateLimiterState({
 *   ...config, name: 'api', algorithm: 'gcra', maxKeys: 1000, clock: systemClock,
 * });
 * const decision = await state.tryAcquire({ key: 'user-42', cost: 1 });
 * ```
 */
export interface RateLimiterState {
  /** Decides on a request and, when it is allowed, records it. */
  tryAcquire(request: RateLimitStateRequest): RateLimitStateDecision | Promise<RateLimitStateDecision>;
  /** Gives `cost` units back to a key (a no-op for a key with no state). */
  refund(request: RateLimitRefundRequest): void | Promise<void>;
}

/**
 * What a {@link RateLimiterStateFactory} receives: the validated options of one limiter and the
 * integers its algorithm computes with.
 *
 * @example
 * ```ts
 * import type { RateLimiterConfig } from '@hyx/local';
 * const describe = (config: RateLimiterConfig) => `${config.name}: ${config.limit} per ${config.intervalMs} ms`;
 * ```
 */
export interface RateLimiterConfig extends AlgorithmConfig {
  /** The limiter's name; Redis uses it in key names. */
  readonly name: string;
  readonly algorithm: RateLimitAlgorithmName;
  /** Memory state: the most keys kept at once. */
  readonly maxKeys: number;
  /** The limiter's clock: time for a memory state that is not given `nowMs`. */
  readonly clock: Clock;
}

/**
 * Builds the state of one limiter from its config: the `state` option of {@link rateLimiter}. A Redis
 * rate limiter passes a factory of Redis state; the default is {@link memoryRateLimiterState}.
 *
 * @example
 * ```ts
 * import { memoryRateLimiterState, rateLimiter, type RateLimiterStateFactory } from '@hyx/local';
 * const state: RateLimiterStateFactory = (config) => memoryRateLimiterState(config);
 * const limiter = rateLimiter({ limit: 10, intervalMs: 1000, state });
 * ```
 */
export type RateLimiterStateFactory = (config: RateLimiterConfig) => RateLimiterState;
