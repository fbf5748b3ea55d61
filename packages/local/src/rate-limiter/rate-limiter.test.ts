import { describe, expect, it } from 'vitest';

import { RateLimitedError } from '../errors/errors.js';
import { isResilienceError } from '../errors/is-resilience-error.js';
import type { ResilienceEvent } from '../events/resilience-event.js';
import { FakeClock } from '../testing/fake-clock.js';
import { memoryRateLimiterState } from './memory-rate-limiter-state.js';
import { rateLimiter } from './rate-limiter.js';
import type { RateLimiterOptions } from './rate-limiter-options.js';
import type { RateLimiterConfig, RateLimiterState, RateLimitStateRequest } from './rate-limiter-state.js';

const START_MS = 1_700_000_000_000;

function limiterOn(clock: FakeClock, options: Omit<RateLimiterOptions, 'clock'>) {
  return rateLimiter({ ...options, clock });
}

/** A memory state that counts its decisions, answering through promises as Redis would. */
function countingAsyncState(calls: RateLimitStateRequest[]) {
  return (config: RateLimiterConfig): RateLimiterState => {
    const memory = memoryRateLimiterState(config);
    return {
      tryAcquire: (request) => {
        calls.push(request);
        return Promise.resolve(memory.tryAcquire(request));
      },
      refund: (request) => {
        memory.refund(request);
        return Promise.resolve();
      },
    };
  };
}

