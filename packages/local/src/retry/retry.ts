import type { Backoff, BackoffSequence } from '../backoff/backoff.js';
import { clampDelayMs } from '../backoff/shape-delay.js';
import type { Clock } from '../clock/clock.js';
import { RetryExhaustedError } from '../errors/errors.js';
import type { ErrorSource } from '../errors/resilience-error.js';
import { sleep } from '../internal/abort.js';
import {
  type AbortSource,
  CallScope,
  abortSourceOf,
  hasAborted,
  startTimeOf,
} from '../internal/call-scope.js';
import { factoryOf, parseOptions } from '../options/parse-options.js';
import { BasePolicy } from '../policy/base-policy.js';
import type { ExecuteOptions, Policy, Work } from '../policy/policy.js';
import type { RetryBudget } from './retry-budget.js';
import { type RetryDelayContext, type RetryOptions, retryOptionsSchema } from './retry-options.js';

/**
 * How many errors one execution keeps for `RetryExhaustedError.errors`: the most recent ones. With
 * `maxAttempts: Infinity` an unbounded list would grow for as long as the dependency is down.
 */
const MAX_KEPT_ERRORS = 1_000;

/** What the failed attempts of one execution left behind; created at the first handled failure only. */
class FailureLog {
  readonly errors: unknown[] = [];
  isLastAnError = false;
  lastError: unknown;
  lastResult: unknown;
  /** The backoff's delays for this execution, started at the first retry. */
  delays: BackoffSequence | undefined;

  recordError(error: unknown): void {
    if (this.errors.length === MAX_KEPT_ERRORS) this.errors.shift();
    this.errors.push(error);
    this.isLastAnError = true;
    this.lastError = error;
    this.lastResult = undefined;
  }

