import type { Clock, TimerHandle } from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';
import { describe, expect, it } from 'vitest';
import { HeldLease, type LeaseStore } from './held-lease.js';
import type { LockLostError } from './lock-errors.js';
import { resolveLeaseSettings } from './redis-lock-options.js';

/** A store whose renewals answer as `answer` says, counting calls. */
function fakeStore(answer: () => Promise<boolean>) {
  const calls = { renew: 0, release: 0 };
  const store: LeaseStore = {
    renew: () => {
      calls.renew++;
      return answer();
    },
    release: () => {
      calls.release++;
      return Promise.resolve(true);
    },
  };
  return { store, calls };
}

function heldLease(clock: FakeClock, store: LeaseStore) {
  // leaseMs 1000, renewMs 300, safetyMs 12: valid until 988 ms after the acquire was sent.
  const settings = resolveLeaseSettings('redisLock', { name: 'job', leaseMs: 1_000, renewMs: 300, clock });
  return new HeldLease({ settings, store, fencingToken: 7n, sentAtMs: clock.now() });
}

const reasonOf = (lease: HeldLease) => (lease.signal.reason as LockLostError).reason;

describe('HeldLease', () => {
  it('renews every renewMs from the send time of the last renewal and stays valid', async () => {
    const clock = new FakeClock(10_000);
    const { store, calls } = fakeStore(() => Promise.resolve(true));
    const lease = heldLease(clock, store);
    await clock.advance(3_000);
    expect(calls.renew).toBe(10);
    expect(lease.isHeld).toBe(true);
    expect(lease.validUntilMs).toBe(10_000 + 3_000 + 988);
    expect(await lease.release()).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('aborts with not-owner when a renewal finds the lease gone, and stops renewing', async () => {
    const clock = new FakeClock();
    const { store, calls } = fakeStore(() => Promise.resolve(false));
    const lease = heldLease(clock, store);
    await clock.advance(300);
    expect(reasonOf(lease)).toBe('not-owner');
    expect(lease.isHeld).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(5_000);
    expect(calls.renew).toBe(1);
  });

  it('steps down at validUntilMs when every renewal fails, before the lease can expire in Redis', async () => {
    const clock = new FakeClock();
    const { store, calls } = fakeStore(() => Promise.reject(new Error('ECONNRESET')));
    const lease = heldLease(clock, store);
    await clock.advance(987);
    expect(lease.isHeld).toBe(true);
    await clock.advance(1);
    expect(reasonOf(lease)).toBe('renewal-deadline');
    expect(calls.renew).toBeGreaterThan(1); // retried sooner than renewMs once renewals failed
    expect(calls.release).toBe(1); // frees the lease early in case Redis still has it
    expect(clock.pendingTimers).toBe(0);
  });

  it('reports the lease lost as soon as the clock is read after a stall, before any timer runs', () => {
    // A clock whose timers never run: the event loop is stalled (SIGSTOP, a long GC) while time moves.
    let nowMs = 0;
    const stalledClock: Clock = {
      now: () => nowMs,
      setTimeout: () => ({}) as TimerHandle,
      clearTimeout: () => undefined,
    };
    const { store } = fakeStore(() => Promise.resolve(true));
    const settings = resolveLeaseSettings('redisLock', { name: 'job', leaseMs: 1_000, clock: stalledClock });
    const lease = new HeldLease({ settings, store, fencingToken: 7n, sentAtMs: 0 });
    nowMs = 987;
    expect(lease.isHeld).toBe(true);
    nowMs = 5_000;
    expect(lease.isHeld).toBe(false);
    expect(lease.signal.aborted).toBe(true);
    expect(reasonOf(lease)).toBe('renewal-deadline');
  });
});
