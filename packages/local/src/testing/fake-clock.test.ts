import { describe, expect, it } from 'vitest';

import { FakeClock } from './fake-clock.js';

describe('FakeClock', () => {
  it('fires due timers in order of due time, equal due times in the order they were set', async () => {
    const clock = new FakeClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b at 20'), 20);
    clock.setTimeout(() => fired.push('a at 10'), 10);
    clock.setTimeout(() => fired.push('c at 20'), 20);
    await clock.advance(19);
    expect(fired).toEqual(['a at 10']);
    await clock.advance(1);
    expect(fired).toEqual(['a at 10', 'b at 20', 'c at 20']);
    expect(clock.now()).toBe(1020);
    expect(clock.pendingTimers).toBe(0);
  });

  it('counts the timers that would keep a real process alive, as keepAlive last said', async () => {
    const clock = new FakeClock(0);
    const kept = clock.setTimeout(() => {}, 10);
    const released = clock.setTimeout(() => {}, 20);
    expect(clock.timersKeepingProcessAlive).toBe(2);
    clock.keepAlive(released, false);
    expect(clock.pendingTimers).toBe(2);
    expect(clock.timersKeepingProcessAlive).toBe(1);
    clock.keepAlive(released, true);
    expect(clock.timersKeepingProcessAlive).toBe(2);
    clock.keepAlive(released, false);
    clock.clearTimeout(kept);
    expect(clock.timersKeepingProcessAlive).toBe(0);
    await clock.advance(20);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects a negative or non-finite advance, naming the value', async () => {
    const clock = new FakeClock(0);
    await expect(clock.advance(-1)).rejects.toThrow('FakeClock.advance: ms must be >= 0, got -1');
    await expect(clock.advance(Number.NaN)).rejects.toThrow('got NaN');
  });
});
