import { describe, expect, it } from 'vitest';

import type { Clock } from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

import { DECISION_TIMED_OUT, DecisionWatchdog } from './decision-watchdog.js';

describe('DecisionWatchdog', () => {
  it('times out each wait at its own deadline with one timer, and lets answered waits through', async () => {
    const clock = new FakeClock(0);
    const watchdog = new DecisionWatchdog(clock, 100);
    const never = new Promise<string>(() => {});
    const first = watchdog.within(never); // deadline 100
    await clock.advance(40);
    const answered = watchdog.within(Promise.resolve('allowed')); // deadline 140, answered at once
    const second = watchdog.within(never); // deadline 140
    expect(clock.pendingTimers).toBe(1);
    expect(await answered).toBe('allowed');

    const outcomes: unknown[] = [];
    void first.then((value) => outcomes.push(['first', value]));
    void second.then((value) => outcomes.push(['second', value]));
    await clock.advance(59);
    expect(outcomes).toEqual([]);
    await clock.advance(1);
    expect(outcomes).toEqual([['first', DECISION_TIMED_OUT]]);
    await clock.advance(40);
    expect(outcomes).toEqual([
      ['first', DECISION_TIMED_OUT],
      ['second', DECISION_TIMED_OUT],
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('is not held back by a wall clock that steps back while a decision waits', async () => {
    const fake = new FakeClock(1_000_000);
    let stepMs = 0;
    const wallClock: Clock = {
      now: () => fake.now() + stepMs,
      setTimeout: (callback, delayMs) => fake.setTimeout(callback, delayMs),
      clearTimeout: (handle) => {
        fake.clearTimeout(handle);
      },
    };
    const watchdog = new DecisionWatchdog(wallClock, 100);
    const waiting = watchdog.within(new Promise<string>(() => {}));
    let outcome: unknown;
    void waiting.then((value) => (outcome = value));
    await fake.advance(50);
    // NTP steps the wall clock back an hour: the wait still ends 100 ms after it began.
    stepMs = -3_600_000;
    await fake.advance(49);
    expect(outcome).toBeUndefined();
    await fake.advance(1);
    expect(outcome).toBe(DECISION_TIMED_OUT);
    expect(fake.pendingTimers).toBe(0);
  });

  it('passes a rejection through', async () => {
    const watchdog = new DecisionWatchdog(new FakeClock(0), 100);
    await expect(watchdog.within(Promise.reject(new Error('backend down')))).rejects.toThrow('backend down');
  });
});
