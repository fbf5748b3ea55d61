import type { RequestHandler } from 'express';

import { withContext } from '@hyx/local';

import { rememberContext } from '../deadline/remembered-context.js';
import {
  REQUEST_CONTEXT_DEFAULTS,
  requestContextInit,
  type RequestContextOptions,
} from '../deadline/request-context.js';

/**
 * Express middleware that runs the rest of each request inside a hyx context: the correlation id
 * from `x-correlation-id` (or a new one, echoed back), and the deadline from `hyx-timeout-ms` or
 * `grpc-timeout`. Handlers then see `currentContext()` and `remainingBudgetMs(...)`, events carry
 * the id, `protect` answers 504 when the deadline passes, and `hyxFetch` sends what is left
 * downstream. Mount it first.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { remainingBudgetMs, systemClock } from '@hyx/local';
 * import { hyxContext } from '@hyx/http/express';
 *
 * const app = express();
 * app.use(hyxContext({ maxBudgetMs: 30_000 }));
 * app.get('/', (_request, response) => { response.json({ budgetMs: remainingBudgetMs(systemClock) }); });
 * ```
 */
export function hyxContext(options: RequestContextOptions = {}): RequestHandler {
  const idHeader = options.correlationIdHeader ?? REQUEST_CONTEXT_DEFAULTS.correlationIdHeader;
  const echo = options.echoCorrelationId ?? REQUEST_CONTEXT_DEFAULTS.echoCorrelationId;
  return (request, response, next) => {
    const init = requestContextInit(request.headers, options);
    rememberContext(request, init);
    if (echo) response.setHeader(idHeader, init.correlationId);
    withContext(init, next);
  };
}
