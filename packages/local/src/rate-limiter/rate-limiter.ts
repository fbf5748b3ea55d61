import type { Clock } from '../clock/clock.js';
import { RateLimitedError } from '../errors/errors.js';
import { callSafely, sleep } from '../internal/abort.js';
import {
  CallScope,
  abortSourceOf,
  inheritedAttempt,
  rejectionOf,
  type AbortSource,
} from '../internal/call-scope.js';
import { factoryOf, parseOptions } from '../options/parse-options.js';
import { BasePolicy } from '../policy/base-policy.js';
import type { ExecuteOptions, Policy, Work } from '../policy/policy.js';
import { deriveAlgorithmConfig, type RateLimitAlgorithmName } from './algorithms/rate-limit-algorithm.js';
import {
  RATE_LIMITER_DEFAULTS,
  type RateLimiterOptions,
  rateLimiterOptionsSchema,
} from './rate-limiter-options.js';
import type {
  RateLimitDecision,
  RateLimitStateDecision,
  RateLimiterConfig,
  RateLimiterState,
} from './rate-limiter-state.js';

/**
 * A request to {@link RateLimiter.tryAcquire} or {@link RateLimiter.refund}.
 *
 * @example
 * ```ts
 * import type { RateLimitRequest } from '@hyx/local';
 * const upload: RateLimitRequest = { key: 'tenant-7', cost: 5 };
 * ```
 */
export interface RateLimitRequest {
  /** Whose limit: each key is limited on its own. @defaultValue `''` (one limit for everybody) */
  readonly key?: string | undefined;
  /** How many units this request uses, an integer from 1 to the largest cost. @defaultValue `1` */
  readonly cost?: number | undefined;
}

/**
 * A request to {@link RateLimiter.acquire}: waits until allowed.
 *
 * @example
 * ```ts
 * import type { RateLimitAcquireRequest } from '@hyx/local';
 * const request: RateLimitAcquireRequest = { key: 'tenant-7', maxWaitMs: 2000, signal: AbortSignal.timeout(5000) };
 * ```
 */
export interface RateLimitAcquireRequest extends RateLimitRequest {
  /** Aborting it rejects the wait with `signal.reason`, as `fetch` does. */
  readonly signal?: AbortSignal | undefined;
  /**
   * The longest to wait; when permission would come later, `acquire` resolves at once with the
   * denied decision (its `retryAfterMs` says when). @defaultValue `Infinity`
   */
  readonly maxWaitMs?: number | undefined;
}

/**
 * A rate limiter: a {@link Policy} (`execute` rejects with {@link RateLimitedError} when over the
 * limit) that also answers directly. The Redis rate limiter returns this same type.
 *
 * @example
 * ```ts
 * import { rateLimiter, type RateLimiter } from '@hyx/local';
 * const limiter: RateLimiter = rateLimiter({ limit: 10, intervalMs: 1000 });
 * const decision = await limiter.tryAcquire({ key: 'user-42' });
 * await limiter.acquire({ key: 'user-42', cost: 2, maxWaitMs: 1000 });
 * await limiter.execute(() => 'work', { key: 'user-42' });
 * ```
 */
export interface RateLimiter extends Policy {
  /** The algorithm the limiter runs. */
  readonly algorithm: RateLimitAlgorithmName;
  /** Decides now and never waits. On a leaky bucket, allowed only when the caller's slot is now. */
  tryAcquire(request?: RateLimitRequest): Promise<RateLimitDecision>;
  /**
   * {@link RateLimiter.tryAcquire} without the promise when there is nothing to wait for: the
   * decision itself when the limiter decides in process (its state answers synchronously, as the
   * memory state does), a promise otherwise (Redis) and for a bad request (rejected, as
   * `tryAcquire` rejects). For callers on a hot path, such as HTTP middleware, that can go on
   * without a turn of the microtask queue. Optional: limiters without it are asked `tryAcquire`.
   */
  tryAcquireNow?(request?: RateLimitRequest): RateLimitDecision | Promise<RateLimitDecision>;
  /**
   * Waits until the request is allowed (each wait is the decision's `retryAfterMs`, never polling),
   * up to `maxWaitMs`. On a leaky bucket, takes the next free slot in the queue and waits for it.
   * Waiters are not served in arrival order, except by the leaky bucket.
   */
  acquire(request?: RateLimitAcquireRequest): Promise<RateLimitDecision>;
  /** Gives `cost` units back to `key`, e.g. for a request that turned out not to count. */
  refund(request?: RateLimitRequest): Promise<void>;
}

/** The key of callers that give none: one limit shared by all of them. */
const DEFAULT_KEY = '';

/** What the state is told as "no limit" on a leaky bucket wait: finite, so Lua can take it too. */
const UNLIMITED_DELAY_MS = Number.MAX_SAFE_INTEGER;

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return value instanceof Promise;
}

