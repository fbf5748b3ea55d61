import { ExecutionRejectedError, ResilienceError, type ErrorSource } from './resilience-error.js';

/**
 * A timeout's deadline passed. It is also the `reason` of the signal the work received.
 *
 * @example
 * ```ts
 * import { TimeoutError } from '@hyx/local';
 * const isTimeout = (error: unknown) => error instanceof TimeoutError;
 * ```
 */
export class TimeoutError extends ResilienceError<'TIMEOUT'> {
  /** The timeout that elapsed. */
  readonly timeoutMs: number;

  constructor(source: ErrorSource, timeoutMs: number, options?: ErrorOptions) {
    super(
      'TIMEOUT',
      source,
      `${source.policyKind} "${source.policyName}": timed out after ${timeoutMs} ms`,
      options,
    );
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A retry policy gave up. `cause` is the last error, `errors` holds the error of every attempt
 * that failed with one (attempts rejected by `shouldHandleResult` have none).
 *
 * @example
 * ```ts
 * import { RetryExhaustedError } from '@hyx/local';
 * const lastError = (error: RetryExhaustedError) => error.cause;
 * ```
 */
export class RetryExhaustedError extends ResilienceError<'RETRY_EXHAUSTED'> {
  /** How many attempts ran. */
  readonly attempts: number;
  /** The errors of the failed attempts, oldest first. */
  readonly errors: readonly unknown[];
  /** The last unaccepted result, when the last attempt failed through `shouldHandleResult`. */
  readonly lastResult: unknown;
  /** Why retrying stopped. */
  readonly reason: 'max-attempts' | 'budget';

  constructor(
    source: ErrorSource,
    details: {
      attempts: number;
      errors: readonly unknown[];
      lastResult?: unknown;
      reason: 'max-attempts' | 'budget';
      cause?: unknown;
    },
  ) {
    const why = details.reason === 'budget' ? 'the retry budget is spent' : 'no attempts left';
    super(
      'RETRY_EXHAUSTED',
      source,
      `${source.policyKind} "${source.policyName}": gave up after ${details.attempts} attempts (${why})`,
      'cause' in details ? { cause: details.cause } : undefined,
    );
    this.attempts = details.attempts;
    this.errors = details.errors;
    this.lastResult = details.lastResult;
    this.reason = details.reason;
  }
}

/**
 * A circuit breaker refused the call because it is open (or half-open with every probe taken).
 *
 * @example
 * ```ts
 * import { CircuitOpenError } from '@hyx/local';
 * const waitMs = (error: CircuitOpenError) => error.retryAfterMs ?? 1000;
 * ```
 */
export class CircuitOpenError extends ExecutionRejectedError<'CIRCUIT_OPEN'> {
  constructor(source: ErrorSource, retryAfterMs?: number) {
    super(
      'CIRCUIT_OPEN',
      source,
      `${source.policyKind} "${source.policyName}": circuit is open`,
      retryAfterMs,
    );
  }
}

/**
 * A bulkhead refused the call: every permit is taken and the queue is full, or the queue wait ran out.
 *
 * @example
 * ```ts
 * import { BulkheadFullError } from '@hyx/local';
 * const isFull = (error: unknown) => error instanceof BulkheadFullError;
 * ```
 */
export class BulkheadFullError extends ExecutionRejectedError<'BULKHEAD_FULL'> {
  constructor(source: ErrorSource, message = 'bulkhead is full', retryAfterMs?: number) {
    super('BULKHEAD_FULL', source, `${source.policyKind} "${source.policyName}": ${message}`, retryAfterMs);
  }
}

/**
 * A rate limiter refused the call. `retryAfterMs` says when the same request would be allowed.
 *
 * @example
 * ```ts
 * import { RateLimitedError } from '@hyx/local';
 * const waitMs = (error: RateLimitedError) => error.retryAfterMs;
 * ```
 */
export class RateLimitedError extends ExecutionRejectedError<'RATE_LIMITED'> {
  constructor(source: ErrorSource, retryAfterMs: number) {
    super(
      'RATE_LIMITED',
      source,
      `${source.policyKind} "${source.policyName}": rate limit exceeded`,
      retryAfterMs,
    );
  }
}

/**
 * The state backend (Redis) failed or was too slow, and the policy is configured to reject.
 * `cause` is the backend's error.
 *
 * @example
 * ```ts
 * import { BackendUnavailableError } from '@hyx/local';
 * const isBackendDown = (error: unknown) => error instanceof BackendUnavailableError;
 * ```
 */
export class BackendUnavailableError extends ResilienceError<'BACKEND_UNAVAILABLE'> {
  constructor(source: ErrorSource, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(
      'BACKEND_UNAVAILABLE',
      source,
      `${source.policyKind} "${source.policyName}": backend unavailable: ${detail}`,
      {
        cause,
      },
    );
  }
}
