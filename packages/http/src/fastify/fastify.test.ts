import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';

import {
  BackendUnavailableError,
  circuitBreaker,
  rateLimiter,
  timeout,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimiterOptions,
} from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

import { ClientClosedError } from '../core/protect-core.js';
import { deferred, startFastify, type LoopbackServer } from '../test-support/loopback-server.js';
import { protect } from './protect.js';
import { hyxRateLimit, rateLimitHook } from './rate-limit.js';

const servers: LoopbackServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const frozenLimiter = (options: RateLimiterOptions) =>
  rateLimiter({ clock: new FakeClock(1_000_000), ...options });

async function start(app: FastifyInstance): Promise<string> {
  const server = await startFastify(app);
  servers.push(server);
  return server.url;
}

function abortReason(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => {
      resolve(signal.reason);
    });
  });
}

describe('fastify hyxRateLimit', () => {
  it('limits every route by socket address, ignoring a spoofed X-Forwarded-For, with exact headers', async () => {
    const app = Fastify();
    await app.register(hyxRateLimit, {
      limits: [
        { limiter: frozenLimiter({ name: 'per-ip', limit: 2, intervalMs: 60_000 }), windowMs: 60_000 },
      ],
    });
    app.get('/a', () => 'a');
    app.get('/b', () => 'b');
    const url = await start(app);
    const first = await fetch(`${url}/a`, { headers: { 'x-forwarded-for': '1.1.1.1' } });
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toBe('"per-ip";q=2;w=60');
    expect(first.headers.get('ratelimit')).toBe('"per-ip";r=1;t=30');
    expect((await fetch(`${url}/b`, { headers: { 'x-forwarded-for': '2.2.2.2' } })).status).toBe(200);
    const refused = await fetch(`${url}/a`, { headers: { 'x-forwarded-for': '3.3.3.3' } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(refused.headers.get('ratelimit')).toBe('"per-ip";r=0;t=60');
    expect(await refused.json()).toEqual({
      error: 'rate_limited',
      message: 'Too many requests',
      retryAfterMs: 30_000,
    });
  });

  it('with trusted proxies, counts each forwarded client apart; by key on one route with its pattern', async () => {
    const app = Fastify();
    await app.register(hyxRateLimit, {
      limits: [{ limiter: frozenLimiter({ limit: 1, intervalMs: 60_000 }) }],
      trustProxy: 1,
    });
    const perKey = rateLimitHook({
      limits: [{ limiter: frozenLimiter({ limit: 1, intervalMs: 60_000 }), key: { header: 'x-api-key' } }],
    });
    app.get('/books/:id', { onRequest: perKey }, () => 'book');
    const url = await start(app);
    const get = (path: string, headers: Record<string, string>) =>
      fetch(`${url}${path}`, { headers }).then((r) => r.status);
    expect(await get('/books/1', { 'x-forwarded-for': '203.0.113.1', 'x-api-key': 'k1' })).toBe(200);
    expect(await get('/books/2', { 'x-forwarded-for': '9.9.9.9, 203.0.113.1', 'x-api-key': 'k2' })).toBe(429);
    expect(await get('/books/3', { 'x-forwarded-for': '203.0.113.2', 'x-api-key': 'k1' })).toBe(429);
    expect(await get('/books/4', { 'x-forwarded-for': '203.0.113.3', 'x-api-key': 'k3' })).toBe(200);
  });
});

/** A limiter whose own `tryAcquire` answers with `answer`: the path of a limiter that waits (Redis). */
function answeringLater(answer: () => Promise<RateLimitDecision>): RateLimiter {
  return Object.assign(Object.create(frozenLimiter({ limit: 5, intervalMs: 1000 })) as RateLimiter, {
    tryAcquire: answer,
  });
}

describe('fastify hyxRateLimit by route', () => {
  it('counts every path of a route pattern under that pattern', async () => {
    const app = Fastify();
    await app.register(hyxRateLimit, {
      limits: [{ limiter: frozenLimiter({ limit: 2, intervalMs: 60_000 }), key: 'route' }],
    });
    app.get('/books/:id', () => 'book');
    app.get('/authors/:id', () => 'author');
    const url = await start(app);
    const status = (path: string) => fetch(`${url}${path}`).then((response) => response.status);
    expect([await status('/books/1'), await status('/books/2'), await status('/books/3')]).toEqual([
      200, 200, 429,
    ]);
    expect(await status('/authors/1')).toBe(200);
  });
});

describe('fastify hyxRateLimit with a limiter that answers through a promise', () => {
  it('sends the headers of an allowed decision, 503 when the backend is down, 500 on another error', async () => {
    const app = Fastify();
    const allowed = answeringLater(() =>
      Promise.resolve({ allowed: true, limit: 5, remaining: 4, retryAfterMs: 0, resetAfterMs: 1000 }),
    );
    const down = answeringLater(() =>
      Promise.reject(
        new BackendUnavailableError({ policyKind: 'rate-limiter', policyName: 'redis' }, new Error('down')),
      ),
    );
    const broken = answeringLater(() => Promise.reject(new Error('limiter bug')));
    app.get(
      '/allowed',
      { onRequest: rateLimitHook({ limits: [{ limiter: allowed, policyName: 'p' }] }) },
      () => 'ok',
    );
    app.get('/down', { onRequest: rateLimitHook({ limits: [{ limiter: down }] }) }, () => 'ok');
    app.get('/broken', { onRequest: rateLimitHook({ limits: [{ limiter: broken }] }) }, () => 'ok');
    const url = await start(app);
    const response = await fetch(`${url}/allowed`);
    expect(response.status).toBe(200);
    expect(response.headers.get('ratelimit-policy')).toBe('"p";q=5');
    expect(response.headers.get('ratelimit')).toBe('"p";r=4;t=1');
    const unavailable = await fetch(`${url}/down`);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('ratelimit')).toBeNull();
    expect((await fetch(`${url}/broken`)).status).toBe(500);
  });

  it('answers 503 when the limiter does not answer within decisionTimeoutMs, never hanging', async () => {
    const clock = new FakeClock(0);
    const asked = deferred<undefined>();
    const hanging = answeringLater(() => {
      asked.resolve(undefined);
      return new Promise<RateLimitDecision>(() => {});
    });
    const app = Fastify();
    await app.register(hyxRateLimit, { limits: [{ limiter: hanging }], decisionTimeoutMs: 50, clock });
    app.get('/', () => 'ok');
    const url = await start(app);
    const response = fetch(url);
    await asked.promise;
    await clock.advance(50);
    expect((await response).status).toBe(503);
  });
});

describe('fastify protect', () => {
  it('answers 503 with Retry-After while the circuit is open, and 504 on a timeout', async () => {
    const breaker = circuitBreaker({
      window: { kind: 'consecutive' },
      failureCount: 1,
      halfOpenAfterMs: 2500,
      clock: new FakeClock(0),
    });
    const app = Fastify();
    app.get(
      '/breaker',
      protect(breaker)(() => {
        throw new Error('downstream failed');
      }),
    );
    app.get(
      '/slow',
      protect(timeout({ timeoutMs: 50 }))(async (_request, _reply, { signal }) => {
        throw await abortReason(signal);
      }),
    );
    const url = await start(app);
    expect((await fetch(`${url}/breaker`)).status).toBe(500);
    const refused = await fetch(`${url}/breaker`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('3');
    expect((await fetch(`${url}/slow`)).status).toBe(504);
  });

  it('aborts the handler work when the client disconnects', async () => {
    const started = deferred<undefined>();
    const seen = deferred<unknown>();
    const app = Fastify();
    app.get(
      '/',
      protect(timeout({ timeoutMs: 60_000 }))(async (_request, _reply, { signal }) => {
        started.resolve(undefined);
        const reason = await abortReason(signal);
        seen.resolve(reason);
        throw reason;
      }),
    );
    const url = await start(app);
    const client = new AbortController();
    const request = fetch(url, { signal: client.signal });
    await started.promise;
    client.abort();
    await expect(request).rejects.toThrow();
    expect(await seen.promise).toBeInstanceOf(ClientClosedError);
  });
});