class RateLimiterPolicy extends BasePolicy implements RateLimiter {
  readonly algorithm: RateLimitAlgorithmName;
  readonly #state: RateLimiterState;
  readonly #clock: Clock;
  readonly #maxCost: number;
  /** Execute's wait for a slot: a leaky bucket queues callers; every other algorithm never waits. */
  readonly #executeMaxDelayMs: number;

  constructor(options: RateLimiterOptions) {
    const factory = factoryOf(options, 'rateLimiter');
    const parsed = parseOptions('rateLimiter', rateLimiterOptionsSchema, options, RATE_LIMITER_DEFAULTS.name);
    super('rate-limiter', parsed.name, factory);
    const intervalMs = parsed.intervalMs ?? parsed.windowMs ?? RATE_LIMITER_DEFAULTS.intervalMs;
    const config: RateLimiterConfig = {
      ...deriveAlgorithmConfig({ ...parsed, intervalMs }),
      name: parsed.name,
      algorithm: parsed.algorithm,
      maxKeys: parsed.maxKeys,
      clock: parsed.clock,
    };
    this.algorithm = parsed.algorithm;
    this.#state = parsed.state(config);
    this.#clock = parsed.clock;
    this.#maxCost = config.maxCost;
    this.#executeMaxDelayMs = parsed.algorithm === 'leaky-bucket' ? UNLIMITED_DELAY_MS : 0;
  }

  tryAcquire(request?: RateLimitRequest): Promise<RateLimitDecision> {
    const decided = this.tryAcquireNow(request);
    return isPromise(decided) ? decided : Promise.resolve(decided);
  }

  tryAcquireNow(request?: RateLimitRequest): RateLimitDecision | Promise<RateLimitDecision> {
    const key = request?.key ?? DEFAULT_KEY;
    const cost = request?.cost ?? 1;
    const problem = this.#requestProblem(key, cost);
    if (problem !== undefined) return Promise.reject(problem);
    const decided = this.#state.tryAcquire({ key, cost });
    if (isPromise(decided)) return decided.then((decision) => this.#decided(decision, cost));
    return this.#decided(decided, cost);
  }

  async acquire(request?: RateLimitAcquireRequest): Promise<RateLimitDecision> {
    const key = request?.key ?? DEFAULT_KEY;
    const cost = request?.cost ?? 1;
    const maxWaitMs = request?.maxWaitMs ?? Infinity;
    const problem = this.#requestProblem(key, cost) ?? this.#maxWaitProblem(maxWaitMs);
    if (problem !== undefined) throw problem;
    const abortSource = abortSourceOf(request?.signal === undefined ? undefined : { signal: request.signal });
    if (abortSource?.aborted === true) throw abortSource.reason;
    const deadlineMs = this.#clock.now() + maxWaitMs;
    for (;;) {
      const budgetMs = Math.floor(deadlineMs - this.#clock.now());
      const leftMs = budgetMs > 0 ? Math.min(budgetMs, UNLIMITED_DELAY_MS) : 0;
      const decided = await this.#state.tryAcquire({ key, cost, maxDelayMs: leftMs });
      const decision = await this.#waitForSlot(decided, abortSource);
      // Each wait is the exact time after which this request would pass, so no turn is wasted
      // unless another caller takes the room first.
      if (decision.allowed || decision.retryAfterMs > leftMs) return this.#decided(decision, cost);
      await sleep(this.#clock, decision.retryAfterMs, abortSource);
    }
  }

  refund(request?: RateLimitRequest): Promise<void> {
    const key = request?.key ?? DEFAULT_KEY;
    const cost = request?.cost ?? 1;
    const problem = this.#requestProblem(key, cost);
    if (problem !== undefined) return Promise.reject(problem);
    return Promise.resolve(this.#state.refund({ key, cost }));
  }

  protected run<T>(fn: Work<T>, options: ExecuteOptions | undefined): Promise<T> {
    const abortSource = abortSourceOf(options);
    if (abortSource?.aborted === true) return Promise.reject(abortSource.reason);
    const key = options?.key ?? DEFAULT_KEY;
    const decided = this.#state.tryAcquire({ key, cost: 1, maxDelayMs: this.#executeMaxDelayMs });
    // The memory path decides synchronously and, except on a leaky bucket, never waits: no await.
    if (isPromise(decided) || decided.delayMs > 0) return this.#executeLater(decided, fn, abortSource);
    return this.#executeDecided(decided, fn, abortSource);
  }

  async #executeLater<T>(
    decided: RateLimitStateDecision | Promise<RateLimitStateDecision>,
    fn: Work<T>,
    abortSource: AbortSource | undefined,
  ): Promise<T> {
    return this.#executeDecided(await this.#waitForSlot(await decided, abortSource), fn, abortSource);
  }

  #executeDecided<T>(
    decision: RateLimitStateDecision,
    fn: Work<T>,
    abortSource: AbortSource | undefined,
  ): Promise<T> {
    this.#decided(decision, 1);
    if (!decision.allowed) {
      if (this.events.hasListeners) {
        this.events.emit({
          type: 'call.rejected',
          policyKind: this.kind,
          policyName: this.name,
          reason: 'rate-limited',
          retryAfterMs: decision.retryAfterMs,
        });
      }
      return Promise.reject(
        new RateLimitedError({ policyKind: this.kind, policyName: this.name }, decision.retryAfterMs),
      );
    }
    let work = callSafely(fn, CallScope.forwarding(abortSource, inheritedAttempt(abortSource)));
    // A caller that aborted gets its reason back, whatever the work rejected with. Only a call that
    // can be aborted pays for the extra promise.
    if (abortSource?.canAbort === true) {
      work = work.then(undefined, (error: unknown) => {
        throw rejectionOf(abortSource, error);
      });
    }
    if (!this.events.hasListeners) return work;
    return this.#withOutcomeEvents(work, this.#clock.now());
  }

  async #withOutcomeEvents<T>(work: Promise<T>, startedMs: number): Promise<T> {
    try {
      const result = await work;
      if (this.events.hasListeners) {
        const durationMs = this.#clock.now() - startedMs;
        this.events.emit({
          type: 'execution.succeeded',
          policyKind: this.kind,
          policyName: this.name,
          durationMs,
        });
      }
      return result;
    } catch (error) {
      if (this.events.hasListeners) {
        const durationMs = this.#clock.now() - startedMs;
        this.events.emit({
          type: 'execution.failed',
          policyKind: this.kind,
          policyName: this.name,
          durationMs,
          error,
        });
      }
      throw error;
    }
  }

  /**
   * An admitted leaky-bucket caller waits here for its slot. A caller that gives up while waiting
   * keeps its slot taken: giving it back would let a later caller overlap with those already
   * scheduled behind it, and the pace would no longer be even.
   */
  async #waitForSlot(
    decision: RateLimitStateDecision,
    abortSource: AbortSource | undefined,
  ): Promise<RateLimitStateDecision> {
    if (abortSource?.aborted === true) throw abortSource.reason;
    if (decision.allowed && decision.delayMs > 0) await sleep(this.#clock, decision.delayMs, abortSource);
    return decision;
  }

  #decided(decision: RateLimitStateDecision, cost: number): RateLimitStateDecision {
    if (this.events.hasListeners) {
      this.events.emit({
        type: 'rate-limit.decided',
        policyKind: this.kind,
        policyName: this.name,
        allowed: decision.allowed,
        cost,
        ...(decision.source === undefined ? {} : { source: decision.source }),
      });
    }
    return decision;
  }