describe('rateLimiter', () => {
  it('admits up to the limit per key, then execute rejects with RateLimitedError and retryAfterMs', async () => {
    const clock = new FakeClock(START_MS);
    const limiter = limiterOn(clock, { name: 'api', limit: 2, intervalMs: 1000 });
    await expect(limiter.execute(() => 'a', { key: 'alice' })).resolves.toBe('a');
    await expect(limiter.execute(() => 'b', { key: 'alice' })).resolves.toBe('b');
    const rejection = limiter.execute(() => 'c', { key: 'alice' });
    await expect(rejection).rejects.toBeInstanceOf(RateLimitedError);
    await expect(rejection).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      policyKind: 'rate-limiter',
      policyName: 'api',
      retryAfterMs: 500,
    });
    // Another key has its own limit.
    await expect(limiter.execute(() => 'd', { key: 'bob' })).resolves.toBe('d');
    await clock.advance(500);
    await expect(limiter.execute(() => 'e', { key: 'alice' })).resolves.toBe('e');
  });

  it('never runs the work of a rejected call', async () => {
    const clock = new FakeClock(START_MS);
    const limiter = limiterOn(clock, { limit: 1, intervalMs: 1000 });
    await limiter.execute(() => undefined);
    let ran = false;
    await expect(
      limiter.execute(() => {
        ran = true;
      }),
    ).rejects.toSatisfy((error) => isResilienceError(error, 'RATE_LIMITED'));
    expect(ran).toBe(false);
  });

  it('tryAcquire answers with every decision field and never waits', async () => {
    const clock = new FakeClock(START_MS);
    const limiter = limiterOn(clock, { algorithm: 'fixed-window', limit: 3, windowMs: 1000 });
    await expect(limiter.tryAcquire({ key: 'k', cost: 2 })).resolves.toEqual(
      expect.objectContaining({ allowed: true, limit: 3, remaining: 1, retryAfterMs: 0, resetAfterMs: 1000 }),
    );
    await expect(limiter.tryAcquire({ key: 'k', cost: 2 })).resolves.toEqual(
      expect.objectContaining({
        allowed: false,
        limit: 3,
        remaining: 1,
        retryAfterMs: 1000,
        resetAfterMs: 1000,
      }),
    );
    expect(clock.pendingTimers).toBe(0);
  });

  it('tryAcquireNow answers in process with the decision itself, over promises with a promise', async () => {
    const clock = new FakeClock(START_MS);
    const memory = limiterOn(clock, { algorithm: 'fixed-window', limit: 3, windowMs: 1000 });
    expect(memory.tryAcquireNow?.({ key: 'k', cost: 2 })).toEqual(
      expect.objectContaining({ allowed: true, limit: 3, remaining: 1, retryAfterMs: 0, resetAfterMs: 1000 }),
    );
    expect(memory.tryAcquireNow?.({ key: 'k', cost: 2 })).toEqual(
      expect.objectContaining({ allowed: false, remaining: 1, retryAfterMs: 1000 }),
    );
    const asynchronous = limiterOn(clock, { limit: 1, intervalMs: 1000, state: countingAsyncState([]) });
    const pending = asynchronous.tryAcquireNow?.({ key: 'k' });
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).resolves.toMatchObject({ allowed: true, remaining: 0 });
  });

  it('tryAcquireNow rejects a bad request as tryAcquire does, without deciding', async () => {
    const clock = new FakeClock(START_MS);
    const limiter = limiterOn(clock, { algorithm: 'fixed-window', limit: 3, windowMs: 1000 });
    await expect(limiter.tryAcquireNow?.({ key: 'k', cost: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(limiter.tryAcquire({ key: 'k' })).resolves.toMatchObject({ remaining: 2 });
  });

  it('acquire waits exactly retryAfterMs, asking the state once per wait rather than polling', async () => {
    const clock = new FakeClock(START_MS);
    const calls: RateLimitStateRequest[] = [];
    const limiter = limiterOn(clock, { limit: 3, intervalMs: 1000, state: countingAsyncState(calls) });
    await limiter.tryAcquire({ cost: 3 });
    let resolvedAtMs: number | undefined;
    const waiting = limiter.acquire({ cost: 2 }).then((decision) => {
      resolvedAtMs = clock.now();
      return decision;
    });
    await clock.advance(666);
    expect(resolvedAtMs).toBeUndefined();
    await clock.advance(1);
    await expect(waiting).resolves.toMatchObject({ allowed: true, remaining: 0 });
    expect(resolvedAtMs).toBe(START_MS + 667);
    // One denied decision (retry after 667 ms), one allowed: no polling in between.
    expect(calls).toHaveLength(3);
    expect(clock.pendingTimers).toBe(0);
  });

  it('acquire resolves at once with the denied decision when the wait would pass maxWaitMs', async () => {
    const clock = new FakeClock(START_MS);
    const limiter = limiterOn(clock, { limit: 1, intervalMs: 1000 });
    await limiter.tryAcquire();
    await expect(limiter.acquire({ maxWaitMs: 999 })).resolves.toMatchObject({
      allowed: false,
      retryAfterMs: 1000,
    });
    expect(clock.pendingTimers).toBe(0);
    const within = limiter.acquire({ maxWaitMs: 1000 });
    await clock.advance(1000);
    await expect(within).resolves.toMatchObject({ allowed: true });
  });

  it("acquire rejects with the signal's reason when aborted while waiting, and leaves no timer", async () => {
    const clock = new FakeClock(START_MS);
    const limiter = limiterOn(clock, { limit: 1, intervalMs: 60_000 });
    await limiter.tryAcquire({ key: 'k' });
    const controller = new AbortController();
    const waiting = limiter.acquire({ key: 'k', signal: controller.signal });
    await clock.advance(10);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(clock.pendingTimers).toBe(0);
  });

  it('acquire with an already aborted signal rejects before deciding', async () => {
    const calls: RateLimitStateRequest[] = [];
    const limiter = rateLimiter({ limit: 1, state: countingAsyncState(calls) });
    await expect(limiter.acquire({ signal: AbortSignal.abort(new Error('early')) })).rejects.toThrow('early');
    expect(calls).toHaveLength(0);
  });

  it('waits through a year-long interval on the clock (the clock chains timers beyond 2^31-1 ms)', async () => {
    const yearMs = 365 * 24 * 3600 * 1000;
    const clock = new FakeClock(START_MS);
    const limiter = limiterOn(clock, { algorithm: 'gcra', limit: 2, intervalMs: yearMs });
    await limiter.tryAcquire({ cost: 2 });
    const waiting = limiter.acquire();
    await clock.advance(yearMs / 2 - 1);
    await clock.flush();
    let isSettled = false;
    void waiting.then(() => (isSettled = true));
    await clock.flush();
    expect(isSettled).toBe(false);
    await clock.advance(1);
    await expect(waiting).resolves.toMatchObject({ allowed: true, resetAfterMs: yearMs });
  });

  describe('leaky bucket', () => {
    it('acquire queues callers and releases them at an even pace', async () => {
      const clock = new FakeClock(START_MS);
      const limiter = limiterOn(clock, {
        algorithm: 'leaky-bucket',
        limit: 4,
        intervalMs: 1000,
        queueSize: 3,
      });
      const releasedAtMs: number[] = [];
      const callers = Array.from({ length: 4 }, () =>
        limiter.acquire().then((decision) => {
          releasedAtMs.push(clock.now() - START_MS);
          return decision;
        }),
      );
      await clock.advance(1000);
      await Promise.all(callers);
      expect(releasedAtMs).toEqual([0, 250, 500, 750]);
      expect(clock.pendingTimers).toBe(0);
    });

    it('tryAcquire is allowed only when the slot is now; remaining says whether the queue has room', async () => {
      const clock = new FakeClock(START_MS);
      const limiter = limiterOn(clock, {
        algorithm: 'leaky-bucket',
        limit: 4,
        intervalMs: 1000,
        queueSize: 1,
      });
      await expect(limiter.tryAcquire()).resolves.toMatchObject({ allowed: true, limit: 2, remaining: 1 });
      await expect(limiter.tryAcquire()).resolves.toMatchObject({
        allowed: false,
        remaining: 1,
        retryAfterMs: 250,
      });
    });

    it('execute waits for its slot, and rejects only when the queue is full', async () => {
      const clock = new FakeClock(START_MS);
      const limiter = limiterOn(clock, {
        algorithm: 'leaky-bucket',
        limit: 10,
        intervalMs: 1000,
        queueSize: 2,
      });
      const ranAtMs: number[] = [];
      const work = () => ranAtMs.push(clock.now() - START_MS);
      const calls = [limiter.execute(work), limiter.execute(work), limiter.execute(work)];
      await expect(limiter.execute(work)).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 100 });
      await clock.advance(200);
      await Promise.all(calls);
      expect(ranAtMs).toEqual([0, 100, 200]);
    });

    it('a caller that aborts while queued keeps its slot, so the pace stays even', async () => {
      const clock = new FakeClock(START_MS);
      const limiter = limiterOn(clock, {
        algorithm: 'leaky-bucket',
        limit: 10,
        intervalMs: 1000,
        queueSize: 5,
      });
      const controller = new AbortController();
      await limiter.acquire();
      const aborted = limiter.acquire({ signal: controller.signal });
      controller.abort(new Error('stop'));
      await expect(aborted).rejects.toThrow('stop');
      const next = limiter.acquire();
      await clock.advance(200);
      const releasedAt = clock.now();
      await expect(next).resolves.toMatchObject({ allowed: true });
      expect(releasedAt - START_MS).toBe(200);
    });
  });

  it('refund gives units back to a key', async () => {
    const clock = new FakeClock(START_MS);
    const limiter = limiterOn(clock, { algorithm: 'sliding-window-log', limit: 2, windowMs: 1000 });
    await limiter.tryAcquire({ key: 'k', cost: 2 });
    await limiter.refund({ key: 'k', cost: 1 });
    await expect(limiter.tryAcquire({ key: 'k' })).resolves.toMatchObject({ allowed: true, remaining: 0 });
  });

  it('works the same over a state that answers with promises', async () => {
    const clock = new FakeClock(START_MS);
    const limiter = limiterOn(clock, { limit: 1, intervalMs: 1000, state: countingAsyncState([]) });
    await expect(limiter.tryAcquire()).resolves.toMatchObject({ allowed: true });
    await expect(limiter.execute(() => 1)).rejects.toBeInstanceOf(RateLimitedError);
  });

  it('emits rate-limit.decided and call.rejected, and a throwing listener changes nothing', async () => {
    const clock = new FakeClock(START_MS);
    const limiter = limiterOn(clock, { name: 'orders', limit: 1, intervalMs: 1000 });
    const events: ResilienceEvent[] = [];
    limiter.onEvent(() => {
      throw new Error('listener bug');
    });
    limiter.onEvent((event) => events.push(event));
    await expect(limiter.execute(() => 'ok')).resolves.toBe('ok');
    await expect(limiter.execute(() => 'no')).rejects.toBeInstanceOf(RateLimitedError);
    await limiter.tryAcquire({ cost: 1 });
    expect(events).toEqual([
      {
        type: 'rate-limit.decided',
        policyKind: 'rate-limiter',
        policyName: 'orders',
        allowed: true,
        cost: 1,
      },
      { type: 'execution.succeeded', policyKind: 'rate-limiter', policyName: 'orders', durationMs: 0 },
      {
        type: 'rate-limit.decided',
        policyKind: 'rate-limiter',
        policyName: 'orders',
        allowed: false,
        cost: 1,
      },
      {
        type: 'call.rejected',
        policyKind: 'rate-limiter',
        policyName: 'orders',
        reason: 'rate-limited',
        retryAfterMs: 1000,
      },
      {
        type: 'rate-limit.decided',
        policyKind: 'rate-limiter',
        policyName: 'orders',
        allowed: false,
        cost: 1,
      },
    ]);
  });

  it('is a Policy: kind, name, wrap', async () => {
    const limiter = rateLimiter({ name: 'wrapped', limit: 1, intervalMs: 60_000 });
    expect(limiter.kind).toBe('rate-limiter');
    expect(limiter.name).toBe('wrapped');
    expect(limiter.algorithm).toBe('token-bucket');
    const double = limiter.wrap((n: number) => n * 2);
    await expect(double(21)).resolves.toBe(42);
    await expect(double(1)).rejects.toBeInstanceOf(RateLimitedError);
  });

  it.each([
    [{ limit: 0 }, RangeError, 'rateLimiter "rate-limiter": limit must be >= 1, got 0'],
    [{ name: 'api', limit: 0 }, RangeError, 'rateLimiter "api": limit must be >= 1, got 0'],
    [{ limit: 1.5 }, RangeError, 'rateLimiter "rate-limiter": limit must be an integer, got 1.5'],
    [{ limit: Number.NaN }, RangeError, 'rateLimiter "rate-limiter": limit must be a finite number, got NaN'],
    [{ limit: '10' }, TypeError, 'rateLimiter "rate-limiter": limit must be a finite number, got "10"'],
    [{}, TypeError, 'rateLimiter "rate-limiter": limit is required'],
    [{ limit: 1, intervalMs: 0 }, RangeError, 'rateLimiter "rate-limiter": intervalMs must be >= 1, got 0'],
    [{ limit: 1, windowMs: -5 }, RangeError, 'rateLimiter "rate-limiter": windowMs must be >= 1, got -5'],
    [
      { limit: 1, intervalMs: 1000, windowMs: 1000 },
      RangeError,
      'rateLimiter "rate-limiter": windowMs cannot be given together with intervalMs, got 1000',
    ],
    [
      { algorithm: 'token bucket', limit: 1 },
      TypeError,
      'rateLimiter "rate-limiter": algorithm must be one of "token-bucket", "gcra", "sliding-window-log", "sliding-window-counter", "fixed-window", "leaky-bucket", got "token bucket"',
    ],
    [{ limit: 1, burst: 0 }, RangeError, 'rateLimiter "rate-limiter": burst must be >= 1, got 0'],
    [
      { algorithm: 'fixed-window', limit: 1, burst: 5 },
      RangeError,
      'rateLimiter "rate-limiter": burst only applies to "token-bucket" and "gcra", not "fixed-window", got 5',
    ],
    [
      { algorithm: 'gcra', limit: 1, queueSize: 5 },
      RangeError,
      'rateLimiter "rate-limiter": queueSize only applies to "leaky-bucket", not "gcra", got 5',
    ],
    [
      { algorithm: 'leaky-bucket', limit: 1, queueSize: -1 },
      RangeError,
      'rateLimiter "rate-limiter": queueSize must be >= 0, got -1',
    ],
    [{ limit: 1, maxKeys: 0 }, RangeError, 'rateLimiter "rate-limiter": maxKeys must be >= 1, got 0'],
    [
      { limit: 1, state: {} },
      TypeError,
      'rateLimiter "rate-limiter": state must be a function, got an object',
    ],
    [{ limit: 1, clock: Date }, TypeError, 'rateLimiter "rate-limiter": clock must be a Clock'],
    [{ limit: 1, extra: true }, TypeError, 'rateLimiter "rate-limiter": extra is not a known option'],
    [
      { limit: 200_003, intervalMs: 365 * 24 * 3600 * 1000 },
      RangeError,
      'rateLimiter "rate-limiter": limit is too large to compute exactly with an interval of 31536000000 ms',
    ],
  ])('rejects bad options %j with a named error', (options, errorClass, message) => {
    expect(() => rateLimiter(options as never)).toThrow(errorClass);
    expect(() => rateLimiter(options as never)).toThrow(message);
  });

  it('accepts a large limit over a year when the limit divides the interval', () => {
    expect(() => rateLimiter({ limit: 1_000_000, intervalMs: 365 * 24 * 3600 * 1000 })).not.toThrow();
  });

  it.each([
    [{ cost: -1 }, RangeError, 'rateLimiter "api": cost must be an integer from 1 to 5, got -1'],
    [{ cost: 0 }, RangeError, 'rateLimiter "api": cost must be an integer from 1 to 5, got 0'],
    [{ cost: Number.NaN }, RangeError, 'rateLimiter "api": cost must be an integer from 1 to 5, got NaN'],
    [{ cost: 1.5 }, RangeError, 'rateLimiter "api": cost must be an integer from 1 to 5, got 1.5'],
    [{ cost: 6 }, RangeError, 'rateLimiter "api": cost must be an integer from 1 to 5, got 6'],
    [{ cost: '1' }, TypeError, 'rateLimiter "api": cost must be an integer from 1 to 5, got "1"'],
    [{ key: 42 }, TypeError, 'rateLimiter "api": key must be a string, got 42'],
  ])('rejects a bad request %j at call time', async (request, errorClass, message) => {
    const limiter = rateLimiter({ name: 'api', limit: 5 });
    await expect(limiter.tryAcquire(request as never)).rejects.toThrow(errorClass);
    await expect(limiter.tryAcquire(request as never)).rejects.toThrow(message);
    await expect(limiter.acquire(request as never)).rejects.toThrow(message);
    await expect(limiter.refund(request as never)).rejects.toThrow(message);
  });

  it('rejects a bad maxWaitMs at call time', async () => {
    const limiter = rateLimiter({ name: 'api', limit: 5 });
    await expect(limiter.acquire({ maxWaitMs: -1 })).rejects.toThrow(
      new RangeError(
        'rateLimiter "api": maxWaitMs must be a number >= 0 (Infinity to wait as long as it takes), got -1',
      ),
    );
    await expect(limiter.acquire({ maxWaitMs: Number.NaN })).rejects.toThrow(RangeError);
  });

  it('caps the cost at the burst for token bucket and GCRA', async () => {
    const limiter = rateLimiter({ name: 'api', algorithm: 'gcra', limit: 10, burst: 3 });
    await expect(limiter.tryAcquire({ cost: 4 })).rejects.toThrow(
      'rateLimiter "api": cost must be an integer from 1 to 3, got 4',
    );
  });
});
