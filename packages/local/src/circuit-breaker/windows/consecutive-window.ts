import { FAILURE_BIT, type OutcomeCode, type WindowTotals } from './window-outcome.js';

/**
 * The `consecutive` window: the current run of failures. `calls` and `failures` both hold the
 * run's length; a success ends the run. Slow calls are not tracked (the option schema rejects
 * `slowCallRate` with this window).
 *
 * @internal
 */
export interface ConsecutiveWindowData extends WindowTotals {
  readonly kind: 'consecutive';
}

/** @internal */
export function createConsecutiveWindow(): ConsecutiveWindowData {
  return { kind: 'consecutive', calls: 0, failures: 0, slowCalls: 0 };
}

/**
 * Adds one call: a failure lengthens the run, a success ends it.
 *
 * @internal
 */
export function recordInConsecutiveWindow(window: ConsecutiveWindowData, code: OutcomeCode): void {
  if ((code & FAILURE_BIT) !== 0) {
    window.calls++;
    window.failures++;
  } else {
    window.calls = 0;
    window.failures = 0;
  }
}
