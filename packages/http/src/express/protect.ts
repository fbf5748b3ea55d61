import type { NextFunction, Request, RequestHandler, Response } from 'express';

import { withContext, type ExecutionContext, type Policy } from '@hyx/local';

import {
  ClientClosedError,
  checkProtectOptions,
  responseForError,
  runProtected,
  type ProtectOptions,
} from '../core/protect-core.js';
import { rememberedContext } from '../deadline/remembered-context.js';
import { sendPlan } from './express-request-info.js';

/**
 * A route handler run under a policy: Express's request and response, plus the policy's
 * `ExecutionContext`, whose `signal` aborts when the client goes away, the request's deadline
 * passes or the policy gives up (a timeout). A value it returns is sent as JSON, unless the
 * handler already responded.
 *
 * @example
 * ```ts
 * import type { ProtectedHandler } from '@hyx/http/express';
 * const handler: ProtectedHandler = async (_request, response, { signal }) => {
 *   const stock = await fetch('http://127.0.0.1:8081/stock', { signal });
 *   response.json(await stock.json());
 * };
 * ```
 */
export type ProtectedHandler = (request: Request, response: Response, context: ExecutionContext) => unknown;

/**
 * Runs route handlers under a policy or pipeline (`compose(...)`). What hyx refuses or gives up on
 * becomes an HTTP answer: circuit open → 503 with `Retry-After`, bulkhead full → 503, timeout (of
 * the policy, or of the request's deadline) → 504, rate limited → 429. Other errors go to `next`,
 * to your error handler. With `minBudgetMs`, a request whose deadline leaves less than that is
 * answered 504 before the handler runs. When the client closes the connection, the handler's signal aborts with a
 * {@link ClientClosedError} and nothing more is written.
 *
 * @returns a function that turns a {@link ProtectedHandler} into an Express handler; reuse it for
 * every route the policy guards.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { bulkhead, circuitBreaker, compose, timeout } from '@hyx/local';
 * import { protect } from '@hyx/http/express';
 *
 * const guarded = protect(compose(circuitBreaker({ name: 'stock' }), bulkhead({ maxConcurrent: 10 }), timeout({ timeoutMs: 2000 })));
 * const app = express();
 * app.get('/stock', guarded(async (_request, _response, { signal }) => {
 *   const upstream = await fetch('http://127.0.0.1:8081/stock', { signal });
 *   return upstream.json();
 * }));
 * ```
 */
export function protect<TAlt>(
  policy: Policy<TAlt>,
  options: ProtectOptions = {},
): (handler: ProtectedHandler) => RequestHandler {
  checkProtectOptions(options);
  return (handler) => (request: Request, response: Response, next: NextFunction) => {
    const closed = new AbortController();
    const onClose = (): void => {
      if (!response.writableFinished) closed.abort(new ClientClosedError());
    };
    response.once('close', onClose);
    const run = (): Promise<unknown> =>
      runProtected(policy, (context) => handler(request, response, context), closed.signal, options);
    const init = rememberedContext(request);
    const outcome = init === undefined ? run() : withContext(init, run);
    outcome.then(
      (value) => {
        response.off('close', onClose);
        if (value !== undefined && !response.headersSent && !response.writableEnded) response.json(value);
      },
      (error: unknown) => {
        response.off('close', onClose);
        if (closed.signal.aborted) return;
        const plan = responseForError(error);
        if (plan !== undefined && !response.headersSent) sendPlan(response, plan);
        else next(error);
      },
    );
  };
}
