/**
 * A rate limiter that writes down every decision the HTTP middleware asks it for, with the fixed
 * window the decision counted in, so the report can count admissions per window cluster-wide.
 * It delegates everything to the shared limiter: it decides nothing itself.
 */
import type {
  ExecuteOptions,
  RateLimitAcquireRequest,
  RateLimitAlgorithmName,
  RateLimitDecision,
  RateLimiter,
  RateLimitRequest,
  ResilienceEvent,
  Work,
} from '@hyx/local';

import type { DecisionRecord } from '../records.js';

/** Clock granularity and the rounding of `resetAfterMs` to whole ms. */
const SLACK_MS = 2;

/**
 * The fixed window a decision counted in, by its end in units of the window: the one multiple
 * of `windowMs` that the decision's time (between `sentMs` and `repliedMs`) plus `resetAfterMs`
 * can be; `null` when there is not exactly one (a stall of about a window between the two).
 */
export function windowIndexOf(
  sentMs: number,
  repliedMs: number,
  resetAfterMs: number,
  windowMs: number,
): number | null {
  const first = Math.ceil((sentMs + resetAfterMs - SLACK_MS) / windowMs);
  const last = Math.floor((repliedMs + resetAfterMs + SLACK_MS) / windowMs);
  return first === last ? first : null;
}

/** Wraps `limiter`; `record` receives each `tryAcquire`/`acquire` decision. */
export class RecordingRateLimiter implements RateLimiter {
  readonly kind = 'rate-limiter' as const;
  readonly name: string;
  readonly algorithm: RateLimitAlgorithmName;
  readonly #limiter: RateLimiter;
  readonly #instance: string;
  readonly #windowMs: number;
  readonly #record: (record: DecisionRecord) => void;
  readonly #now: () => number;

  /**
   * `now` must be the clock the limiter decides by (the wall clock for a Redis limiter, whose
   * windows are aligned to Redis' own time; a test's fake clock for a local one), or the window
   * bracket is off by their drift.
   */
  constructor(
    limiter: RateLimiter,
    instance: string,
    windowMs: number,
    record: (record: DecisionRecord) => void,
    now: () => number = Date.now,
  ) {
    this.#limiter = limiter;
    this.name = limiter.name;
    this.algorithm = limiter.algorithm;
    this.#instance = instance;
    this.#windowMs = windowMs;
    this.#record = record;
    this.#now = now;
  }

  async tryAcquire(request?: RateLimitRequest): Promise<RateLimitDecision> {
    const sentMs = this.#now();
    return this.#noted(await this.#limiter.tryAcquire(request), request?.key, sentMs);
  }

  async acquire(request?: RateLimitAcquireRequest): Promise<RateLimitDecision> {
    const sentMs = this.#now();
    return this.#noted(await this.#limiter.acquire(request), request?.key, sentMs);
  }

  refund(request?: RateLimitRequest): Promise<void> {
    return this.#limiter.refund(request);
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    return this.#limiter.execute(fn, options);
  }

  wrap<TArgs extends unknown[], T>(
    fn: (...args: TArgs) => T | PromiseLike<T>,
  ): (...args: TArgs) => Promise<T> {
    return this.#limiter.wrap(fn);
  }

  onEvent(listener: (event: ResilienceEvent) => void): () => void {
    return this.#limiter.onEvent(listener);
  }

  #noted(decision: RateLimitDecision, key: string | undefined, sentMs: number): RateLimitDecision {
    const atMs = this.#now();
    this.#record({
      type: 'decision',
      instance: this.#instance,
      atMs,
      apiKey: key ?? '',
      allowed: decision.allowed,
      window: windowIndexOf(sentMs, atMs, decision.resetAfterMs, this.#windowMs),
      source: decision.source ?? 'local',
    });
    return decision;
  }
}
