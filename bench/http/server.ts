/**
 * One server of the HTTP benchmark, in its own process so that the load generator does not share
 * its event loop: a hello-world route on Express or Fastify, bare or behind one rate limiter
 * (hyx's, or the peer users would pick). The limit is far above what the run can send, so every
 * request takes the allowed path: the cost measured is the middleware's, not a 429's.
 *
 * Argument: the case name. Reports `{ url }` to the parent over IPC.
 */
import fastifyRateLimit from '@fastify/rate-limit';
import express from 'express';
import { rateLimit as expressRateLimit } from 'express-rate-limit';
import Fastify from 'fastify';

import { rateLimiter } from '@hyx/local';
import { rateLimit } from '@hyx/http/express';
import { hyxRateLimit } from '@hyx/http/fastify';

/** Requests per second a limit allows: far above anything loopback reaches. */
const LIMIT_PER_SECOND = 10_000_000;

const hyxLimits = () => [
  {
    limiter: rateLimiter({ name: 'per-ip', limit: LIMIT_PER_SECOND, intervalMs: 1000 }),
    key: 'ip' as const,
    windowMs: 1000,
  },
];

async function start(caseName: string): Promise<string> {
  const [framework, variant] = caseName.split(':');
  if (framework === 'express') {
    const app = express();
    app.disable('x-powered-by');
    if (variant === 'hyx') app.use(rateLimit({ limits: hyxLimits() }));
    if (variant === 'peer') {
      app.use(
        expressRateLimit({
          windowMs: 1000,
          limit: LIMIT_PER_SECOND,
          standardHeaders: 'draft-8',
          legacyHeaders: false,
        }),
      );
    }
    app.get('/', (_request, response) => {
      response.send('hello');
    });
    return new Promise((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? `http://127.0.0.1:${address.port}` : '');
      });
    });
  }
  const app = Fastify();
  if (variant === 'hyx') await app.register(hyxRateLimit, { limits: hyxLimits() });
  if (variant === 'peer') await app.register(fastifyRateLimit, { max: LIMIT_PER_SECOND, timeWindow: 1000 });
  app.get('/', () => 'hello');
  return app.listen({ host: '127.0.0.1', port: 0 });
}

const url = await start(process.argv[2] ?? 'express:bare');
process.send?.({ url });
process.on('disconnect', () => {
  process.exit(0);
});
