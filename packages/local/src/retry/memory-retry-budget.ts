import type { Clock } from '../clock/clock.js';
import type { RetryBudget } from './retry-budget.js';
import {
  type RetryBudgetRule,
  type RetryBudgetWindow,
  depositSuccess,
  retryBudgetBalance,
  withdrawRetry,
} from './retry-budget-algorithm.js';

/**
 * The in-process {@link RetryBudget}: the algorithm's state in a field, time from a clock unless the
 * caller passes `nowMs`.
 *
 * @internal
 */
export class MemoryRetryBudget implements RetryBudget {
  readonly #rule: RetryBudgetRule;
  readonly #clock: Clock;
  #window: RetryBudgetWindow | undefined;

  constructor(rule: RetryBudgetRule, clock: Clock) {
    this.#rule = rule;
    this.#clock = clock;
  }

  tryWithdraw(nowMs: number = this.#clock.now()): boolean {
    const withdrawal = withdrawRetry(this.#window, this.#rule, nowMs);
    this.#window = withdrawal.window;
    return withdrawal.isAllowed;
  }

  deposit(nowMs: number = this.#clock.now()): void {
    this.#window = depositSuccess(this.#window, this.#rule, nowMs);
  }

  /** The retries available now; for tests and metrics. */
  balance(nowMs: number = this.#clock.now()): number {
    return retryBudgetBalance(this.#window, this.#rule, nowMs);
  }
}
