import {
  TimeoutError,
  currentContext,
  isResilienceError,
  systemClock,
  type Clock,
  type ExecutionContext,
  type Policy,
} from '@hyx/local';

import { jsonResponse, type HttpResponsePlan } from './http-response-plan.js';
import { secondsCeil } from './rate-limit-headers.js';

/**
 * The reason of the signal handed to protected work when the client goes away before the response
 * is sent.
 *
 * @example
 * ```ts
 * import { ClientClosedError } from '@hyx/http';
 * const isClientGone = (signal: AbortSignal) => signal.reason instanceof ClientClosedError;
 * ```
 */
export class ClientClosedError extends Error {
  constructor() {
    super('the client closed the connection before the response was sent');
  }

  override get name(): string {
    return 'ClientClosedError';
  }
}

/**
 * The response for an error of protected work, or `undefined` when it is not a hyx rejection:
 * circuit open and bulkhead full answer 503 (with `Retry-After` when the policy knows when to come
 * back), a timeout 504, a rate limit 429, an unavailable backend 503.
 *
 * @example
 * ```ts
 * import { CircuitOpenError } from '@hyx/local';
 * import { responseForError } from '@hyx/http';
 * responseForError(new CircuitOpenError({ policyKind: 'circuit-breaker', policyName: 'db' }, 5000))?.status; // 503
 * ```
 */
export function responseForError(error: unknown): HttpResponsePlan | undefined {
  if (!isResilienceError(error)) return undefined;
  switch (error.code) {
    case 'CIRCUIT_OPEN':
    case 'BULKHEAD_FULL':
    case 'RATE_LIMITED': {
      const retryAfterMs = (error as { readonly retryAfterMs?: number | undefined }).retryAfterMs;
      const headers: Record<string, string> =
        retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0
          ? { 'Retry-After': String(secondsCeil(retryAfterMs)) }
          : {};
      const status = error.code === 'RATE_LIMITED' ? 429 : 503;
      return jsonResponse(status, { error: error.code.toLowerCase(), message: error.message }, headers);
    }
    case 'TIMEOUT':
      return jsonResponse(504, { error: 'timeout', message: error.message }, {});
    case 'BACKEND_UNAVAILABLE':
      return jsonResponse(503, { error: 'backend_unavailable', message: error.message }, {});
    case 'RETRY_EXHAUSTED':
      // The last attempt's failure says it best (a timeout is still a 504); an upstream that kept
      // failing in its own way is a bad gateway.
      return (
        responseForError(error.cause) ??
        jsonResponse(502, { error: 'retry_exhausted', message: error.message }, {})
      );
    default:
      return undefined;
  }
}

/**
 * Options of `protect` (Express and Fastify).
 *
 * @example
 * ```ts
 * import type { ProtectOptions } from '@hyx/http';
 * // This route's work takes about 200 ms: do not start it with less budget left.
 * const options: ProtectOptions = { minBudgetMs: 200 };
 * ```
 */
export interface ProtectOptions {
  /**
   * When the request's hyx context has less budget left than this, answer 504 at once without
   * running the handler: work that cannot finish before the caller gives up is not started.
   * @defaultValue `0`
   */
  readonly minBudgetMs?: number | undefined;
  /** @defaultValue `systemClock` of `@hyx/local` */
  readonly clock?: Clock | undefined;
}

/** Checks {@link ProtectOptions} once, when `protect` is called. @internal */
export function checkProtectOptions(options: ProtectOptions): void {
  const minBudgetMs: unknown = options.minBudgetMs;
  if (minBudgetMs === undefined) return;
  if (typeof minBudgetMs !== 'number' || !(minBudgetMs >= 0) || !Number.isFinite(minBudgetMs)) {
    throw new RangeError(
      `protect: minBudgetMs must be a finite number >= 0, got ${typeof minBudgetMs === 'number' ? minBudgetMs : typeof minBudgetMs}`,
    );
  }
}

/**
 * Runs work under `policy` for one request. The work's signal aborts when the client closes the
 * connection (`closed`) and when the hyx context's deadline passes (with a `TimeoutError`, which
 * becomes a 504); everything the policy adds (its own timeout, a hedge) comes on top.
 *
 * @internal
 */
export function runProtected<T, TAlt>(
  policy: Policy<TAlt>,
  work: (context: ExecutionContext) => T | PromiseLike<T>,
  closed: AbortSignal,
  options: ProtectOptions,
): Promise<T | TAlt> {
  const deadlineMs = currentContext()?.deadlineMs;
  if (deadlineMs === undefined) return policy.execute(work, { signal: closed });
  const clock = options.clock ?? systemClock;
  const budgetMs = Math.max(0, deadlineMs - clock.now());
  const source = { policyKind: 'timeout', policyName: 'request-deadline' } as const;
  if (budgetMs === 0 || budgetMs < (options.minBudgetMs ?? 0)) {
    return Promise.reject(new TimeoutError(source, budgetMs));
  }
  const deadline = new AbortController();
  const expired = (): void => {
    deadline.abort(new TimeoutError(source, budgetMs));
  };
  const timer = clock.setTimeout(expired, budgetMs);
  const signal = AbortSignal.any([closed, deadline.signal]);
  return policy.execute(work, { signal }).finally(() => {
    clock.clearTimeout(timer);
  });
}
