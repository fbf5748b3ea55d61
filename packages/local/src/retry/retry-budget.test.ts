import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { FakeClock } from '../testing/fake-clock.js';
import { MemoryRetryBudget } from './memory-retry-budget.js';
import { retryBudget } from './retry-budget.js';
import {
  type RetryBudgetRule,
  type RetryBudgetWindow,
  depositSuccess,
  retryBudgetBalance,
  withdrawRetry,
} from './retry-budget-algorithm.js';

type Step = readonly [
  atMs: number,
  op: 'withdraw' | 'deposit' | 'balance',
  expected: boolean | number | null,
];

/** Runs `steps` through the pure functions, one row per instant, and checks each answer. */
function play(rule: RetryBudgetRule, steps: readonly Step[]): void {
  let window: RetryBudgetWindow | undefined;
  for (const [atMs, op, expected] of steps) {
    if (op === 'withdraw') {
      const withdrawal = withdrawRetry(window, rule, atMs);
      window = withdrawal.window;
      expect(withdrawal.isAllowed, `withdraw at ${atMs} ms`).toBe(expected);
    } else if (op === 'deposit') {
      window = depositSuccess(window, rule, atMs);
    } else {
      expect(retryBudgetBalance(window, rule, atMs), `balance at ${atMs} ms`).toBeCloseTo(
        expected as number,
        9,
      );
    }
  }
}

