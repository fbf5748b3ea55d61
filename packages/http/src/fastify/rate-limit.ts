import type { FastifyPluginCallback, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fastifyPlugin from 'fastify-plugin';

import type { HttpRateLimitOptions } from '../core/http-rate-limit-options.js';
import { httpRateLimit, type HttpRateLimitVerdict } from '../core/http-rate-limit.js';
import { fastifyRequestInfo, fastifyRequestInfoWithoutRoute, sendPlan } from './fastify-request-info.js';

/**
 * An `onRequest` hook that limits requests with any hyx `RateLimiter`: put it on one route
 * (`{ onRequest: rateLimitHook(...) }`), or register {@link hyxRateLimit} for every route. Same
 * behaviour as the Express middleware: headers on allowed requests, 429 with `Retry-After`,
 * 503 when the backend is down and the limiter rejects.
 *
 * A callback hook, not an `async` one: with a limiter that decides in process, the request goes
 * on within the hook, without a promise and a turn of the microtask queue per request.
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
export function rateLimitHook(options: HttpRateLimitOptions<FastifyRequest>): onRequestHookHandler {
  const limit = httpRateLimit(options);
  const requestInfo = limit.readsRoute ? fastifyRequestInfo : fastifyRequestInfoWithoutRoute;
  return function hyxRateLimitHook(request, reply, done): void {
    const verdict = limit.checkNow(request, requestInfo(request));
    if (!(verdict instanceof Promise)) {
      answer(reply, verdict, done);
      return;
    }
    verdict.then(
      (settled) => {
        answer(reply, settled, done);
      },
      (error: unknown) => {
        // What `check` rejected with goes to Fastify's error handling as it is, as an `async`
        // hook's rejection would; only a falsy one, which `done` would take for "go on", is replaced.
        done(error ? (error as Error) : new Error('the rate-limit check failed without a reason'));
      },
    );
  };
}

/** Lets the request go on with its headers, or sends the planned answer (the hook's end). */
function answer(reply: FastifyReply, verdict: HttpRateLimitVerdict, done: () => void): void {
  if (verdict.allowed) {
    reply.headers(verdict.headers);
    done();
    return;
  }
  // A callback hook that answers does not call `done`: the reply ends the request.
  sendPlan(reply, verdict.response);
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
