import type { NextFunction, Request, RequestHandler, Response } from 'express';

import type { HttpRateLimitOptions } from '../core/http-rate-limit-options.js';
import { httpRateLimit, type HttpRateLimitVerdict } from '../core/http-rate-limit.js';
import { expressRequestInfo, sendPlan } from './express-request-info.js';

/**
 * Express middleware that limits requests with any hyx `RateLimiter`, local or Redis. Allowed
 * requests go on with `RateLimit` / `RateLimit-Policy` headers; refused ones get a 429 with
 * `Retry-After` and a JSON body; a limiter whose backend is down and set to reject gets a quick
 * 503. Client addresses come from the socket unless `trustProxy` says how many proxies to trust
 * (Express's own `trust proxy` setting is not consulted).
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { rateLimiter } from '@hyx/local';
 * import { rateLimit } from '@hyx/http/express';
 *
 * const app = express();
 * app.use(
 *   rateLimit({
 *     limits: [
 *       { limiter: rateLimiter({ name: 'per-ip', limit: 100, intervalMs: 60_000 }), key: 'ip', windowMs: 60_000 },
 *       { limiter: rateLimiter({ name: 'per-key', limit: 1000, intervalMs: 60_000 }), key: { header: 'x-api-key' } },
 *     ],
 *     skipPaths: ['/health'],
 *   }),
 * );
 * app.get('/', (_request, response) => { response.send('hello'); });
 * ```
 */
export function rateLimit(options: HttpRateLimitOptions<Request>): RequestHandler {
  const limit = httpRateLimit(options);
  return (request, response, next) => {
    const verdict = limit.checkNow(request, expressRequestInfo(request));
    // A limiter that decides in process answers at once: no promise, no microtask per request.
    if (!(verdict instanceof Promise)) {
      answer(response, verdict, next);
      return;
    }
    verdict.then(
      (settled) => {
        answer(response, settled, next);
      },
      (error: unknown) => {
        next(error);
      },
    );
  };
}

/** Lets the request go on with its headers, or sends the planned answer. */
function answer(response: Response, verdict: HttpRateLimitVerdict, next: NextFunction): void {
  if (!verdict.allowed) {
    sendPlan(response, verdict.response);
    return;
  }
  for (const [name, value] of Object.entries(verdict.headers)) response.setHeader(name, value);
  next();
}