describe('retry budget algorithm', () => {
  it('allows minRetriesPerSecond × window seconds of retries without any success', () => {
    play({ ratio: 0.2, minRetriesPerSecond: 2, windowMs: 1_500 }, [
      [0, 'balance', 3],
      [0, 'withdraw', true],
      [10, 'withdraw', true],
      [20, 'withdraw', true],
      [30, 'withdraw', false],
      [30, 'balance', 0],
    ]);
  });

  it('earns ratio retries per success, with 0.1 × 10 counting as a whole retry', () => {
    const rule = { ratio: 0.1, minRetriesPerSecond: 0, windowMs: 10_000 };
    const steps: Step[] = [[0, 'withdraw', false]];
    for (let success = 0; success < 10; success++) steps.push([success, 'deposit', null]);
    steps.push([20, 'withdraw', true], [21, 'withdraw', false]);
    play(rule, steps);
  });

  it('refills as spent retries slide out of the window', () => {
    play({ ratio: 0, minRetriesPerSecond: 10, windowMs: 1_000 }, [
      ...Array.from({ length: 10 }, (_, index): Step => [index, 'withdraw', true]),
      [10, 'withdraw', false],
      [999, 'balance', 0],
      // A new fixed window: last window's retries weigh 1 - elapsed / window.
      [1_000, 'balance', 0],
      [1_250, 'balance', 2.5],
      [1_500, 'balance', 5],
      [1_500, 'withdraw', true],
      [1_500, 'balance', 4],
      [2_000, 'balance', 9],
      [3_000, 'balance', 10],
    ]);
  });

  it('lets earned retries expire with the window', () => {
    play({ ratio: 1, minRetriesPerSecond: 0, windowMs: 1_000 }, [
      [0, 'deposit', null],
      [0, 'deposit', null],
      [0, 'deposit', null],
      [0, 'deposit', null],
      [500, 'balance', 4],
      [1_500, 'balance', 2],
      [2_000, 'balance', 0],
      [2_000, 'withdraw', false],
    ]);
  });

  it('forgets everything after two idle windows and starts afresh, as without state', () => {
    const rule = { ratio: 1, minRetriesPerSecond: 1, windowMs: 1_000 };
    play(rule, [
      [0, 'withdraw', true],
      [0, 'withdraw', false],
      [1e12, 'balance', 1],
      [1e12, 'withdraw', true],
    ]);
    const idle = withdrawRetry(depositSuccess(undefined, rule, 0), rule, 2_300).window;
    expect(idle).toEqual(withdrawRetry(undefined, rule, 2_300).window);
  });

  it('keeps a clock that went backwards in the current window', () => {
    play({ ratio: 1, minRetriesPerSecond: 0, windowMs: 1_000 }, [
      [5_000, 'deposit', null],
      [4_000, 'balance', 1],
      [4_000, 'withdraw', true],
      [4_500, 'withdraw', false],
    ]);
  });

  it('never mutates the state it is given', () => {
    const rule = { ratio: 1, minRetriesPerSecond: 1, windowMs: 1_000 };
    const window = Object.freeze(depositSuccess(undefined, rule, 0));
    expect(() => withdrawRetry(window, rule, 10)).not.toThrow();
    expect(() => depositSuccess(window, rule, 2_500)).not.toThrow();
    expect(window.currentSuccesses).toBe(1);
  });

  it('never allows more retries in a fixed window than the reserve plus ratio × successes of it and the one before', () => {
    const rule = fc.record({
      ratio: fc.double({ min: 0, max: 2, noNaN: true }),
      minRetriesPerSecond: fc.double({ min: 0, max: 20, noNaN: true }),
      windowMs: fc.integer({ min: 1, max: 5_000 }),
    });
    const ops = fc.array(fc.tuple(fc.integer({ min: 0, max: 700 }), fc.boolean()), { maxLength: 400 });
    fc.assert(
      fc.property(rule, ops, (chosen, steps) => {
        let window: RetryBudgetWindow | undefined;
        let nowMs = 0;
        // Counts per fixed window, keyed by the window's start as the algorithm chose it.
        const successes = new Map<number, number>();
        const retries = new Map<number, number>();
        for (const [gapMs, isDeposit] of steps) {
          nowMs += gapMs;
          if (isDeposit) {
            window = depositSuccess(window, chosen, nowMs);
            successes.set(window.startMs, (successes.get(window.startMs) ?? 0) + 1);
          } else {
            const withdrawal = withdrawRetry(window, chosen, nowMs);
            window = withdrawal.window;
            if (withdrawal.isAllowed) retries.set(window.startMs, (retries.get(window.startMs) ?? 0) + 1);
          }
        }
        const reserve = (chosen.minRetriesPerSecond * chosen.windowMs) / 1000;
        for (const [startMs, count] of retries) {
          const earned =
            chosen.ratio * ((successes.get(startMs) ?? 0) + (successes.get(startMs - chosen.windowMs) ?? 0));
          if (count > reserve + earned + 1e-6) {
            throw new Error(`window at ${startMs}: ${count} retries > ${reserve} + ${earned}`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('retryBudget', () => {
  it('reads its own clock when no time is passed', async () => {
    const clock = new FakeClock();
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 1, windowMs: 1_000, clock });
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    await clock.advance(2_000);
    expect(budget.tryWithdraw()).toBe(true);
  });

  it('takes an explicit nowMs', () => {
    const budget = new MemoryRetryBudget(
      { ratio: 0.5, minRetriesPerSecond: 0, windowMs: 1_000 },
      new FakeClock(),
    );
    budget.deposit(100);
    budget.deposit(100);
    expect(budget.balance(100)).toBe(1);
    expect(budget.tryWithdraw(200)).toBe(true);
    expect(budget.tryWithdraw(200)).toBe(false);
  });

  it('uses the Finagle defaults: 20% of successes plus 10 retries per second over 10 s', () => {
    const budget = retryBudget({ clock: new FakeClock() });
    let allowed = 0;
    while (budget.tryWithdraw(0) as boolean) allowed++;
    expect(allowed).toBe(100);
  });

  it.each<[unknown, ErrorConstructor, string]>([
    [{ ratio: -1 }, RangeError, 'retryBudget: ratio must be >= 0, got -1'],
    [{ ratio: Infinity }, RangeError, 'retryBudget: ratio must be a finite number, got Infinity'],
    [{ ratio: '0.1' }, TypeError, 'retryBudget: ratio must be a finite number, got "0.1"'],
    [
      { minRetriesPerSecond: Number.NaN },
      RangeError,
      'retryBudget: minRetriesPerSecond must be a finite number, got NaN',
    ],
    [{ minRetriesPerSecond: -0.5 }, RangeError, 'retryBudget: minRetriesPerSecond must be >= 0, got -0.5'],
    [{ windowMs: 0 }, RangeError, 'retryBudget: windowMs must be > 0, got 0'],
    [{ windowMs: 2 ** 31 }, RangeError, 'retryBudget: windowMs must be <= 2147483647, got 2147483648'],
    [{ clock: {} }, TypeError, 'retryBudget: clock must be a Clock'],
    [{ percent: 10 }, TypeError, 'retryBudget: percent is not a known option'],
    [0.1, TypeError, 'retryBudget: options must be an object, got 0.1'],
  ])('rejects %j with a named error', (options, errorClass, message) => {
    expect(() => retryBudget(options as never)).toThrow(errorClass);
    expect(() => retryBudget(options as never)).toThrow(message);
  });
});
