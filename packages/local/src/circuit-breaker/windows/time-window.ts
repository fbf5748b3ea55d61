import { FAILURE_BIT, SLOW_BIT, type OutcomeCode, type WindowTotals } from './window-outcome.js';

/**
 * The `timeWindow`: `buckets` buckets of `bucketMs = durationMs / buckets` ms each, in a ring.
 * Time is cut into epochs `floor(nowMs / bucketMs)`; epoch `e` lives in slot `e mod buckets`.
 * `headEpoch` is the newest epoch the window has moved to. A call recorded in epoch `c` is in
 * the window at epoch `e` while `e - c < buckets`. Moving forward subtracts each bucket that
 * falls out from the totals and empties it (at most `buckets` steps, and a jump of a whole
 * window or more empties everything at once), so a call costs O(1) amortised.
 *
 * A time earlier than `headEpoch` (a clock that stepped back) counts in the head bucket.
 *
 * @internal
 */
export interface TimeWindowData extends WindowTotals {
  readonly kind: 'timeWindow';
  headEpoch: number;
  readonly bucketCalls: number[];
  readonly bucketFailures: number[];
  readonly bucketSlowCalls: number[];
}

/** The epoch of `nowMs` for buckets of `bucketMs`. @internal */
export function epochOf(nowMs: number, bucketMs: number): number {
  return Math.floor(nowMs / bucketMs);
}

/** @internal */
export function createTimeWindow(buckets: number, bucketMs: number, nowMs: number): TimeWindowData {
  return {
    kind: 'timeWindow',
    headEpoch: epochOf(nowMs, bucketMs),
    bucketCalls: new Array<number>(buckets).fill(0),
    bucketFailures: new Array<number>(buckets).fill(0),
    bucketSlowCalls: new Array<number>(buckets).fill(0),
    calls: 0,
    failures: 0,
    slowCalls: 0,
  };
}

/** `epoch mod buckets`, floored (written without `%`, whose sign rule differs between JS and Lua). */
function slotOf(epoch: number, buckets: number): number {
  return epoch - Math.floor(epoch / buckets) * buckets;
}

/**
 * Moves the window to `nowMs`: every bucket older than the window is subtracted and emptied.
 *
 * @internal
 */
export function advanceTimeWindow(window: TimeWindowData, bucketMs: number, nowMs: number): void {
  const epoch = epochOf(nowMs, bucketMs);
  const steps = epoch - window.headEpoch;
  if (steps <= 0) return;
  const buckets = window.bucketCalls.length;
  if (steps >= buckets) {
    window.bucketCalls.fill(0);
    window.bucketFailures.fill(0);
    window.bucketSlowCalls.fill(0);
    window.calls = 0;
    window.failures = 0;
    window.slowCalls = 0;
  } else {
    for (let step = 1; step <= steps; step++) {
      const slot = slotOf(window.headEpoch + step, buckets);
      window.calls -= window.bucketCalls[slot] ?? 0;
      window.failures -= window.bucketFailures[slot] ?? 0;
      window.slowCalls -= window.bucketSlowCalls[slot] ?? 0;
      window.bucketCalls[slot] = 0;
      window.bucketFailures[slot] = 0;
      window.bucketSlowCalls[slot] = 0;
    }
  }
  window.headEpoch = epoch;
}

/**
 * Adds one call at `nowMs`, moving the window first.
 *
 * @internal
 */
export function recordInTimeWindow(
  window: TimeWindowData,
  bucketMs: number,
  code: OutcomeCode,
  nowMs: number,
): void {
  advanceTimeWindow(window, bucketMs, nowMs);
  const slot = slotOf(window.headEpoch, window.bucketCalls.length);
  const isFailure = code & FAILURE_BIT;
  const isSlow = (code & SLOW_BIT) >> 1;
  window.bucketCalls[slot] = (window.bucketCalls[slot] ?? 0) + 1;
  window.bucketFailures[slot] = (window.bucketFailures[slot] ?? 0) + isFailure;
  window.bucketSlowCalls[slot] = (window.bucketSlowCalls[slot] ?? 0) + isSlow;
  window.calls++;
  window.failures += isFailure;
  window.slowCalls += isSlow;
}
