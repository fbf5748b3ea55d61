/**
 * One server of the HTTP benchmark, in its own process so that the load generator does not share
 * its event loop: a hello-world route on Express or Fastify, bare or behind one rate limiter
 * (hyx's, or the peer users would pick), in process or on Redis. The limit is far above what the
 * run can send, so every request takes the allowed path: the cost measured is the middleware's,
 * not a 429's.
 *
 * Argument: the case name (`express:hyx-redis` and the like use the Redis at `REDIS_PORT`, which
 * the runner started). Reports `{ url }` to the parent over IPC, and answers the message
 * `cpu-usage` with `{ cpuUsage }` (its `process.cpuUsage()`).
 */
import fastifyRateLimit from '@fastify/rate-limit';
import express from 'express';
import { rateLimit as expressRateLimit } from 'express-rate-limit';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';

import { redisRateLimiter } from '@hyx/distributed';
import { rateLimiter, type RateLimiter } from '@hyx/local';
import { rateLimit } from '@hyx/http/express';
import { hyxRateLimit } from '@hyx/http/fastify';

/** Requests per second a limit allows: far above anything loopback reaches. */
const LIMIT_PER_SECOND = 10_000_000;

let client: Redis | undefined;
/** One client per process, made only by the Redis cases. */
function redis(): Redis {
  client ??= new Redis({ host: '127.0.0.1', port: Number(process.env.REDIS_PORT) });
  return client;
}

function hyxLimits(variant: string | undefined) {
  const options = { name: 'per-ip', limit: LIMIT_PER_SECOND, intervalMs: 1000 };
  const limiter: RateLimiter =
    variant === 'hyx-redis' ? redisRateLimiter(redis(), options) : rateLimiter(options);
  return [{ limiter, key: 'ip' as const, windowMs: 1000 }];
}

function expressPeer(variant: string | undefined) {
  const store =
    variant === 'peer-redis'
      ? {
          store: new RedisStore({
            sendCommand: (command: string, ...args: string[]) =>
              redis().call(command, ...args) as Promise<RedisReply>,
          }),
        }
      : {};
  return expressRateLimit({
    windowMs: 1000,
    limit: LIMIT_PER_SECOND,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    ...store,
  });
}

async function start(caseName: string): Promise<string> {
  const [framework, variant] = caseName.split(':');
  const isHyx = variant?.startsWith('hyx') === true;
  const isPeer = variant?.startsWith('peer') === true;
  if (framework === 'express') {
    const app = express();
    app.disable('x-powered-by');
    if (isHyx) app.use(rateLimit({ limits: hyxLimits(variant) }));
    if (isPeer) app.use(expressPeer(variant));
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
  if (isHyx) await app.register(hyxRateLimit, { limits: hyxLimits(variant) });
  if (isPeer) {
    await app.register(fastifyRateLimit, {
      max: LIMIT_PER_SECOND,
      timeWindow: 1000,
      ...(variant === 'peer-redis' ? { redis: redis() } : {}),
    });
  }
  app.get('/', () => 'hello');
  return app.listen({ host: '127.0.0.1', port: 0 });
}

const url = await start(process.argv[2] ?? 'express:bare');
process.send?.({ url });
// The runner asks for this process's CPU time around each measured load: CPU per request is what
// the middleware costs, and unlike requests per second it hardly moves when other work shares
// the machine.
process.on('message', (message: unknown) => {
  if (message === 'cpu-usage') process.send?.({ cpuUsage: process.cpuUsage() });
});
process.on('disconnect', () => {
  process.exit(0);
});
