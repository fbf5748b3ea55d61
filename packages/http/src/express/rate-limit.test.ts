import express, { type Request } from 'express';
import { afterEach, describe, expect, it } from 'vitest';

import {
  BackendUnavailableError,
  rateLimiter,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimiterOptions,
} from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

import type { HttpRateLimitOptions } from '../core/http-rate-limit-options.js';
import { startExpress, type LoopbackServer } from '../test-support/loopback-server.js';
import { rateLimit } from './rate-limit.js';

const servers: LoopbackServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A limiter on a clock that never moves, so every number in a header is exact. */
function frozenLimiter(options: RateLimiterOptions): RateLimiter {
  return rateLimiter({ clock: new FakeClock(1_000_000), ...options });
}

async function serve(options: HttpRateLimitOptions<Request>): Promise<string> {
  const app = express();
  app.use((request, _response, next) => {
    // Stands in for an authentication middleware.
    const user = request.headers['x-test-user'];
    if (typeof user === 'string') (request as Request & { user?: string }).user = user;
    next();
  });
  app.use(rateLimit(options));
  app.get('/health', (_request, response) => {
    response.send('ok');
  });
  app.all('/{*path}', (_request, response) => {
    response.send('hello');
  });
  const server = await startExpress(app);
  servers.push(server);
  return server.url;
}

async function statuses(url: string, headers: Record<string, string>[]): Promise<number[]> {
  const result: number[] = [];
  for (const requestHeaders of headers) result.push((await fetch(url, { headers: requestHeaders })).status);
  return result;
}

