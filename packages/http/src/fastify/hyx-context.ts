import type { FastifyPluginCallback, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import fastifyPlugin from 'fastify-plugin';

import { withContext } from '@hyx/local';

import { rememberContext, rememberedContext } from '../deadline/remembered-context.js';
import {
  REQUEST_CONTEXT_DEFAULTS,
  requestContextInit,
  type RequestContextOptions,
} from '../deadline/request-context.js';

const contextPlugin: FastifyPluginCallback<RequestContextOptions> = (app, options, done) => {
  const idHeader = options.correlationIdHeader ?? REQUEST_CONTEXT_DEFAULTS.correlationIdHeader;
  const echo = options.echoCorrelationId ?? REQUEST_CONTEXT_DEFAULTS.echoCorrelationId;
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction) => {
    const init = requestContextInit(request.headers, options);
    rememberContext(request.raw, init);
    if (echo) void reply.header(idHeader, init.correlationId);
    withContext(init, next);
  });
  // Body parsing resumes from stream events, outside the context opened above: enter it again
  // right before the handler.
  app.addHook(
    'preHandler',
    (request: FastifyRequest, _reply: FastifyReply, next: HookHandlerDoneFunction) => {
      const init = rememberedContext(request.raw);
      if (init === undefined) next();
      else withContext(init, next);
    },
  );
  done();
};

/**
 * A Fastify plugin that runs each request inside a hyx context: the correlation id from
 * `x-correlation-id` (or a new one, echoed back) and the deadline from `hyx-timeout-ms` or
 * `grpc-timeout`. Handlers see `currentContext()` and `remainingBudgetMs(...)`, events carry the
 * id, `protect` answers 504 when the deadline passes, and `hyxFetch` sends what is left downstream.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { remainingBudgetMs, systemClock } from '@hyx/local';
 * import { hyxContext } from '@hyx/http/fastify';
 *
 * const app = Fastify();
 * await app.register(hyxContext, { maxBudgetMs: 30_000 });
 * app.get('/', async () => ({ budgetMs: remainingBudgetMs(systemClock) }));
 * ```
 */
export const hyxContext = fastifyPlugin(contextPlugin, { fastify: '5.x', name: '@hyx/http/context' });
