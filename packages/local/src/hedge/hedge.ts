import type { Clock, TimerHandle } from '../clock/clock.js';
import { BasePolicy } from '../policy/base-policy.js';
import type { ExecuteOptions, Policy, Work } from '../policy/policy.js';
import { callSafely } from '../internal/abort.js';
import { CallScope, abortSourceOf } from '../internal/call-scope.js';
import { factoryOf, parseOptions } from '../options/parse-options.js';
import { type HedgeOptions, hedgeOptionsSchema } from './hedge-options.js';

/** One attempt of a hedged call. */
interface Attempt {
  readonly scope: CallScope;
  isRunning: boolean;
}

class HedgePolicy extends BasePolicy {
  readonly #delayMs: number;
  /** The first attempt plus the hedged ones. */
  readonly #maxAttempts: number;
  readonly #clock: Clock;

  constructor(options: HedgeOptions) {
    const factory = factoryOf(options, 'hedge');
    const parsed = parseOptions('hedge', hedgeOptionsSchema, options, 'hedge');
    super('hedge', parsed.name, factory);
    this.#delayMs = parsed.delayMs;
    this.#maxAttempts = 1 + parsed.maxHedgedAttempts;
    this.#clock = parsed.clock;
  }

  protected run<T>(fn: Work<T>, options: ExecuteOptions | undefined): Promise<T> {
    const abortSource = abortSourceOf(options);
    if (abortSource?.aborted === true) return Promise.reject(abortSource.reason);
    const clock = this.#clock;
    const startedMs = this.events.hasListeners ? clock.now() : 0;

    return new Promise<T>((resolve, reject) => {
      const attempts: Attempt[] = [];
      const errors: unknown[] = [];
      let timer: TimerHandle | undefined;
      let isSettled = false;

      // Every way out goes through here: the timer is cleared, the caller's signal released, and
      // every attempt still running is told through its signal that it lost.
      const settle = (winner: Attempt | undefined): void => {
        isSettled = true;
        if (timer !== undefined) clock.clearTimeout(timer);
        timer = undefined;
        unsubscribeCaller?.();
        let lostReason: DOMException | undefined;
        for (const attempt of attempts) {
          if (attempt !== winner && attempt.isRunning) {
            lostReason ??= new DOMException(`hedge "${this.name}": another attempt won`, 'AbortError');
            attempt.scope.abort(lostReason);
          }
          attempt.scope.dispose();
        }
      };

      const startAttempt = (): void => {
        timer = undefined;
        const number = attempts.length + 1;
        const attempt: Attempt = { scope: CallScope.abortable(abortSource, number), isRunning: true };
        attempts.push(attempt);
        if (number > 1) this.#emitStarted(number);
        if (number < this.#maxAttempts) timer = clock.setTimeout(startAttempt, this.#delayMs);
        callSafely(fn, attempt.scope).then(
          (value) => {
            attempt.isRunning = false;
            if (isSettled) return;
            settle(attempt);
            this.#emitOutcome(startedMs, undefined, false);
            resolve(value);
          },
          (error: unknown) => {
            attempt.isRunning = false;
            if (isSettled) return;
            errors[number - 1] = error;
            if (attempts.length < this.#maxAttempts) {
              // A failure is the slowest answer there is: hedge now rather than after the delay.
              if (timer !== undefined) clock.clearTimeout(timer);
              startAttempt();
              return;
            }
            if (attempts.some((other) => other.isRunning)) return;
            settle(undefined);
            const aggregate = new AggregateError(
              errors,
              `hedge "${this.name}": all ${attempts.length} attempts failed`,
            );
            this.#emitOutcome(startedMs, aggregate, true);
            reject(aggregate);
          },
        );
      };

      // The caller's abort reaches every attempt through its scope, a child of the caller's source;
      // the call rejects at once with the caller's reason. Nothing is unsubscribed or disposed here:
      // the source is notifying its listeners (the attempts' scopes among them) right now, and each
      // scope detaches itself once notified.
      const unsubscribeCaller = abortSource?.subscribe(() => {
        if (isSettled) return;
        isSettled = true;
        if (timer !== undefined) clock.clearTimeout(timer);
        timer = undefined;
        this.#emitOutcome(startedMs, abortSource.reason, true);
        reject(abortSource.reason);
      });

      startAttempt();
    });
  }

  #emitStarted(attempt: number): void {
    if (!this.events.hasListeners) return;
    this.events.emit({ type: 'hedge.started', policyKind: this.kind, policyName: this.name, attempt });
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
 * A policy that hedges slow calls: when an attempt has no result after `delayMs`, it starts another
 * (up to `maxHedgedAttempts` more), takes the first success and aborts the others through their
 * signals. An attempt that fails starts the next one at once instead of waiting for the delay. When
 * every attempt fails, the call rejects with an `AggregateError` of their errors, in attempt order.
 *
 * Only hedge work that is safe to run more than once (reads, idempotent writes).
 *
 * @example
 * ```ts
 * import { hedge } from '@hyx/local';
 * const hedged = hedge({ delayMs: 100 });
 * const price = await hedged.execute(async ({ signal, attempt }) => {
 *   const response = await fetch(`http://127.0.0.1:8080/price?try=${attempt}`, { signal });
 *   return response.json() as Promise<{ price: number }>;
 * });
 * ```
 */
export function hedge(options: HedgeOptions): Policy {
  return new HedgePolicy(options);
}
