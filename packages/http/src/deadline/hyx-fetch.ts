import { TimeoutError, currentContext, systemClock, type Clock } from '@hyx/local';

import { CORRELATION_ID_HEADER, HYX_TIMEOUT_HEADER, formatGrpcTimeout } from './request-budget.js';

/**
 * Options of {@link createHyxFetch}.
 *
 * @example
 * ```ts
 * import { createHyxFetch } from '@hyx/http';
 * const grpcStyleFetch = createHyxFetch({ sendGrpcTimeout: true });
 * ```
 */
export interface HyxFetchOptions {
  /** @defaultValue `'hyx-timeout-ms'` */
  readonly budgetHeader?: string | undefined;
  /** @defaultValue `'x-correlation-id'` */
  readonly correlationIdHeader?: string | undefined;
  /** Also send the budget as `grpc-timeout` (`300m`). @defaultValue `false` */
  readonly sendGrpcTimeout?: boolean | undefined;
  /** The `fetch` to wrap. @defaultValue `globalThis.fetch` */
  readonly fetch?: typeof fetch | undefined;
  /** @defaultValue `systemClock` of `@hyx/local` */
  readonly clock?: Clock | undefined;
}

/**
 * A `fetch` that carries the hyx context downstream.
 *
 * @example
 * ```ts
 * import { hyxFetch, type HyxFetch } from '@hyx/http';
 * const get: HyxFetch = hyxFetch;
 * ```
 */
export type HyxFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Builds a {@link HyxFetch}: inside a hyx context it adds the correlation id header (unless the
 * caller set one), sends the remaining budget (`hyx-timeout-ms`, rounded down), and aborts the
 * request, body included, with a `TimeoutError` when the deadline passes. With the deadline already
 * passed it rejects at once and never calls downstream. Outside a context it is plain `fetch`.
 *
 * @example
 * ```ts
 * import { createHyxFetch } from '@hyx/http';
 * const fetchDownstream = createHyxFetch({ budgetHeader: 'x-budget-ms' });
 * const response = await fetchDownstream('http://127.0.0.1:8080/prices');
 * ```
 */
export function createHyxFetch(options: HyxFetchOptions = {}): HyxFetch {
  const budgetHeader = options.budgetHeader ?? HYX_TIMEOUT_HEADER;
  const idHeader = options.correlationIdHeader ?? CORRELATION_ID_HEADER;
  const clock = options.clock ?? systemClock;
  const sendGrpcTimeout = options.sendGrpcTimeout ?? false;
  return async (input, init) => {
    const fetchImpl = options.fetch ?? globalThis.fetch;
    const context = currentContext();
    if (context === undefined) return fetchImpl(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (!headers.has(idHeader)) headers.set(idHeader, context.correlationId);
    if (context.deadlineMs === undefined) return fetchImpl(input, { ...init, headers });

    const budgetMs = Math.floor(context.deadlineMs - clock.now());
    const source = { policyKind: 'timeout', policyName: 'request-deadline' } as const;
    if (budgetMs <= 0) throw new TimeoutError(source, 0);
    headers.set(budgetHeader, String(budgetMs));
    if (sendGrpcTimeout) headers.set('grpc-timeout', formatGrpcTimeout(budgetMs));
    const deadline = new AbortController();
    const timer = clock.setTimeout(() => {
      deadline.abort(new TimeoutError(source, budgetMs));
    }, budgetMs);
    const callerSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    const signal = callerSignal == null ? deadline.signal : AbortSignal.any([callerSignal, deadline.signal]);
    try {
      const response = await fetchImpl(input, { ...init, headers, signal });
      // The deadline still covers reading the body, but must not keep the process alive for it.
      clock.keepAlive?.(timer, false);
      return response;
    } catch (error) {
      clock.clearTimeout(timer);
      throw error;
    }
  };
}

/**
 * `fetch` with the hyx context carried downstream: see {@link createHyxFetch}.
 *
 * @example
 * ```ts
 * import { withContext } from '@hyx/local';
 * import { hyxFetch } from '@hyx/http';
 * await withContext({ deadlineMs: Date.now() + 300 }, () => hyxFetch('http://127.0.0.1:8080/stock'));
 * ```
 */
export const hyxFetch: HyxFetch = createHyxFetch();
