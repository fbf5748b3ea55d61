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
    default:
      return undefined;
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
  clock: Clock = systemClock,
): Promise<T | TAlt> {
  const deadlineMs = currentContext()?.deadlineMs;
  if (deadlineMs === undefined) return policy.execute(work, { signal: closed });
  const budgetMs = Math.max(0, deadlineMs - clock.now());
  const deadline = new AbortController();
  const expired = (): void => {
    deadline.abort(new TimeoutError({ policyKind: 'timeout', policyName: 'request-deadline' }, budgetMs));
  };
  if (budgetMs === 0) expired();
  const timer = budgetMs === 0 ? undefined : clock.setTimeout(expired, budgetMs);
  const signal = AbortSignal.any([closed, deadline.signal]);
  return policy.execute(work, { signal }).finally(() => {
    if (timer !== undefined) clock.clearTimeout(timer);
  });
}
