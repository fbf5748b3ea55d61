import type { FastifyPluginCallback, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import fastifyPlugin from 'fastify-plugin';

import type { HttpRateLimitOptions } from '../core/http-rate-limit-options.js';
import { httpRateLimit } from '../core/http-rate-limit.js';
import { fastifyRequestInfo, sendPlan } from './fastify-request-info.js';

/**
 * An `onRequest` hook that limits requests with any hyx `RateLimiter`: put it on one route
 * (`{ onRequest: rateLimitHook(...) }`), or register {@link hyxRateLimit} for every route. Same
 * behaviour as the Express middleware: headers on allowed requests, 429 with `Retry-After`,
 * 503 when the backend is down and the limiter rejects.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { rateLimiter } from '@hyx/local';
 * import { rateLimitHook } from '@hyx/http/fastify';
 *
 * const app = Fastify();
 * const uploads = rateLimitHook({ limits: [{ limiter: rateLimiter({ name: 'uploads', limit: 10, intervalMs: 60_000 }) }] });
 * app.post('/upload', { onRequest: uploads }, async () => ({ ok: true }));
 * ```
 */
export function rateLimitHook(options: HttpRateLimitOptions<FastifyRequest>): onRequestAsyncHookHandler {
  const limit = httpRateLimit(options);
  return async function hyxRateLimitHook(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const verdict = await limit.check(request, fastifyRequestInfo(request));
    if (verdict.allowed) {
      reply.headers(verdict.headers);
      return;
    }
    await sendPlan(reply, verdict.response);
  };
}

const rateLimitPlugin: FastifyPluginCallback<HttpRateLimitOptions<FastifyRequest>> = (app, options, done) => {
  app.addHook('onRequest', rateLimitHook(options));
  done();
};

/**
 * A Fastify plugin that limits every request of the instance it is registered on (it is not
 * encapsulated), with any hyx `RateLimiter`, local or Redis. Options as {@link rateLimitHook}.
 * Client addresses come from the socket unless `trustProxy` says how many proxies to trust
 * (Fastify's own `trustProxy` is not consulted).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { rateLimiter } from '@hyx/local';
 * import { hyxRateLimit } from '@hyx/http/fastify';
 *
 * const app = Fastify();
 * await app.register(hyxRateLimit, {
 *   limits: [{ limiter: rateLimiter({ name: 'per-ip', limit: 100, intervalMs: 60_000 }), key: 'ip', windowMs: 60_000 }],
 *   trustProxy: 1,
 * });
 * app.get('/', async () => 'hello');
 * ```
 */
export const hyxRateLimit = fastifyPlugin(rateLimitPlugin, { fastify: '5.x', name: '@hyx/http/rate-limit' });
