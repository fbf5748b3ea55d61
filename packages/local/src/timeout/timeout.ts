import { AsyncResource } from 'node:async_hooks';

import type { Clock } from '../clock/clock.js';
import { BasePolicy } from '../policy/base-policy.js';
import type { ExecuteOptions, Policy, Work } from '../policy/policy.js';
import { TimeoutError } from '../errors/errors.js';
import type { ErrorSource } from '../errors/resilience-error.js';
import { callSafely, raceWithAbort } from '../internal/abort.js';
import {
  type AbortSource,
  CallScope,
  abortSourceOf,
  hasAborted,
  inheritedAttempt,
  startTimeOf,
} from '../internal/call-scope.js';
import { DeadlineQueue } from '../internal/deadline-queue.js';
import { factoryOf, parseOptions } from '../options/parse-options.js';
import { type TimeoutOptions, timeoutOptionsSchema } from './timeout-options.js';

/**
 * A call whose policy had listeners when it started: its scope, and its async context, captured so
 * that `timeout.elapsed` reaches listeners in this call's context (its correlation id, its active
 * span) although the shared timer fires in the context of whichever call armed it.
 */
class ListenedCall {
  constructor(
    readonly scope: CallScope,
    readonly context: AsyncResource,
  ) {}
}

class TimeoutPolicy extends BasePolicy {
  readonly #timeoutMs: number;
  readonly #isAggressive: boolean;
  readonly #clock: Clock;
  readonly #errorSource: ErrorSource;
  /** One timer for every call of this policy: they all share `timeoutMs`, so deadlines are FIFO. */
  readonly #deadlines: DeadlineQueue<CallScope | ListenedCall>;

  constructor(options: TimeoutOptions) {
    const factory = factoryOf(options, 'timeout');
    const parsed = parseOptions('timeout', timeoutOptionsSchema, options, 'timeout');
    super('timeout', parsed.name, factory);
    this.#timeoutMs = parsed.timeoutMs;
    this.#isAggressive = parsed.strategy === 'aggressive';
    this.#clock = parsed.clock;
    this.#errorSource = { policyKind: 'timeout', policyName: parsed.name };
    this.#deadlines = new DeadlineQueue<CallScope | ListenedCall>(parsed.clock, parsed.timeoutMs, (call) => {
      this.#expire(call);
    });
  }

  protected async run<T>(fn: Work<T>, options: ExecuteOptions | undefined): Promise<T> {
    const abortSource = abortSourceOf(options);
    if (abortSource?.aborted === true) throw abortSource.reason;
    // One clock reading serves the deadline and, when someone listens, the duration (the caller's,
    // when a pipeline runs this right after it read the same clock).
    const startedMs = startTimeOf(options, this.#clock);
    // The work's context: its AbortSignal exists only if the work reads `signal`.
    const scope = CallScope.abortable(abortSource, inheritedAttempt(abortSource));
    const ticket = this.#deadlines.enter(
      this.events.hasListeners ? new ListenedCall(scope, new AsyncResource('hyx.timeout')) : scope,
      startedMs,
    );
    try {
      // The next layer of a pipeline starts inside this call: it takes the same reading.
      scope.stamp(this.#clock, startedMs);
      const work = callSafely(fn, scope);
      scope.unstamp();
      // Aggressive: the deadline or the caller ends the wait. Cooperative: only the caller does (a
      // caller's abort rejects at once, as fetch does); at the deadline the work is asked to stop.
      const result = await (this.#isAggressive
        ? raceWithAbort(work, scope)
        : abortSource?.canAbort !== true
          ? work
          : raceWithAbort(work, abortSource));
      if (this.events.hasListeners) this.#emitOutcome(startedMs, undefined, false);
      return result;
    } catch (error) {
      const outcome = this.#outcomeOf(error, scope, abortSource);
      if (this.events.hasListeners) this.#emitOutcome(startedMs, outcome, true);
      throw outcome;
    } finally {
      this.#deadlines.leave(ticket);
      scope.dispose();
    }
  }

  /** The error the call rejects with, given what the work (or the race) rejected with. */
  #outcomeOf(error: unknown, scope: CallScope, abortSource: AbortSource | undefined): unknown {
    // The caller's own abort is never reported as a timeout, even after the deadline passed.
    if (hasAborted(abortSource)) return abortSource.reason;
    if (!scope.isSelfAborted || error === scope.reason) return error;
    // The deadline passed and the work then failed in its own way (often because it was aborted).
    return new TimeoutError(this.#errorSource, this.#timeoutMs, { cause: error });
  }

  /**
   * Called by the deadline queue (from its shared timer, in the async context of whichever call
   * armed it) when a call's deadline passes.
   */
  #expire(call: CallScope | ListenedCall): void {
    const scope = call instanceof ListenedCall ? call.scope : call;
    // Already aborted means the caller aborted first: not a timeout.
    if (scope.aborted) return;
    scope.abort(new TimeoutError(this.#errorSource, this.#timeoutMs));
    if (!(call instanceof ListenedCall) || !this.events.hasListeners) return;
    call.context.runInAsyncScope(this.#emitElapsed, this);
  }

  /** Emits `timeout.elapsed`; run in the timed-out call's async context (see {@link ListenedCall}). */
  #emitElapsed(): void {
    this.events.emit({
      type: 'timeout.elapsed',
      policyKind: this.kind,
      policyName: this.name,
      timeoutMs: this.#timeoutMs,
    });
  }

  #emitOutcome(startedMs: number, error: unknown, isFailure: boolean): void {
    const durationMs = this.#clock.now() - startedMs;
    this.events.emit(
      isFailure
        ? { type: 'execution.failed', policyKind: this.kind, policyName: this.name, durationMs, error }
        : { type: 'execution.succeeded', policyKind: this.kind, policyName: this.name, durationMs },
    );
  }
}

/**
 * A policy that gives the work `timeoutMs` to finish. At the deadline the work's `signal` aborts
 * with a {@link TimeoutError} as its reason; with `strategy: 'aggressive'` the call also rejects at
 * once, with `'cooperative'` (the default) it waits for the work to stop. A caller's own abort
 * rejects with the caller's reason and is never reported as a timeout.
 *
 * Put it outside a retry for one deadline around all attempts (`compose(timeout, retry)`), inside
 * for a deadline per attempt (`compose(retry, timeout)`).
 *
 * @example
 * ```ts
 * import { timeout } from '@hyx/local';
 * const withDeadline = timeout({ timeoutMs: 500 });
 * const body = await withDeadline.execute(async ({ signal }) => {
 *   const response = await fetch('http://127.0.0.1:8080/', { signal });
 *   return response.text();
 * });
 * ```
 */
export function timeout(options: TimeoutOptions): Policy {
  return new TimeoutPolicy(options);
}
