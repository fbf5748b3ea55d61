import type { ResilienceEvent } from '../events/resilience-event.js';

/**
 * The kinds of policy hyx ships. Telemetry labels use these values, so the set is closed.
 */
export type PolicyKind =
  | 'retry'
  | 'timeout'
  | 'fallback'
  | 'hedge'
  | 'cache'
  | 'pipeline'
  | 'circuit-breaker'
  | 'bulkhead'
  | 'rate-limiter'
  | 'lock'
  | 'leader-election';

/**
 * What a policy hands to the work it runs.
 *
 * @example
 * ```ts
 * import { timeout } from '@hyx/local';
 * const policy = timeout({ timeoutMs: 500 });
 * await policy.execute(({ signal }) => fetch('http://127.0.0.1:8080/', { signal }));
 * ```
 */
export interface ExecutionContext {
  /**
   * Aborted when the work should stop: the caller aborted, a timeout elapsed, or a hedge won.
   * When nothing can cancel the call (no caller signal, no timeout or hedge above), it is one
   * shared signal that never aborts and keeps no `abort` listener (they could never run).
   */
  readonly signal: AbortSignal;
  /** 1 for the first call, 2 for the first retry, and so on. */
  readonly attempt: number;
}

/**
 * Per-call options of {@link Policy.execute}.
 *
 * @example
 * ```ts
 * import { retry } from '@hyx/local';
 * const controller = new AbortController();
 * await retry({ maxAttempts: 3 }).execute(() => 'ok', { signal: controller.signal });
 * ```
 */
export interface ExecuteOptions {
  /** The caller's signal. Aborting it rejects the call with `signal.reason`, as `fetch` does. */
  readonly signal?: AbortSignal;
  /** A key for policies that keep state per key (cache, rate limiter). */
  readonly key?: string;
}

/** The work a policy runs. */
export type Work<T> = (context: ExecutionContext) => T | PromiseLike<T>;

/**
 * A resilience policy: runs work and decides what happens around it.
 *
 * `TAlt` is the type of the alternative values the policy can return instead of the work's own
 * result (a fallback's value); it is `never` for every policy that only passes results through.
 *
 * @example
 * ```ts
 * import { compose, retry, timeout, type Policy } from '@hyx/local';
 * const policy: Policy = compose(retry({ maxAttempts: 3 }), timeout({ timeoutMs: 200 }));
 * const get = policy.wrap(async (id: string) => ({ id }));
 * await get('42');
 * ```
 */
export interface Policy<TAlt = never> {
  /**
   * Type-level only, never present at run time: carries `TAlt` so that `compose` can compute the
   * alternative type of a pipeline (as zod and TanStack do with their `~types`).
   */
  readonly '~types'?: { readonly alternative: TAlt };
  /** Which pattern this policy implements. */
  readonly kind: PolicyKind;
  /** The name given at construction (defaults to the kind); used in errors, events and metrics. */
  readonly name: string;
  /**
   * Runs `fn` under this policy. A `fn` that is not a function rejects at once with a `TypeError`
   * naming the policy and the value (`retry "api": execute expects a function, got 42`).
   */
  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T | TAlt>;
  /**
   * The decorator form: a function with `fn`'s parameters that runs `fn` under this policy. Throws a
   * `TypeError` at once when `fn` is not a function.
   */
  wrap<TArgs extends unknown[], T>(
    fn: (...args: TArgs) => T | PromiseLike<T>,
  ): (...args: TArgs) => Promise<T | TAlt>;
  /** Subscribes to this policy's events. Returns a function that unsubscribes. */
  onEvent(listener: (event: ResilienceEvent) => void): () => void;
}