  #requestProblem(key: unknown, cost: unknown): Error | undefined {
    if (typeof cost === 'number' && Number.isInteger(cost) && cost >= 1 && cost <= this.#maxCost) {
      return typeof key === 'string' ? undefined : this.#badValue(TypeError, 'key', 'must be a string', key);
    }
    const expected = `must be an integer from 1 to ${this.#maxCost}`;
    return typeof cost === 'number'
      ? this.#badValue(RangeError, 'cost', expected, cost)
      : this.#badValue(TypeError, 'cost', expected, cost);
  }

  #maxWaitProblem(maxWaitMs: unknown): Error | undefined {
    if (typeof maxWaitMs === 'number' && maxWaitMs >= 0) return undefined;
    const expected = 'must be a number >= 0 (Infinity to wait as long as it takes)';
    return typeof maxWaitMs === 'number'
      ? this.#badValue(RangeError, 'maxWaitMs', expected, maxWaitMs)
      : this.#badValue(TypeError, 'maxWaitMs', expected, maxWaitMs);
  }

  #badValue(
    errorClass: typeof TypeError | typeof RangeError,
    what: string,
    expected: string,
    value: unknown,
  ): Error {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    return new errorClass(`${this.label}: ${what} ${expected}, got ${shown}`);
  }
}

/**
 * A rate limiter: token bucket, GCRA, sliding window (log or counter), fixed window or leaky bucket;
 * per key, with weighted costs. `tryAcquire` answers at once, `acquire` waits until allowed (with a
 * signal and `maxWaitMs`), `refund` gives units back, and as a {@link Policy} `execute` runs work
 * or rejects with {@link RateLimitedError} (a leaky bucket queues the call for its slot instead, and
 * rejects only when the queue is full). State lives in memory unless `state` says otherwise.
 *
 * @example
 * ```ts
 * import { RateLimitedError, rateLimiter } from '@hyx/local';
 * const perUser = rateLimiter({ name: 'api', algorithm: 'sliding-window-log', limit: 100, windowMs: 60_000 });
 * try {
 *   await perUser.execute(() => 'handled', { key: 'user-42' });
 * } catch (error) {
 *   if (error instanceof RateLimitedError) console.log(`retry after ${error.retryAfterMs} ms`);
 * }
 * ```
 */
export function rateLimiter(options: RateLimiterOptions): RateLimiter {
  return new RateLimiterPolicy(options);
}
