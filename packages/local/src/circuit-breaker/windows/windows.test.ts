import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { createConsecutiveWindow, recordInConsecutiveWindow } from './consecutive-window.js';
import { createCountWindow, recordInCountWindow } from './count-window.js';
import { advanceTimeWindow, createTimeWindow, epochOf, recordInTimeWindow } from './time-window.js';
import { FAILURE_BIT, SLOW_BIT, type OutcomeCode, type WindowTotals } from './window-outcome.js';

const outcomeArbitrary = fc.constantFrom<OutcomeCode>(0, 1, 2, 3);

function recount(codes: readonly OutcomeCode[]): WindowTotals {
  return {
    calls: codes.length,
    failures: codes.filter((code) => (code & FAILURE_BIT) !== 0).length,
    slowCalls: codes.filter((code) => (code & SLOW_BIT) !== 0).length,
  };
}

function totalsOf(window: WindowTotals): WindowTotals {
  return { calls: window.calls, failures: window.failures, slowCalls: window.slowCalls };
}

function expectNoNegative(values: readonly number[]): void {
  for (const value of values) expect(value).toBeGreaterThanOrEqual(0);
}

describe('consecutive window', () => {
  it('counts the current run of failures and restarts it on a success', () => {
    const window = createConsecutiveWindow();
    for (const code of [1, 1, 0, 1, 3] as const) recordInConsecutiveWindow(window, code);
    expect(totalsOf(window)).toEqual({ calls: 2, failures: 2, slowCalls: 0 });
  });

  it('equals a brute-force count of the trailing failures at every step', () => {
    fc.assert(
      fc.property(fc.array(outcomeArbitrary, { maxLength: 200 }), (codes) => {
        const window = createConsecutiveWindow();
        codes.forEach((code, index) => {
          recordInConsecutiveWindow(window, code);
          let run = 0;
          for (let back = index; back >= 0 && ((codes[back] ?? 0) & FAILURE_BIT) !== 0; back--) run++;
          expect(totalsOf(window)).toEqual({ calls: run, failures: run, slowCalls: 0 });
        });
      }),
    );
  });
});

describe('count window', () => {
  it('drops the oldest call once full', () => {
    const window = createCountWindow(3);
    for (const code of [1, 0, 0, 0] as const) recordInCountWindow(window, code);
    expect(totalsOf(window)).toEqual({ calls: 3, failures: 0, slowCalls: 0 });
  });

  it('equals a brute-force recount of the last N calls at every step, and no counter is negative', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(outcomeArbitrary, { maxLength: 120 }),
        (size, codes) => {
          const window = createCountWindow(size);
          codes.forEach((code, index) => {
            recordInCountWindow(window, code);
            expect(totalsOf(window)).toEqual(recount(codes.slice(Math.max(0, index + 1 - size), index + 1)));
            expectNoNegative([window.calls, window.failures, window.slowCalls, window.next]);
          });
        },
      ),
    );
  });
});

describe('time window', () => {
  it('drops a bucket whole once it is a window old', () => {
    // 1000 ms in 4 buckets of 250 ms: a call at 1000 lives in epoch 4, out of the window at epoch 8.
    const window = createTimeWindow(4, 250, 1000);
    recordInTimeWindow(window, 250, 1, 1000);
    recordInTimeWindow(window, 250, 1, 1249);
    advanceTimeWindow(window, 250, 1999);
    expect(window.failures).toBe(2);
    advanceTimeWindow(window, 250, 2000);
    expect(window.failures).toBe(0);
  });

  it('empties at once after an idle gap longer than the window', () => {
    const window = createTimeWindow(4, 250, 0);
    recordInTimeWindow(window, 250, 3, 10);
    advanceTimeWindow(window, 250, 1_000_000);
    expect(totalsOf(window)).toEqual({ calls: 0, failures: 0, slowCalls: 0 });
    expect(window.bucketCalls).toEqual([0, 0, 0, 0]);
  });

  it('counts a call from a clock that stepped back in the newest bucket', () => {
    const window = createTimeWindow(4, 250, 0);
    recordInTimeWindow(window, 250, 1, 900);
    recordInTimeWindow(window, 250, 1, 100);
    advanceTimeWindow(window, 250, 1749);
    expect(window.failures).toBe(2);
    advanceTimeWindow(window, 250, 1750);
    expect(window.failures).toBe(0);
  });

  it('equals a brute-force recount of the calls of the last W ms (by bucket) at every step', () => {
    const stepArbitrary = fc.record({ advanceMs: fc.integer({ min: 0, max: 700 }), code: outcomeArbitrary });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: -5000, max: 5000 }),
        fc.array(stepArbitrary, { maxLength: 150 }),
        (buckets, bucketMs, startMs, steps) => {
          const window = createTimeWindow(buckets, bucketMs, startMs);
          const recorded: { epoch: number; code: OutcomeCode }[] = [];
          let nowMs = startMs;
          for (const step of steps) {
            nowMs += step.advanceMs;
            recordInTimeWindow(window, bucketMs, step.code, nowMs);
            recorded.push({ epoch: epochOf(nowMs, bucketMs), code: step.code });
            const nowEpoch = epochOf(nowMs, bucketMs);
            const inWindow = recorded
              .filter((call) => nowEpoch - call.epoch < buckets)
              .map((call) => call.code);
            expect(totalsOf(window)).toEqual(recount(inWindow));
            expectNoNegative([
              window.calls,
              window.failures,
              window.slowCalls,
              ...window.bucketCalls,
              ...window.bucketFailures,
              ...window.bucketSlowCalls,
            ]);
          }
        },
      ),
    );
  });
});
