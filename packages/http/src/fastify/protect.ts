import type { FastifyReply, FastifyRequest } from 'fastify';

import { withContext, type ExecutionContext, type Policy } from '@hyx/local';

import {
  ClientClosedError,
  checkProtectOptions,
  responseForError,
  runProtected,
  type ProtectOptions,
} from '../core/protect-core.js';
import { rememberedContext } from '../deadline/remembered-context.js';
import { sendPlan } from './fastify-request-info.js';

/**
 * A Fastify route handler run under a policy: the request and reply, plus the policy's
 * `ExecutionContext`, whose `signal` aborts when the client goes away, the request's deadline
 * passes or the policy gives up. What it returns is the response, as in any async handler.
 *
 * @example
 * ```ts
 * import type { ProtectedHandler } from '@hyx/http/fastify';
 * const handler: ProtectedHandler = async (_request, _reply, { signal }) => {
 *   const stock = await fetch('http://127.0.0.1:8081/stock', { signal });
 *   return stock.json();
 * };
 * ```
 */
export type ProtectedHandler = (
  request: FastifyRequest,
  reply: FastifyReply,
  context: ExecutionContext,
) => unknown;

/**
 * Runs Fastify route handlers under a policy or pipeline: circuit open → 503 with `Retry-After`,
 * bulkhead full → 503, timeout (the policy's, or the request's deadline) → 504, rate limited →
 * 429; other errors go to Fastify's error handler. With `minBudgetMs`, a request whose deadline
 * leaves less than that is answered 504 before the handler runs. When the client closes the connection, the
 * handler's signal aborts with a {@link ClientClosedError} and nothing is written.
 *
 * @returns a function that turns a {@link ProtectedHandler} into a Fastify handler.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { circuitBreaker, compose, timeout } from '@hyx/local';
 * import { protect } from '@hyx/http/fastify';
 *
 * const guarded = protect(compose(circuitBreaker({ name: 'stock' }), timeout({ timeoutMs: 2000 })));
 * const app = Fastify();
 * app.get('/stock', guarded(async (_request, _reply, { signal }) => {
 *   const upstream = await fetch('http://127.0.0.1:8081/stock', { signal });
 *   return upstream.json();
 * }));
 * ```
 */
export function protect<TAlt>(
  policy: Policy<TAlt>,
  options: ProtectOptions = {},
): (handler: ProtectedHandler) => (request: FastifyRequest, reply: FastifyReply) => Promise<unknown> {
  checkProtectOptions(options);
  return (handler) => async (request, reply) => {
    const closed = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableFinished) closed.abort(new ClientClosedError());
    };
    reply.raw.once('close', onClose);
    const run = (): Promise<unknown> =>
      runProtected(policy, (context) => handler(request, reply, context), closed.signal, options);
    const init = rememberedContext(request.raw);
    let failure: { readonly error: unknown } | undefined;
    try {
      return await (init === undefined ? run() : withContext(init, run));
    } catch (error) {
      failure = { error };
    } finally {
      reply.raw.off('close', onClose);
    }
    if (closed.signal.aborted) {
      // Nobody is left to answer: keep Fastify from writing an error to a closed socket.
      reply.hijack();
      return reply;
    }
    const plan = responseForError(failure.error);
    if (plan === undefined || reply.sent) throw failure.error;
    return sendPlan(reply, plan);
  };
}