describe('express rateLimit', () => {
  it('limits by socket address and ignores a spoofed X-Forwarded-For without trusted proxies', async () => {
    const url = await serve({ limits: [{ limiter: frozenLimiter({ limit: 2, intervalMs: 60_000 }) }] });
    const spoofed = [
      { 'x-forwarded-for': '1.1.1.1' },
      { 'x-forwarded-for': '2.2.2.2' },
      { 'x-forwarded-for': '3.3.3.3' },
    ];
    expect(await statuses(url, spoofed)).toEqual([200, 200, 429]);
  });

  it('with one trusted proxy, limits by the address it appended, whatever the client put before it', async () => {
    const url = await serve({
      limits: [{ limiter: frozenLimiter({ limit: 1, intervalMs: 60_000 }) }],
      trustProxy: 1,
    });
    expect(
      await statuses(url, [
        { 'x-forwarded-for': '203.0.113.1' },
        { 'x-forwarded-for': '203.0.113.2' },
        { 'x-forwarded-for': '9.9.9.9, 203.0.113.1' },
        { 'x-forwarded-for': '8.8.8.8, 203.0.113.2' },
      ]),
    ).toEqual([200, 200, 429, 429]);
  });

  it('limits by API key header and by user, leaving requests without them out of those limits', async () => {
    const url = await serve({
      limits: [
        {
          limiter: frozenLimiter({ name: 'per-key', limit: 1, intervalMs: 60_000 }),
          key: { header: 'x-api-key' },
        },
        {
          limiter: frozenLimiter({ name: 'per-user', limit: 1, intervalMs: 60_000 }),
          key: (request) => (request as Request & { user?: string }).user,
        },
      ],
    });
    expect(
      await statuses(url, [
        { 'x-api-key': 'k1' },
        { 'x-api-key': 'k1' },
        { 'x-api-key': 'k2' },
        { 'x-test-user': 'ada' },
        { 'x-test-user': 'ada' },
        { 'x-test-user': 'bob' },
        {},
        {},
      ]),
    ).toEqual([200, 429, 200, 200, 429, 200, 200, 200]);
  });

  it('sends exact RateLimit, RateLimit-Policy and legacy headers, and a JSON 429 with Retry-After', async () => {
    const url = await serve({
      limits: [
        { limiter: frozenLimiter({ name: 'per-ip', limit: 2, intervalMs: 60_000 }), windowMs: 60_000 },
      ],
      legacyHeaders: true,
      clock: new FakeClock(1_000_000),
    });
    const first = await fetch(url);
    expect(first.headers.get('ratelimit-policy')).toBe('"per-ip";q=2;w=60');
    expect(first.headers.get('ratelimit')).toBe('"per-ip";r=1;t=30');
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    expect(first.headers.get('x-ratelimit-reset')).toBe('1030');
    expect(first.headers.get('retry-after')).toBeNull();
    await fetch(url);
    const refused = await fetch(url);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(refused.headers.get('ratelimit')).toBe('"per-ip";r=0;t=60');
    expect(refused.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await refused.json()).toEqual({
      error: 'rate_limited',
      message: 'Too many requests',
      retryAfterMs: 30_000,
    });
  });

  it('sends no legacy headers by default, and a replaced body', async () => {
    const url = await serve({
      limits: [{ limiter: frozenLimiter({ limit: 1, intervalMs: 1000 }) }],
      limitedBody: (details) => `wait ${details.retryAfterMs} ms`,
    });
    await fetch(url);
    const refused = await fetch(url);
    expect([...refused.headers.keys()].filter((name) => name.startsWith('x-ratelimit'))).toEqual([]);
    expect(refused.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await refused.text()).toBe('wait 1000 ms');
  });

  it('checks several limits all or nothing, refunding the ones taken when another refuses', async () => {
    const perIp = frozenLimiter({ name: 'per-ip', limit: 10, intervalMs: 60_000 });
    const perRoute = frozenLimiter({ name: 'per-route', limit: 1, intervalMs: 60_000 });
    const url = await serve({ limits: [{ limiter: perIp }, { limiter: perRoute, key: 'route' }] });
    expect(await statuses(`${url}/a`, [{}, {}, {}])).toEqual([200, 429, 429]);
    // Only the allowed request kept its unit of the per-IP limit.
    const decision = await perIp.tryAcquire({ key: 'ip:127.0.0.1' });
    expect(decision.remaining).toBe(8);
  });

  it('skips listed paths and charges the configured cost per route', async () => {
    const url = await serve({
      limits: [{ limiter: frozenLimiter({ limit: 5, intervalMs: 60_000 }) }],
      skipPaths: ['/health'],
      costByRoute: { 'POST /upload': 5 },
    });
    expect(await statuses(`${url}/health`, [{}, {}, {}, {}, {}, {}])).toEqual([200, 200, 200, 200, 200, 200]);
    expect((await fetch(`${url}/upload`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${url}/other`)).status).toBe(429);
  });

  it('answers 503 at once when the backend is unavailable and the limiter rejects', async () => {
    const limiter = frozenLimiter({ limit: 5, intervalMs: 1000 });
    const failing: RateLimiter = Object.assign(Object.create(limiter) as RateLimiter, {
      tryAcquire: () =>
        Promise.reject(
          new BackendUnavailableError({ policyKind: 'rate-limiter', policyName: 'redis' }, new Error('down')),
        ),
    });
    const url = await serve({ limits: [{ limiter: failing }] });
    const response = await fetch(url);
    expect(response.status).toBe(503);
    expect(response.headers.get('ratelimit')).toBeNull();
  });

  it('answers 503 when the limiter does not answer within decisionTimeoutMs, never hanging', async () => {
    const limiter = frozenLimiter({ limit: 5, intervalMs: 1000 });
    const hanging: RateLimiter = Object.assign(Object.create(limiter) as RateLimiter, {
      tryAcquire: () => new Promise<RateLimitDecision>(() => {}),
    });
    const url = await serve({ limits: [{ limiter: hanging }], decisionTimeoutMs: 50 });
    expect((await fetch(url)).status).toBe(503);
  });

  it('lets a request through without rate-limit headers when the limiter failed open', async () => {
    const limiter = frozenLimiter({ limit: 5, intervalMs: 1000 });
    const failOpen: RateLimiter = Object.assign(Object.create(limiter) as RateLimiter, {
      tryAcquire: () =>
        Promise.resolve({
          allowed: true,
          limit: 5,
          remaining: 5,
          retryAfterMs: 0,
          resetAfterMs: 0,
          source: 'fallback',
        }),
    });
    const url = await serve({ limits: [{ limiter: failOpen }], legacyHeaders: true });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect([...response.headers.keys()].filter((name) => name.includes('ratelimit'))).toEqual([]);
  });

  it('rejects bad options at construction, naming the option and the value', () => {
    const limiter = frozenLimiter({ limit: 1 });
    expect(() => rateLimit({ limits: [] })).toThrow(TypeError);
    expect(() => rateLimit({ limits: [{ limiter }], trustProxy: -1 })).toThrow(
      'httpRateLimit: trustProxy must be an integer >= 0, got -1',
    );
    expect(() => rateLimit({ limits: [{ limiter }], costByRoute: { '/a': 0.5 } })).toThrow(RangeError);
  });
});
