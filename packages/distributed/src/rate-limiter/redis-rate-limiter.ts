import {
  RATE_LIMITER_DEFAULTS,
  rateLimiter,
  type ExecuteOptions,
  type RateLimitAcquireRequest,
  type RateLimitAlgorithmName,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitRequest,
  type ResilienceEvent,
  type Work,
} from '@hyx/local';

import { PolicyListeners } from '../policy-listeners.js';
import { FACTORY_KEY, checkRedisClient, factoryLabel } from '../redis-client.js';
import type { RedisLike } from '../redis-like.js';
import type { RedisRateLimiterOptions } from './redis-rate-limiter-options.js';
import { redisRateLimiterState } from './redis-rate-limiter-state.js';

type Listener = (event: ResilienceEvent) => void;

/**
 * The local limiter's shell over the Redis state, plus the backend events the state reports. Every
 * method is the local limiter's; only `onEvent` also hears `backend.failed` / `backend.recovered`.
 */
class RedisRateLimiterPolicy implements RateLimiter {
  readonly kind = 'rate-limiter' as const;
  readonly name: string;
  readonly algorithm: RateLimitAlgorithmName;
  readonly #inner: RateLimiter;
  readonly #listeners = new PolicyListeners();

  constructor(client: RedisLike, options: RedisRateLimiterOptions) {
    checkRedisClient(factoryLabel('redisRateLimiter', options, RATE_LIMITER_DEFAULTS.name), client);
    const {
      commandTimeoutMs,
      onBackendFailure,
      localShare,
      additionalLimits,
      batching,
      time,
      ...localOptions
    } = options;
    this.#inner = rateLimiter({
      ...localOptions,
      // The local limiter's errors then name this factory: `redisRateLimiter "api": limit ...`.
      [FACTORY_KEY]: 'redisRateLimiter',
      state: redisRateLimiterState(client, {
        commandTimeoutMs,
        onBackendFailure,
        localShare,
        additionalLimits,
        batching,
        time,
        onBackendTransition: (transition) => {
          this.#listeners.emitBackend(this, transition);
        },
      }),
    });
    this.name = this.#inner.name;
    this.algorithm = this.#inner.algorithm;
  }

  tryAcquire(request?: RateLimitRequest): Promise<RateLimitDecision> {
    return this.#inner.tryAcquire(request);
  }

  acquire(request?: RateLimitAcquireRequest): Promise<RateLimitDecision> {
    return this.#inner.acquire(request);
  }

  refund(request?: RateLimitRequest): Promise<void> {
    return this.#inner.refund(request);
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    return this.#inner.execute(fn, options);
  }

  wrap<TArgs extends unknown[], T>(
    fn: (...args: TArgs) => T | PromiseLike<T>,
  ): (...args: TArgs) => Promise<T> {
    return (...args: TArgs) => this.execute(() => fn(...args));
  }

  onEvent(listener: Listener): () => void {
    return this.#listeners.subscribe(listener, this.#inner.onEvent(listener));
  }
}

/**
 * A rate limiter whose state lives in Redis, so every instance of a service shares one limit. It
 * returns the same {@link RateLimiter} as `rateLimiter` from `@hyx/local` and takes the same options
 * (every algorithm, per-key limits, weighted cost, `acquire` with signal and `maxWaitMs`, `refund`),
 * plus how to talk to Redis: `commandTimeoutMs`, `onBackendFailure` (`'reject'`, `'allow'`, or
 * `'local'` with `localShare` of the limit), `additionalLimits` taken all-or-nothing, `batching`.
 *
 * Each decision is one script call on the node that owns the key, reading the server's clock. A
 * decision says which path took it (`source: 'redis' | 'fallback'`); `backend.failed` is emitted once
 * per outage and `backend.recovered` when Redis answers again.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisRateLimiter } from '@hyx/distributed';
 * const redis = new Redis({ host: '127.0.0.1', port: 6380, autoResendUnfulfilledCommands: false });
 * const limiter = redisRateLimiter(redis, {
 *   name: 'api',
 *   algorithm: 'gcra',
 *   limit: 10,
 *   intervalMs: 1000,
 *   additionalLimits: [{ limit: 1000, intervalMs: 3_600_000 }],
 *   onBackendFailure: 'local',
 *   localShare: 0.25,
 * });
 * const decision = await limiter.tryAcquire({ key: 'user-42' });
 * if (!decision.allowed) console.log(`retry in ${decision.retryAfterMs} ms`);
 * ```
 */
export function redisRateLimiter(client: RedisLike, options: RedisRateLimiterOptions): RateLimiter {
  return new RedisRateLimiterPolicy(client, options);
}
