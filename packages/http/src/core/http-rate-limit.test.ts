import { describe, expect, it } from 'vitest';

import { BackendUnavailableError, rateLimiter, type RateLimiter } from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

import type { HttpRequestInfo } from './http-request-info.js';
import { httpRateLimit } from './http-rate-limit.js';

const info: HttpRequestInfo = {
  method: 'GET',
  path: '/books/7',
  route: '/books/:id',
  headers: {},
  remoteAddress: '10.0.0.1',
};

function oneLimit(clock: FakeClock) {
  return [{ limiter: rateLimiter({ name: 'per-ip', limit: 2, intervalMs: 1000, clock }), windowMs: 1000 }];
}

describe('httpRateLimit with one limit (the path that skips combining limits)', () => {
  it('allows with headers, refuses with 429 and Retry-After, as with several limits', async () => {
    const clock = new FakeClock(0);
    const limit = httpRateLimit<unknown>({ limits: oneLimit(clock), clock });
    const first = await limit.check(undefined, info);
    expect(first).toEqual({
      allowed: true,
      headers: { 'RateLimit-Policy': '"per-ip";q=2;w=1', RateLimit: '"per-ip";r=1;t=1' },
    });
    await limit.check(undefined, info);
    const refused = await limit.check(undefined, info);
    expect(refused.allowed).toBe(false);
    if (refused.allowed) return;
    expect(refused.response.status).toBe(429);
    expect(refused.response.headers['Retry-After']).toBe('1');
  });

  it('rejects the check with what a skip or cost callback throws, without taking a unit', async () => {
    const clock = new FakeClock(0);
    const limits = oneLimit(clock);
    const boom = new Error('callback failed');
    const throwing = () => {
      throw boom;
    };
    await expect(
      httpRateLimit<unknown>({ limits, clock, skip: throwing }).check(undefined, info),
    ).rejects.toBe(boom);
    await expect(
      httpRateLimit<unknown>({ limits, clock, cost: throwing }).check(undefined, info),
    ).rejects.toBe(boom);
    const limiter = limits[0]?.limiter;
    expect((await limiter?.tryAcquire({ key: 'ip:10.0.0.1' }))?.remaining).toBe(1);
  });
});

describe('httpRateLimit checkNow (a limiter that decides in process answers without a promise)', () => {
  it('returns the verdict itself: exact headers, then 429 with Retry-After', () => {
    const clock = new FakeClock(0);
    const limit = httpRateLimit<unknown>({ limits: oneLimit(clock), clock, legacyHeaders: true });
    expect(limit.checkNow(undefined, info)).toEqual({
      allowed: true,
      headers: {
        'RateLimit-Policy': '"per-ip";q=2;w=1',
        RateLimit: '"per-ip";r=1;t=1',
        'X-RateLimit-Limit': '2',
        'X-RateLimit-Remaining': '1',
        'X-RateLimit-Reset': '1',
      },
    });
    expect(limit.checkNow(undefined, info)).toMatchObject({ allowed: true });
    const refused = limit.checkNow(undefined, info);
    expect(refused).not.toBeInstanceOf(Promise);
    if (refused instanceof Promise || refused.allowed) throw new Error('expected a synchronous refusal');
    expect(refused.response.status).toBe(429);
    expect(refused.response.headers).toEqual({
      'RateLimit-Policy': '"per-ip";q=2;w=1',
      RateLimit: '"per-ip";r=0;t=1',
      'X-RateLimit-Limit': '2',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': '1',
      'Retry-After': '1',
    });
    expect(clock.pendingTimers).toBe(0);
  });

  it('skips a listed path without asking the limiter', () => {
    const clock = new FakeClock(0);
    const limits = oneLimit(clock);
    const limit = httpRateLimit<unknown>({ limits, clock, skipPaths: ['/books/7'] });
    expect(limit.checkNow(undefined, info)).toEqual({ allowed: true, headers: {} });
    expect(limits[0]?.limiter.tryAcquireNow?.({ key: 'ip:10.0.0.1' })).toMatchObject({ remaining: 1 });
  });

  it('rejects what a skip or cost callback throws, without taking a unit', async () => {
    const clock = new FakeClock(0);
    const limits = oneLimit(clock);
    const boom = new Error('callback failed');
    const throwing = () => {
      throw boom;
    };
    const skipped = httpRateLimit<unknown>({ limits, clock, skip: throwing }).checkNow(undefined, info);
    const costed = httpRateLimit<unknown>({ limits, clock, cost: throwing }).checkNow(undefined, info);
    await expect(skipped).rejects.toBe(boom);
    await expect(costed).rejects.toBe(boom);
    expect(limits[0]?.limiter.tryAcquireNow?.({ key: 'ip:10.0.0.1' })).toMatchObject({ remaining: 1 });
  });

  it("asks a wrapper's own tryAcquire when it replaces only that, and watches its promise", async () => {
    const clock = new FakeClock(0);
    const [inner] = oneLimit(clock);
    if (inner === undefined) throw new Error('no limit');
    const down = new BackendUnavailableError(
      { policyKind: 'rate-limiter', policyName: 'redis' },
      new Error('down'),
    );
    const failing: RateLimiter = Object.assign(Object.create(inner.limiter) as RateLimiter, {
      tryAcquire: () => Promise.reject(down),
    });
    const verdict = httpRateLimit<unknown>({ limits: [{ limiter: failing }], clock }).checkNow(
      undefined,
      info,
    );
    expect(verdict).toBeInstanceOf(Promise);
    await expect(verdict).resolves.toMatchObject({ allowed: false, response: { status: 503 } });
  });

  it('rejects a pending decision with what limitedBody throws, never leaving it pending', async () => {
    const clock = new FakeClock(0);
    const [inner] = oneLimit(clock);
    if (inner === undefined) throw new Error('no limit');
    const refusing: RateLimiter = Object.assign(Object.create(inner.limiter) as RateLimiter, {
      tryAcquire: () =>
        Promise.resolve({ allowed: false, limit: 2, remaining: 0, retryAfterMs: 500, resetAfterMs: 1000 }),
    });
    const boom = new Error('body failed');
    const limit = httpRateLimit<unknown>({
      limits: [{ limiter: refusing }],
      clock,
      limitedBody: () => {
        throw boom;
      },
    });
    await expect(limit.checkNow(undefined, info)).rejects.toBe(boom);
  });

  it('answers a pending decision with 503 after decisionTimeoutMs, on the watchdog', async () => {
    const clock = new FakeClock(0);
    const [inner] = oneLimit(clock);
    if (inner === undefined) throw new Error('no limit');
    const hanging: RateLimiter = Object.assign(Object.create(inner.limiter) as RateLimiter, {
      tryAcquire: () => new Promise<never>(() => {}),
    });
    const limit = httpRateLimit<unknown>({ limits: [{ limiter: hanging }], clock, decisionTimeoutMs: 50 });
    const verdict = limit.checkNow(undefined, info);
    await clock.advance(50);
    await expect(verdict).resolves.toMatchObject({ allowed: false, response: { status: 503 } });
  });
});

