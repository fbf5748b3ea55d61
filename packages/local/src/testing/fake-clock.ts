import { AsyncResource } from 'node:async_hooks';

import type { Clock, TimerHandle } from '../clock/clock.js';

interface FakeTimer {
  readonly id: number;
  readonly dueMs: number;
  readonly callback: () => void;
  /** What `keepAlive` last said (new timers keep a process alive, as Node's do). */
  keepsProcessAlive: boolean;
}

/** Lets every promise job queued so far (and those they queue) run. */
function flushPromiseJobs(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock that moves only when told to. `advance` fires due timers in order of due time and lets
 * promise jobs run before and after each one, so `await`-chains scheduled by a timer settle before
 * the next timer fires.
 *
 * @example
 * ```ts
 * import { retry } from '@hyx/local';
 * import { FakeClock } from '@hyx/local/testing';
 * const clock = new FakeClock();
 * const call = retry({ maxAttempts: 2, clock }).execute(() => 'ok');
 * await clock.advance(1000);
 * await call;
 * ```
 */
export class FakeClock implements Clock {
  #nowMs: number;
  #nextId = 1;
  readonly #timers = new Map<number, FakeTimer>();

  /** @param startMs - the initial time in ms since the epoch */
  constructor(startMs = 0) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    const safeDelay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    // Like Node's timers, a callback runs in the async context that set it (AsyncLocalStorage, so the
    // hyx context), not in the context of whoever calls `advance`.
    this.#timers.set(id, {
      id,
      dueMs: this.#nowMs + safeDelay,
      callback: AsyncResource.bind(callback),
      keepsProcessAlive: true,
    });
    return id as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as unknown as number);
  }

  /**
   * Fake timers never hold a process open; this records what a real clock would do, for
   * {@link FakeClock.timersKeepingProcessAlive}.
   */
  keepAlive(handle: TimerHandle, keepsProcessAlive: boolean): void {
    const timer = this.#timers.get(handle as unknown as number);
    if (timer !== undefined) timer.keepsProcessAlive = keepsProcessAlive;
  }

  /** How many timers are armed. Zero after a call means the policy cleaned up after itself. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * How many armed timers would keep a real process alive: all but those released with
   * `keepAlive(handle, false)`. Zero after a call means nothing it left behind holds a process
   * open, even where a policy keeps one idle timer for its next call (a timeout's deadlines).
   */
  get timersKeepingProcessAlive(): number {
    let count = 0;
    for (const timer of this.#timers.values()) if (timer.keepsProcessAlive) count++;
    return count;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`FakeClock.advance: ms must be >= 0, got ${ms}`);
    const targetMs = this.#nowMs + ms;
    await flushPromiseJobs();
    for (;;) {
      const next = this.#nextDue(targetMs);
      if (next === undefined) break;
      this.#timers.delete(next.id);
      this.#nowMs = Math.max(this.#nowMs, next.dueMs);
      next.callback();
      await flushPromiseJobs();
    }
    this.#nowMs = targetMs;
    await flushPromiseJobs();
  }

  /** Fires timers until none is left (at most `maxTimers`, to stop runaway loops). */
  async runAll(maxTimers = 10_000): Promise<void> {
    await flushPromiseJobs();
    for (let fired = 0; fired < maxTimers; fired++) {
      const next = this.#nextDue(Infinity);
      if (next === undefined) return;
      this.#timers.delete(next.id);
      this.#nowMs = Math.max(this.#nowMs, next.dueMs);
      next.callback();
      await flushPromiseJobs();
    }
    throw new Error(`FakeClock.runAll: still had timers after firing ${maxTimers}`);
  }

  /** Lets pending promise jobs run without moving time. */
  flush(): Promise<void> {
    return flushPromiseJobs();
  }

  #nextDue(limitMs: number): FakeTimer | undefined {
    let earliest: FakeTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.dueMs > limitMs) continue;
      // Map iteration follows insertion order, so equal due times fire in the order they were set.
      if (earliest === undefined || timer.dueMs < earliest.dueMs) earliest = timer;
    }
    return earliest;
  }
}
