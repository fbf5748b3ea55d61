import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

import { systemClock, type Clock, type HyxContextInit } from '@hyx/local';

import { CORRELATION_ID_HEADER, HYX_TIMEOUT_HEADER, requestBudgetMs } from './request-budget.js';

/**
 * Options of the incoming middleware that puts each request in a hyx context (`hyxContext` in
 * `@hyx/http/express` and `@hyx/http/fastify`).
 *
 * @example
 * ```ts
 * import type { RequestContextOptions } from '@hyx/http';
 * const options: RequestContextOptions = { maxBudgetMs: 30_000, defaultBudgetMs: 10_000 };
 * ```
 */
export interface RequestContextOptions {
  /** The header with the relative budget in ms; `grpc-timeout` is read too. @defaultValue `'hyx-timeout-ms'` */
  readonly budgetHeader?: string | undefined;
  /** @defaultValue `'x-correlation-id'` */
  readonly correlationIdHeader?: string | undefined;
  /** The most budget a caller may ask for; a larger one is cut to this. @defaultValue no cap */
  readonly maxBudgetMs?: number | undefined;
  /** The budget of a request that arrives without one. @defaultValue none: no deadline */
  readonly defaultBudgetMs?: number | undefined;
  /** Send the correlation id back in the response header. @defaultValue `true` */
  readonly echoCorrelationId?: boolean | undefined;
  /** Makes the id of a request that arrives without a valid one. @defaultValue `crypto.randomUUID` */
  readonly createCorrelationId?: (() => string) | undefined;
  /** @defaultValue `systemClock` of `@hyx/local` */
  readonly clock?: Clock | undefined;
}

/**
 * The defaults of {@link RequestContextOptions}.
 *
 * @example
 * ```ts
 * import { REQUEST_CONTEXT_DEFAULTS } from '@hyx/http';
 * console.log(REQUEST_CONTEXT_DEFAULTS.budgetHeader); // 'hyx-timeout-ms'
 * ```
 */
export const REQUEST_CONTEXT_DEFAULTS = Object.freeze({
  budgetHeader: HYX_TIMEOUT_HEADER,
  correlationIdHeader: CORRELATION_ID_HEADER,
  echoCorrelationId: true,
});

/** What a correlation id from outside may look like: short, printable, no separators of logs or headers. */
const VALID_CORRELATION_ID = /^[\w.:@/+=-]{1,128}$/;

/**
 * Reads the hyx context of an incoming request from its headers: the correlation id (kept when it
 * is well formed, else a new one) and the deadline, `now + budget` (capped by `maxBudgetMs`).
 *
 * @example
 * ```ts
 * import { withContext } from '@hyx/local';
 * import { requestContextInit } from '@hyx/http';
 * const init = requestContextInit({ 'hyx-timeout-ms': '300', 'x-correlation-id': 'req-42' });
 * withContext(init, () => 'handle the request');
 * ```
 */
export function requestContextInit(
  headers: IncomingHttpHeaders,
  options: RequestContextOptions = {},
): HyxContextInit & { readonly correlationId: string } {
  const clock = options.clock ?? systemClock;
  const idHeader = (
    options.correlationIdHeader ?? REQUEST_CONTEXT_DEFAULTS.correlationIdHeader
  ).toLowerCase();
  const given = headers[idHeader];
  const givenId = Array.isArray(given) ? given[0] : given;
  const correlationId =
    givenId !== undefined && VALID_CORRELATION_ID.test(givenId)
      ? givenId
      : (options.createCorrelationId ?? randomUUID)();
  const askedMs =
    requestBudgetMs(headers, options.budgetHeader ?? REQUEST_CONTEXT_DEFAULTS.budgetHeader) ??
    options.defaultBudgetMs;
  if (askedMs === undefined) return { correlationId };
  const budgetMs = options.maxBudgetMs === undefined ? askedMs : Math.min(askedMs, options.maxBudgetMs);
  return { correlationId, deadlineMs: clock.now() + budgetMs };
}
