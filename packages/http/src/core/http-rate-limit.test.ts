import { describe, expect, it } from 'vitest';

import { rateLimiter } from '@hyx/local';
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
