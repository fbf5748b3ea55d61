import { BasePolicy } from '../policy/base-policy.js';
import type { ExecuteOptions, ExecutionContext, Policy, Work } from '../policy/policy.js';
import type { ResilienceEvent } from '../events/resilience-event.js';
import { nestedExecuteOptions } from '../internal/call-scope.js';

/**
 * The alternative-value type of a policy: `TAlt` of `Policy<TAlt>`, also for interfaces that
 * extend `Policy` (a breaker, a bulkhead). Read off the type-only `~types` member, because `infer`
 * cannot see through the generic `execute` of a derived interface.
 */
export type AlternativeOf<TPolicy> = TPolicy extends {
  readonly '~types'?: { readonly alternative: infer TAlt };
}
  ? TAlt
  : never;

class Pipeline<TAlt> extends BasePolicy<TAlt> {
  readonly #policies: readonly Policy<unknown>[];

  constructor(policies: readonly Policy<unknown>[]) {
    super('pipeline', policies.map((policy) => policy.name).join('>'), 'compose');
    this.#policies = policies;
  }

  /**
   * The composed policies, outermost first. Not on the `Policy` type: telemetry reads it to tell
   * the outermost policy of a pipeline it instruments (whose duration is the whole call's).
   */
  get policies(): readonly Policy<unknown>[] {
    return this.#policies;
  }

  protected run<T>(fn: Work<T>, options: ExecuteOptions | undefined): Promise<T | TAlt> {
    return this.#runFrom(0, fn, options) as Promise<T | TAlt>;
  }

  override onEvent(listener: (event: ResilienceEvent) => void): () => void {
    const unsubscribes = this.#policies.map((policy) => policy.onEvent(listener));
    return () => {
      for (const unsubscribe of unsubscribes) unsubscribe();
    };
  }

  #runFrom<T>(index: number, fn: Work<T>, options: ExecuteOptions | undefined): Promise<unknown> {
    const policy = this.#policies[index];
    if (policy === undefined) throw new Error('hyx internal error: pipeline index out of range');
    if (index === this.#policies.length - 1) return policy.execute(fn, options);
    const key = options?.key;
    // The next policy inherits this layer's context (signal, attempt) without materialising it.
    return policy.execute(
      (context: ExecutionContext) => this.#runFrom(index + 1, fn, nestedExecuteOptions(context, key)),
      options,
    );
  }
}

/**
 * Combines policies into one. The first is outermost: `compose(timeout, retry)` puts one deadline
 * around all attempts, `compose(retry, timeout)` gives each attempt its own. `onEvent` subscribes
 * to every part.
 *
 * @example
 * ```ts
 * import { compose, fallback, retry, timeout } from '@hyx/local';
 * const pipeline = compose(
 *   fallback({ value: 'cached' }),
 *   retry({ maxAttempts: 3 }),
 *   timeout({ timeoutMs: 200 }),
 * );
 * const answer: string = await pipeline.execute(async ({ signal }) => (signal.aborted ? 'late' : 'fresh'));
 * ```
 */
export function compose<const TPolicies extends readonly [Policy<unknown>, ...Policy<unknown>[]]>(
  ...policies: TPolicies
): Policy<AlternativeOf<TPolicies[number]>> {
  if (policies.length === 0) throw new TypeError('compose: needs at least one policy, got none');
  for (const [index, policy] of policies.entries()) {
    if (typeof (policy as Partial<Policy<unknown>>).execute !== 'function') {
      throw new TypeError(`compose: argument ${index + 1} must be a policy, got ${typeof policy}`);
    }
  }
  return new Pipeline<AlternativeOf<TPolicies[number]>>(policies);
}
