import type { Clock } from '../clock/clock.js';
import { BasePolicy } from '../policy/base-policy.js';
import type { ExecuteOptions, Policy, Work } from '../policy/policy.js';
import { callSafely } from '../internal/abort.js';
import { CallScope, abortSourceOf, hasAborted, inheritedAttempt } from '../internal/call-scope.js';
import { factoryOf, parseOptions } from '../options/parse-options.js';
import { type FallbackOptions, type FallbackReason, fallbackOptionsSchema } from './fallback-options.js';

class FallbackPolicy<TAlt> extends BasePolicy<TAlt> {
  readonly #produce: (reason: FallbackReason) => TAlt | PromiseLike<TAlt>;
  readonly #shouldHandle: (error: unknown) => boolean;
  readonly #shouldHandleResult: (result: unknown) => boolean;
  readonly #clock: Clock;

  constructor(options: FallbackOptions<TAlt>) {
    const factory = factoryOf(options, 'fallback');
    const parsed = parseOptions('fallback', fallbackOptionsSchema, options, 'fallback');
    super('fallback', parsed.name, factory);
    const value = options.value;
    this.#produce =
      typeof value === 'function'
        ? (value as (reason: FallbackReason) => TAlt | PromiseLike<TAlt>)
        : () => value;
    this.#shouldHandle = parsed.shouldHandle;
    this.#shouldHandleResult = parsed.shouldHandleResult;
    this.#clock = parsed.clock;
  }

  protected async run<T>(fn: Work<T>, options: ExecuteOptions | undefined): Promise<T | TAlt> {
    const abortSource = abortSourceOf(options);
    if (abortSource?.aborted === true) throw abortSource.reason;
    const startedMs = this.events.hasListeners ? this.#clock.now() : 0;
    let reason: FallbackReason;
    try {
      const result = await callSafely(fn, CallScope.forwarding(abortSource, inheritedAttempt(abortSource)));
      if (!this.#shouldHandleResult(result)) {
        this.#emitOutcome(startedMs, undefined, false);
        return result;
      }
      reason = { kind: 'result', result };
    } catch (error) {
      // The caller's own abort is never replaced: the caller asked to stop, and the call rejects
      // with its reason, whatever the work rejected with.
      if (hasAborted(abortSource)) {
        this.#emitOutcome(startedMs, abortSource.reason, true);
        throw abortSource.reason;
      }
      if (!this.#shouldHandle(error)) {
        this.#emitOutcome(startedMs, error, true);
        throw error;
      }
      reason = { kind: 'error', error };
    }
    if (this.events.hasListeners) {
      this.events.emit({
        type: 'fallback.used',
        policyKind: this.kind,
        policyName: this.name,
        reason: reason.kind,
      });
    }
    // The handler runs once; if it throws, that error is the outcome (it is not handled again).
    try {
      const alternative = await this.#produce(reason);
      this.#emitOutcome(startedMs, undefined, false);
      return alternative;
    } catch (error) {
      this.#emitOutcome(startedMs, error, true);
      throw error;
    }
  }

  #emitOutcome(startedMs: number, error: unknown, isFailure: boolean): void {
    if (!this.events.hasListeners) return;
    const durationMs = this.#clock.now() - startedMs;
    this.events.emit(
      isFailure
        ? { type: 'execution.failed', policyKind: this.kind, policyName: this.name, durationMs, error }
        : { type: 'execution.succeeded', policyKind: this.kind, policyName: this.name, durationMs },
    );
  }
}

/**
 * A policy that replaces a failure with an alternative: on errors (`shouldHandle`) and/or on
 * unwanted results (`shouldHandleResult`). The call's type widens to `T | TAlt`.
 *
 * @example
 * ```ts
 * import { fallback } from '@hyx/local';
 * const withDefault = fallback({ value: { items: [] as string[], stale: true } });
 * const answer = await withDefault.execute(async () => ({ items: ['a'], stale: false }));
 * ```
 */
export function fallback<TAlt>(options: FallbackOptions<TAlt>): Policy<TAlt> {
  return new FallbackPolicy(options);
}
