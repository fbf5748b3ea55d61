import { describe, expect, it } from 'vitest';

import { BackendUnavailableError, type ResilienceEvent } from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

import type { RedisLike } from '../redis-like.js';
import type { RedisRateLimiterOptions } from './redis-rate-limiter-options.js';
import { redisRateLimiter } from './redis-rate-limiter.js';

/** A client whose every call hangs (a paused Redis) or fails (a dead one), counting the calls. */
function brokenClient(behaviour: 'hang' | 'fail'): RedisLike & { calls: number } {
  const client = {
    calls: 0,
    evalsha: (): Promise<unknown> => {
      client.calls++;
      return behaviour === 'hang'
        ? new Promise<unknown>(() => undefined)
        : Promise.reject(new Error('connect ECONNREFUSED'));
    },
    eval: (): Promise<unknown> => Promise.reject(new Error('unexpected EVAL')),
  };
  return client;
}

const BASE: RedisRateLimiterOptions = { name: 'unit', limit: 4, intervalMs: 1000 };

describe('redisRateLimiter options', () => {
  it.each<[Partial<RedisRateLimiterOptions>, string]>([
    [{ commandTimeoutMs: 0 }, 'redisRateLimiter "unit": commandTimeoutMs must be in (0, 2^31 - 1], got 0'],
    [
      { commandTimeoutMs: '5' as never },
      'redisRateLimiter "unit": commandTimeoutMs must be a number, got "5"',
    ],
    [
      { onBackendFailure: 'ignore' as never },
      'redisRateLimiter "unit": onBackendFailure must be one of "reject", "allow", "local", got "ignore"',
    ],
    [{ localShare: 1.5 }, 'redisRateLimiter "unit": localShare must be in (0, 1], got 1.5'],
    [{ batching: 1 as never }, 'redisRateLimiter "unit": batching must be a boolean, got 1'],
    [{ time: 'host' as never }, 'redisRateLimiter "unit": time must be "server" or "clock", got "host"'],
    [
      { additionalLimits: [{ limit: 10, intervalMs: 0.5 }] },
      'redisRateLimiter "unit": additionalLimits[0].intervalMs must be an integer >= 1, got 0.5',
    ],
    [{ limit: 0 }, 'redisRateLimiter "unit": limit must be >= 1, got 0'],
  ])('refuses %o', (options, message) => {
    expect(() => redisRateLimiter(brokenClient('fail'), { ...BASE, ...options })).toThrow(message);
  });
});

describe('redisRateLimiter when Redis fails', () => {
  function limiterWith(client: RedisLike, options: Partial<RedisRateLimiterOptions>) {
    const clock = new FakeClock(0);
    const limiter = redisRateLimiter(client, { ...BASE, clock, commandTimeoutMs: 100, ...options });
    const events: ResilienceEvent['type'][] = [];
    limiter.onEvent((event) => events.push(event.type));
    return { clock, limiter, events };
  }

  it('gives up after commandTimeoutMs on the limiter clock and decides by the fallback', async () => {
    const client = brokenClient('hang');
    const { clock, limiter, events } = limiterWith(client, { onBackendFailure: 'allow' });
    const decided = limiter.tryAcquire();
    await clock.advance(99);
    let isSettled = false;
    void decided.then(() => (isSettled = true));
    await clock.flush();
    expect(isSettled).toBe(false);
    await clock.advance(1);
    expect(await decided).toMatchObject({ allowed: true, source: 'fallback' });
    expect(events).toEqual(['backend.failed', 'rate-limit.decided']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('times each call out commandTimeoutMs after it was sent, with one timer for all of them', async () => {
    const client = brokenClient('hang');
    const { clock, limiter } = limiterWith(client, { onBackendFailure: 'allow' });
    const settledAtMs: number[] = [];
    const first = limiter.tryAcquire({ key: 'a' }).then(() => settledAtMs.push(clock.now()));
    await clock.advance(30);
    const second = limiter.tryAcquire({ key: 'b' }).then(() => settledAtMs.push(clock.now()));
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(69);
    expect(settledAtMs).toEqual([]);
    await clock.advance(1);
    expect(settledAtMs).toEqual([100]);
    await clock.advance(29);
    expect(settledAtMs).toEqual([100]);
    await clock.advance(1);
    await Promise.all([first, second]);
    expect(settledAtMs).toEqual([100, 130]);
    expect(client.calls).toBe(2);
    expect(clock.pendingTimers).toBe(0);
  });

  it('sends one probe at a time during an outage; the other calls fall back at once', async () => {
    const client = brokenClient('hang');
    const { clock, limiter, events } = limiterWith(client, { onBackendFailure: 'local', localShare: 0.5 });
    const first = limiter.tryAcquire();
    await clock.advance(100);
    await first;
    // The hung probe is still in flight: nothing else is sent, and the twin admits 2 of 4.
    const decisions = await Promise.all(Array.from({ length: 3 }, () => limiter.tryAcquire()));
    expect(decisions.map((decision) => [decision.allowed, decision.source])).toEqual([
      [true, 'fallback'],
      [false, 'fallback'],
      [false, 'fallback'],
    ]);
    expect(client.calls).toBe(1);
    expect(events.filter((type) => type === 'backend.failed')).toHaveLength(1);
  });

  it("rejects with BackendUnavailableError under 'reject', reporting the outage once", async () => {
    const client = brokenClient('fail');
    const { limiter, events } = limiterWith(client, { onBackendFailure: 'reject' });
    for (let call = 0; call < 3; call++) {
      const error: unknown = await limiter.tryAcquire().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect((error as Error).cause).toMatchObject({ message: 'connect ECONNREFUSED' });
    }
    expect(events).toEqual(['backend.failed']);
    await expect(limiter.execute(() => 'ran')).rejects.toBeInstanceOf(BackendUnavailableError);
  });
});
