/**
 * A recorded call packed in one small integer, as every window stores it: bit 0 set for a
 * failure, bit 1 set for a slow call. `0` is a fast success.
 *
 * @internal
 */
export type OutcomeCode = 0 | 1 | 2 | 3;

/** Bit 0 of an {@link OutcomeCode}: the call failed. @internal */
export const FAILURE_BIT = 1;

/** Bit 1 of an {@link OutcomeCode}: the call was slow. @internal */
export const SLOW_BIT = 2;

/**
 * Packs a call's outcome.
 *
 * @internal
 */
export function outcomeCode(isFailure: boolean, isSlow: boolean): OutcomeCode {
  return ((isFailure ? FAILURE_BIT : 0) | (isSlow ? SLOW_BIT : 0)) as OutcomeCode;
}

/**
 * The totals every window keeps up to date, so that reading them is O(1).
 *
 * @internal
 */
export interface WindowTotals {
  calls: number;
  failures: number;
  slowCalls: number;
}
