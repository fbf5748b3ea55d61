declare const timerBrand: unique symbol;

/** An opaque handle to a timer started by a {@link Clock}. */
export interface TimerHandle {
  readonly [timerBrand]: true;
}

/**
 * The source of time and timers for every policy. Inject a `FakeClock` (from `@hyx/local/testing`)
 * to drive time in tests instead of sleeping.
 *
 * @example
 * ```ts
 * import { retry, systemClock } from '@hyx/local';
 * const policy = retry({ maxAttempts: 3, clock: systemClock });
 * ```
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `callback` once after `delayMs` milliseconds; any finite delay works, even above 2^31-1. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; clearing a timer that already fired or was cleared does nothing. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Says whether a pending timer keeps the process alive (new timers do). Optional: a policy that
   * keeps one long-lived timer (timeout) lets it go when idle with this, and clears it instead when
   * the clock has no `keepAlive`.
   */
  keepAlive?(handle: TimerHandle, keepsProcessAlive: boolean): void;
}

/** Node clamps longer delays to 1 ms, so longer timers are chained in steps of this size. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** A timer longer than Node allows, re-armed in steps until its deadline. */
class LongTimer {
  current: NodeJS.Timeout | undefined;
  keepsProcessAlive = true;

  constructor(callback: () => void, delayMs: number) {
    const deadline = Date.now() + delayMs;
    const arm = (): void => {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        this.current = undefined;
        callback();
        return;
      }
      this.current = setTimeout(arm, Math.min(remaining, MAX_TIMER_DELAY_MS));
      if (!this.keepsProcessAlive) this.current.unref();
    };
    arm();
  }
}

/**
 * The real clock: `Date.now()` and Node's timers.
 *
 * @example
 * ```ts
 * import { systemClock } from '@hyx/local';
 * const startedAt = systemClock.now();
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    if (delayMs > MAX_TIMER_DELAY_MS) return new LongTimer(callback, delayMs) as unknown as TimerHandle;
    return setTimeout(callback, delayMs) as unknown as TimerHandle;
  },
  clearTimeout(handle: TimerHandle): void {
    if (handle instanceof LongTimer) {
      clearTimeout(handle.current);
      return;
    }
    clearTimeout(handle as unknown as NodeJS.Timeout);
  },
  keepAlive(handle: TimerHandle, keepsProcessAlive: boolean): void {
    if (handle instanceof LongTimer) handle.keepsProcessAlive = keepsProcessAlive;
    const timer = handle instanceof LongTimer ? handle.current : (handle as unknown as NodeJS.Timeout);
    if (keepsProcessAlive) timer?.ref();
    else timer?.unref();
  },
});
