import { FAILURE_BIT, SLOW_BIT, type OutcomeCode, type WindowTotals } from './window-outcome.js';

/**
 * The `countWindow`: a ring of the last `size` outcomes. `next` is the slot the next call is
 * written to; once the ring is full (`calls === size`) that slot holds the oldest call, whose
 * outcome is subtracted from the totals before it is overwritten. O(1) per call.
 *
 * @internal
 */
export interface CountWindowData extends WindowTotals {
  readonly kind: 'countWindow';
  readonly outcomes: OutcomeCode[];
  next: number;
}

/** @internal */
export function createCountWindow(size: number): CountWindowData {
  return {
    kind: 'countWindow',
    outcomes: new Array<OutcomeCode>(size).fill(0),
    next: 0,
    calls: 0,
    failures: 0,
    slowCalls: 0,
  };
}

/**
 * Adds one call, evicting the oldest when the ring is full.
 *
 * @internal
 */
export function recordInCountWindow(window: CountWindowData, code: OutcomeCode): void {
  const size = window.outcomes.length;
  if (window.calls === size) {
    const evicted = window.outcomes[window.next] ?? 0;
    window.failures -= evicted & FAILURE_BIT;
    window.slowCalls -= (evicted & SLOW_BIT) >> 1;
  } else {
    window.calls++;
  }
  window.outcomes[window.next] = code;
  window.failures += code & FAILURE_BIT;
  window.slowCalls += (code & SLOW_BIT) >> 1;
  window.next = (window.next + 1) % size;
}
