import { describe, expect, it } from 'vitest';

import { FakeClock } from '../testing/fake-clock.js';
import { deriveAlgorithmConfig, type RateLimitAlgorithmName } from './algorithms/rate-limit-algorithm.js';
import { memoryRateLimiterState } from './memory-rate-limiter-state.js';

function stateOf(algorithm: RateLimitAlgorithmName, limit: number, intervalMs: number, maxKeys = 1000) {
  const clock = new FakeClock(0);
  const config = deriveAlgorithmConfig({ algorithm, limit, intervalMs });
  return { clock, state: memoryRateLimiterState({ ...config, name: 'test', algorithm, maxKeys, clock }) };
}

describe('memoryRateLimiterState', () => {
  it('decides synchronously', () => {
    const { state } = stateOf('token-bucket', 1, 1000);
    expect(state.tryAcquire({ key: 'a', cost: 1, nowMs: 0 })).toMatchObject({ allowed: true });
  });

  it('reads the clock when no nowMs is given', async () => {
    const { clock, state } = stateOf('fixed-window', 1, 1000);
    expect(state.tryAcquire({ key: 'a', cost: 1 }).allowed).toBe(true);
    expect(state.tryAcquire({ key: 'a', cost: 1 }).allowed).toBe(false);
    await clock.advance(1000);
    expect(state.tryAcquire({ key: 'a', cost: 1 }).allowed).toBe(true);
  });

  it('treats an expired key as new, from time alone: no timer is involved', () => {
    const { clock, state } = stateOf('gcra', 2, 1000);
    state.tryAcquire({ key: 'a', cost: 2, nowMs: 0 });
    expect(clock.pendingTimers).toBe(0);
    expect(state.tryAcquire({ key: 'a', cost: 2, nowMs: 1000 })).toMatchObject({
      allowed: true,
      remaining: 0,
    });
  });

  it('moves the expiry on when the sliding-window log grows in place', () => {
    const { state } = stateOf('sliding-window-log', 3, 1000);
    state.tryAcquire({ key: 'a', cost: 1, nowMs: 0 });
    state.tryAcquire({ key: 'a', cost: 2, nowMs: 400 });
    // At 1000 the first entry has left but the one of 400 still counts: the key is not fresh.
    expect(state.tryAcquire({ key: 'a', cost: 1, nowMs: 1000 })).toMatchObject({
      allowed: true,
      remaining: 0,
    });
  });

  it('reclaims idle keys as new keys arrive, so a million distinct keys stay bounded by the live ones', () => {
    const { state } = stateOf('sliding-window-counter', 10, 100, 1_000_000);
    let largest = 0;
    for (let index = 0; index < 1_000_000; index++) {
      // One new key per ms; each key's state lives 200 ms (two windows).
      state.tryAcquire({ key: `user-${index}`, cost: 1, nowMs: index });
      if (state.size > largest) largest = state.size;
    }
    // About 200 keys are live at any time; the sweep lags a little behind expiry, never far.
    expect(largest).toBeLessThanOrEqual(400);
  });

  it('keeps at most maxKeys keys, dropping the least recently used first', () => {
    const { state } = stateOf('fixed-window', 1, 60_000, 2);
    state.tryAcquire({ key: 'a', cost: 1, nowMs: 0 });
    state.tryAcquire({ key: 'b', cost: 1, nowMs: 0 });
    // Touch `a`, so `b` is now the least recently used.
    state.tryAcquire({ key: 'a', cost: 1, nowMs: 1 });
    state.tryAcquire({ key: 'c', cost: 1, nowMs: 2 });
    expect(state.size).toBe(2);
    // `b` was dropped and starts afresh; `a` kept its count.
    expect(state.tryAcquire({ key: 'b', cost: 1, nowMs: 3 }).allowed).toBe(true);
    expect(state.tryAcquire({ key: 'c', cost: 1, nowMs: 3 }).allowed).toBe(false);
  });

  it('keeps a key in use while a stream of one-off keys pushes against maxKeys', () => {
    const { state } = stateOf('fixed-window', 1000, 3_600_000, 50);
    let hotAdmitted = 0;
    for (let index = 0; index < 10_000; index++) {
      if (state.tryAcquire({ key: 'hot', cost: 1, nowMs: index }).allowed) hotAdmitted++;
      state.tryAcquire({ key: `once-${index}`, cost: 1, nowMs: index });
      expect(state.size).toBeLessThanOrEqual(50);
    }
    // Had `hot` ever been evicted, its count would have restarted and admitted more than its limit.
    expect(hotAdmitted).toBe(1000);
  });

  it('forgets a key whose state a refund brought back to idle', () => {
    const { state } = stateOf('fixed-window', 5, 1000);
    state.tryAcquire({ key: 'a', cost: 2, nowMs: 10 });
    expect(state.size).toBe(1);
    state.refund({ key: 'a', cost: 2, nowMs: 20 });
    expect(state.size).toBe(0);
    expect(state.tryAcquire({ key: 'a', cost: 5, nowMs: 30 }).allowed).toBe(true);
  });

  it('ignores a refund for a key it does not hold', () => {
    const { state } = stateOf('token-bucket', 5, 1000);
    state.refund({ key: 'nobody', cost: 3, nowMs: 0 });
    expect(state.size).toBe(0);
  });
});
