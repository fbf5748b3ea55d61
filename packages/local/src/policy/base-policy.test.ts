import { describe, expect, it } from 'vitest';

import { bulkhead } from '../bulkhead/bulkhead.js';
import { cache } from '../cache/cache.js';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { compose } from '../compose/compose.js';
import { fallback } from '../fallback/fallback.js';
import { hedge } from '../hedge/hedge.js';
import { rateLimiter } from '../rate-limiter/rate-limiter.js';
import { retry } from '../retry/retry.js';
import { FakeClock } from '../testing/fake-clock.js';
import { timeout } from '../timeout/timeout.js';
import type { Policy } from './policy.js';

/**
 * Found by a newcomer: `execute(42)` was not checked, and failed deep inside with "fn is not a
 * function" after taking a permit, as a breaker failure, or retried.
 */
const POLICIES: readonly (readonly [string, (clock: FakeClock) => Policy<unknown>])[] = [
  ['retry "r"', (clock) => retry({ name: 'r', clock })],
  ['timeout "t"', (clock) => timeout({ name: 't', timeoutMs: 100, clock })],
  ['fallback "f"', (clock) => fallback({ name: 'f', value: 'alternative', clock })],
  ['hedge "h"', (clock) => hedge({ name: 'h', delayMs: 10, clock })],
  ['cache "c"', (clock) => cache({ name: 'c', ttlMs: 100, clock })],
  ['circuitBreaker "cb"', (clock) => circuitBreaker({ name: 'cb', clock })],
  ['bulkhead "b"', (clock) => bulkhead({ name: 'b', maxConcurrent: 1, clock })],
  ['rateLimiter "rl"', (clock) => rateLimiter({ name: 'rl', limit: 1, intervalMs: 1000, clock })],
  [
    'compose "r>b"',
    (clock) => compose(retry({ name: 'r', clock }), bulkhead({ name: 'b', maxConcurrent: 1, clock })),
  ],
];

describe.each(POLICIES)('%s checks its work', (label, create) => {
  it.each([
    [42, '42'],
    [undefined, 'undefined'],
    ['work', '"work"'],
    [{}, 'an object'],
  ])('execute(%s) rejects with a TypeError naming the policy and the value', async (value, shown) => {
    const clock = new FakeClock();
    const policy = create(clock);
    const call = policy.execute(value as never, { key: 'k' });
    await expect(call).rejects.toThrow(TypeError);
    await expect(call).rejects.toThrow(`${label}: execute expects a function, got ${shown}`);
    expect(clock.pendingTimers).toBe(0);
    // Nothing was taken or counted: the policy still runs work as before.
    await expect(policy.execute(() => 'ok', { key: 'k' })).resolves.toBe('ok');
  });

  it('wrap(42) throws a TypeError at once', () => {
    const policy = create(new FakeClock());
    expect(() => policy.wrap(42 as never)).toThrow(`${label}: wrap expects a function, got 42`);
  });
});

describe('a bad work leaves stateful policies untouched', () => {
  it('a consecutive-failure breaker stays closed', async () => {
    const breaker = circuitBreaker({ window: { kind: 'consecutive' }, failureCount: 1 });
    await expect(breaker.execute(42 as never)).rejects.toThrow(TypeError);
    expect(breaker.state).toBe('closed');
  });

  it('a bulkhead takes no permit', async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    await expect(policy.execute(undefined as never)).rejects.toThrow(TypeError);
    expect(policy.inFlight).toBe(0);
  });

  it('a retry never calls it again', async () => {
    const clock = new FakeClock();
    const policy = retry({ maxAttempts: 3, clock });
    await expect(policy.execute(42 as never)).rejects.toThrow(
      'retry "retry": execute expects a function, got 42',
    );
    expect(clock.pendingTimers).toBe(0);
  });
});
