import { describe, expect, it } from 'vitest';

import { bulkhead } from '../bulkhead/bulkhead.js';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { compose } from '../compose/compose.js';
import { fallback } from '../fallback/fallback.js';
import { rateLimiter } from '../rate-limiter/rate-limiter.js';
import { retry } from '../retry/retry.js';
import { FakeClock } from '../testing/fake-clock.js';
import { timeout } from '../timeout/timeout.js';
import type { ExecutionContext, Policy } from './policy.js';

/**
 * Every policy, on the convention that a caller's abort rejects with `signal.reason` as `fetch`
 * does: found by a newcomer, the bulkhead, breaker and rate limiter rejected with whatever the work
 * rejected with once the caller had aborted.
 */
const POLICIES: readonly (readonly [string, (clock: FakeClock) => Policy<unknown>])[] = [
  ['bulkhead', (clock) => bulkhead({ maxConcurrent: 1, clock })],
  ['circuitBreaker', (clock) => circuitBreaker({ clock })],
  ['rateLimiter', (clock) => rateLimiter({ limit: 10, intervalMs: 1000, clock })],
  ['rateLimiter (leaky bucket)', (clock) => rateLimiter({ algorithm: 'leaky-bucket', limit: 10, clock })],
  ['retry', (clock) => retry({ clock })],
  ['retry (shouldHandle: () => false)', (clock) => retry({ shouldHandle: () => false, clock })],
  ['fallback', (clock) => fallback({ value: 'alternative', clock })],
  ['timeout', (clock) => timeout({ timeoutMs: 1000, clock })],
  ['timeout (aggressive)', (clock) => timeout({ timeoutMs: 1000, strategy: 'aggressive', clock })],
  ['compose(retry, bulkhead)', (clock) => compose(retry({ clock }), bulkhead({ maxConcurrent: 1, clock }))],
];

/** Work that stops when its signal aborts, rejecting with an AbortError of its own (as timers do). */
function stopsWithItsOwnError({ signal }: ExecutionContext): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => {
      reject(new DOMException('The operation was aborted', 'AbortError'));
    });
  });
}

/** Work that ignores its signal and fails a little later with an error of its own. */
function failsLaterOnItsOwn(clock: FakeClock): () => Promise<never> {
  return () =>
    new Promise((_, reject) => {
      clock.setTimeout(() => {
        reject(new Error('late failure'));
      }, 50);
    });
}

describe.each(POLICIES)("%s and the caller's abort during the work", (_, create) => {
  it('rejects with signal.reason when the work rejects with an AbortError of its own', async () => {
    const clock = new FakeClock();
    const policy = create(clock);
    const controller = new AbortController();
    const reason = new Error('caller stopped');
    const call = policy.execute(stopsWithItsOwnError, { signal: controller.signal });
    await clock.flush();
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    await clock.runAll();
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects with signal.reason when work that ignores the signal fails afterwards', async () => {
    const clock = new FakeClock();
    const policy = create(clock);
    const controller = new AbortController();
    const reason = new Error('caller stopped');
    const call = policy.execute(failsLaterOnItsOwn(clock), { signal: controller.signal });
    const outcome = call.then(
      () => undefined,
      (error: unknown) => error,
    );
    await clock.advance(10);
    controller.abort(reason);
    await clock.advance(40);
    expect(await outcome).toBe(reason);
    await clock.runAll();
    expect(clock.pendingTimers).toBe(0);
  });
});