  recordResult(result: unknown): void {
    this.isLastAnError = false;
    this.lastError = undefined;
    this.lastResult = result;
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

function ignore(): void {}

class RetryPolicy extends BasePolicy {
  readonly #maxAttempts: number;
  readonly #shouldHandle: (error: unknown) => boolean;
  readonly #shouldHandleResult: (result: unknown) => boolean;
  readonly #backoff: Backoff;
  readonly #maxDelayMs: number;
  readonly #delay: ((context: RetryDelayContext) => number | undefined) | undefined;
  readonly #budget: RetryBudget | undefined;
  readonly #clock: Clock;
  readonly #source: ErrorSource;

  constructor(options: RetryOptions | undefined) {
    const factory = factoryOf(options, 'retry');
    const parsed = parseOptions('retry', retryOptionsSchema, options, 'retry');
    super('retry', parsed.name, factory);
    this.#maxAttempts = parsed.maxAttempts;
    this.#shouldHandle = parsed.shouldHandle;
    this.#shouldHandleResult = parsed.shouldHandleResult;
    this.#backoff = parsed.backoff;
    this.#maxDelayMs = parsed.maxDelayMs;
    this.#delay = parsed.delay;
    this.#budget = parsed.budget;
    this.#clock = parsed.clock;
    this.#source = { policyKind: 'retry', policyName: parsed.name };
  }

  protected async run<T>(fn: Work<T>, options: ExecuteOptions | undefined): Promise<T> {
    const abortSource = abortSourceOf(options);
    if (abortSource?.aborted === true) throw abortSource.reason;
    // The success path does no more than this: no timer, no clock read unless someone listens.
    const startedMs = this.events.hasListeners ? startTimeOf(options, this.#clock) : undefined;
    let failures: FailureLog | undefined;
    for (let attempt = 1; ; attempt++) {
      let result: T;
      try {
        result = await this.#attempt(fn, CallScope.forwarding(abortSource, attempt), startedMs);
      } catch (error) {
        // The caller's own abort is never retried: the caller asked to stop, and the call rejects
        // with its reason, whatever the attempt rejected with.
        if (hasAborted(abortSource)) {
          this.#emitFailed(startedMs, abortSource.reason);
          throw abortSource.reason;
        }
        if (!this.#shouldHandle(error)) {
          this.#emitFailed(startedMs, error);
          throw error;
        }
        failures ??= new FailureLog();
        failures.recordError(error);
        await this.#waitBeforeRetry(attempt, failures, abortSource, startedMs);
        continue;
      }
      if (!this.#shouldHandleResult(result)) {
        this.#recordSuccess(startedMs);
        return result;
      }
      failures ??= new FailureLog();
      failures.recordResult(result);
      await this.#waitBeforeRetry(attempt, failures, abortSource, startedMs);
    }
  }

  /**
   * Calls `fn` for one attempt. The first starts at `startedMs` (when read): the next layer of a
   * pipeline, which starts inside this call, takes that reading instead of its own.
   */
  #attempt<T>(fn: Work<T>, scope: CallScope, startedMs: number | undefined): T | PromiseLike<T> {
    if (scope.attempt !== 1 || startedMs === undefined) return fn(scope);
    scope.stamp(this.#clock, startedMs);
    try {
      return fn(scope);
    } finally {
      scope.unstamp();
    }
  }

  /** Decides whether another attempt runs and waits for it; throws (and reports) when it does not. */
  async #waitBeforeRetry(
    attempt: number,
    failures: FailureLog,
    abortSource: AbortSource | undefined,
    startedMs: number | undefined,
  ): Promise<void> {
    try {
      // The caller aborted while the attempt ran: the answer is the abort, whatever the attempt said.
      if (abortSource?.aborted === true) throw abortSource.reason;
      if (attempt >= this.#maxAttempts) throw this.#giveUp(attempt, failures, 'max-attempts');
      if (this.#budget !== undefined) {
        const decision = this.#budget.tryWithdraw();
        const isAllowed = typeof decision === 'boolean' ? decision : await decision;
        if (!isAllowed) throw this.#giveUp(attempt, failures, 'budget');
      }
      const delayMs = this.#delayBefore(attempt, failures);
      if (this.events.hasListeners) {
        this.events.emit({
          type: 'retry.scheduled',
          policyKind: this.kind,
          policyName: this.name,
          attempt,
          delayMs,
          ...(failures.isLastAnError ? { error: failures.lastError } : { result: failures.lastResult }),
        });
      }
      // Even a 0 ms delay goes through a timer: an always-failing synchronous work with
      // `maxAttempts: Infinity` must still let I/O (and the caller's abort) in between attempts.
      await sleep(this.#clock, delayMs, abortSource);
    } catch (error) {
      this.#emitFailed(startedMs, error);
      throw error;
    }
  }

  /** The backoff's delay for this retry, capped, then the `delay` hook's choice, clamped. */
  #delayBefore(attempt: number, failures: FailureLog): number {
    failures.delays ??= this.#backoff.start();
    // A user's own Backoff could return anything: keep the delay a number in [0, maxDelayMs].
    const suggestedDelayMs = clampDelayMs(failures.delays.nextDelayMs(), this.#maxDelayMs, 0);
    if (this.#delay === undefined) return suggestedDelayMs;
    const context: RetryDelayContext = failures.isLastAnError
      ? { attempt, error: failures.lastError, suggestedDelayMs }
      : { attempt, result: failures.lastResult, suggestedDelayMs };
    return clampDelayMs(this.#delay(context), this.#maxDelayMs, suggestedDelayMs);
  }

  #giveUp(attempt: number, failures: FailureLog, reason: 'max-attempts' | 'budget'): RetryExhaustedError {
    if (this.events.hasListeners) {
      this.events.emit({
        type: 'retry.exhausted',
        policyKind: this.kind,
        policyName: this.name,
        attempts: attempt,
        reason,
      });
    }
    return new RetryExhaustedError(this.#source, {
      attempts: attempt,
      errors: failures.errors,
      reason,
      ...(failures.isLastAnError ? { cause: failures.lastError } : { lastResult: failures.lastResult }),
    });
  }

  #recordSuccess(startedMs: number | undefined): void {
    if (this.#budget !== undefined) {
      const deposited = this.#budget.deposit();
      // A shared budget's bookkeeping must not turn a success into a failure (nor go unhandled).
      if (isPromiseLike(deposited)) deposited.then(undefined, ignore);
    }
    if (!this.events.hasListeners) return;
    this.events.emit({
      type: 'execution.succeeded',
      policyKind: this.kind,
      policyName: this.name,
      durationMs: startedMs === undefined ? 0 : this.#clock.now() - startedMs,
    });
  }

  #emitFailed(startedMs: number | undefined, error: unknown): void {
    if (!this.events.hasListeners) return;
    this.events.emit({
      type: 'execution.failed',
      policyKind: this.kind,
      policyName: this.name,
      durationMs: startedMs === undefined ? 0 : this.#clock.now() - startedMs,
      error,
    });
  }
}

/**
 * A policy that runs the work again when it fails: on errors (`shouldHandle`) and/or on unwanted
 * results (`shouldHandleResult`), up to `maxAttempts` calls in all, waiting between attempts as the
 * `backoff` says (capped by `maxDelayMs`, adjustable per retry by the `delay` hook), within an
 * optional shared `budget`. Each attempt's `ExecutionContext` carries its number (1, 2, 3, ...) and
 * the caller's signal. When it gives up, the call rejects with a `RetryExhaustedError` (`cause`: the
 * last error, `errors`: every error). The caller's abort is never retried: it rejects with
 * `signal.reason` at once, also during a backoff sleep.
 *
 * @example
 * ```ts
 * import { backoff, retry } from '@hyx/local';
 * const policy = retry({
 *   maxAttempts: 4,
 *   backoff: backoff.exponential({ initialDelayMs: 100, maxDelayMs: 2_000, jitter: 'full' }),
 *   shouldHandleResult: (response) => (response as Response).status >= 500,
 * });
 * const response = await policy.execute(({ signal }) => fetch('http://127.0.0.1:8080/', { signal }));
 * ```
 */
export function retry(options?: RetryOptions): Policy {
  return new RetryPolicy(options);
}