describe('httpRateLimit keys by IP', () => {
  it('keys a forwarded client apart from its trusted proxy, whichever comes first', () => {
    const clock = new FakeClock(0);
    const limiter = rateLimiter({ name: 'per-ip', limit: 1, intervalMs: 1000, clock });
    const limit = httpRateLimit<unknown>({ limits: [{ limiter }], clock, trustProxy: 1 });
    const fromProxy = { ...info, remoteAddress: '10.0.0.2' };
    const forwarded = { ...fromProxy, headers: { 'x-forwarded-for': '203.0.113.7' } };
    const allowed = (request: HttpRequestInfo) =>
      (limit.checkNow(undefined, request) as { allowed: boolean }).allowed;
    expect([allowed(fromProxy), allowed(forwarded), allowed(fromProxy), allowed(forwarded)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(limiter.tryAcquireNow?.({ key: 'ip:203.0.113.7' })).toMatchObject({ allowed: false });
    expect(limiter.tryAcquireNow?.({ key: 'ip:10.0.0.2' })).toMatchObject({ allowed: false });
  });

  it('keys an IPv6 peer by its /56 network, an IPv4-mapped one as IPv4, and one with no address as unknown', () => {
    const clock = new FakeClock(0);
    const limiter = rateLimiter({ name: 'per-ip', limit: 1, intervalMs: 1000, clock });
    const limit = httpRateLimit<unknown>({ limits: [{ limiter }], clock });
    for (const remoteAddress of ['2001:db8:0:1::7', '::ffff:10.0.0.9', undefined]) {
      expect(limit.checkNow(undefined, { ...info, remoteAddress })).toMatchObject({ allowed: true });
    }
    for (const key of ['ip:2001:db8:0:0:0:0:0:0/56', 'ip:10.0.0.9', 'ip:unknown']) {
      expect(limiter.tryAcquireNow?.({ key })).toMatchObject({ allowed: false });
    }
  });
});

describe('httpRateLimit readsRoute', () => {
  const limiter = rateLimiter({ limit: 1, intervalMs: 1000, clock: new FakeClock(0) });

  it.each([
    ['an ip key', { limits: [{ limiter, key: 'ip' as const }] }, false],
    [
      'global and header keys',
      {
        limits: [
          { limiter, key: 'global' as const },
          { limiter, key: { header: 'x-api-key' } },
        ],
      },
      false,
    ],
    ['skipPaths and a fixed cost', { limits: [{ limiter }], skipPaths: ['/health'], cost: 2 }, false],
    ['a route key', { limits: [{ limiter, key: 'route' as const }] }, true],
    ['an ip-and-route key', { limits: [{ limiter, key: 'ip-and-route' as const }] }, true],
    ['a key function', { limits: [{ limiter, key: () => 'k' }] }, true],
    ['costByRoute', { limits: [{ limiter }], costByRoute: { '/upload': 5 } }, true],
    ['a cost function', { limits: [{ limiter }], cost: () => 1 }, true],
    ['a skip function', { limits: [{ limiter }], skip: () => false }, true],
  ])('is %s -> %s', (_name, options, expected) => {
    expect(httpRateLimit<unknown>(options).readsRoute).toBe(expected);
  });
});
