import { parseLabelledOptions } from '../options/parse-options.js';
import { MemoryRetryBudget } from './memory-retry-budget.js';
import { type RetryBudgetOptions, retryBudgetOptionsSchema } from './retry-budget-options.js';

/**
 * A budget of retries shared by one or many retry policies, so that retries cannot multiply the load
 * on a dependency that is already failing. A retry policy withdraws one token before each retry
 * (none for first attempts) and deposits after each successful call.
 *
 * {@link retryBudget} builds the in-process budget; a shared one (Redis) implements the same
 * interface and may answer with a promise, which the policy awaits. `nowMs` is for tests and for
 * callers with their own clock: without it, an implementation uses its own time (the in-process
 * budget its `clock`, a Redis budget the server's time).
 *
 * @example
 * ```ts
 * import { retry, retryBudget } from '@hyx/local';
 * const budget = retryBudget({ ratio: 0.1, minRetriesPerSecond: 10, windowMs: 10_000 });
 * const users = retry({ name: 'users', maxAttempts: 3, budget });
 * const orders = retry({ name: 'orders', maxAttempts: 5, budget });
 * ```
 */
export interface RetryBudget {
  /** Takes one retry from the budget; `false` (nothing taken) when the budget is spent. */
  tryWithdraw(nowMs?: number): boolean | PromiseLike<boolean>;
  /** Records one successful call, which earns the budget more retries. */
  deposit(nowMs?: number): void | PromiseLike<void>;
}

/**
 * The in-process retry budget, in the manner of Finagle's and failsafe-go's: over a sliding window
 * of `windowMs`, retries may reach `ratio` × successful calls plus `minRetriesPerSecond` × the
 * window in seconds. When it is spent, a retry policy gives up with a `RetryExhaustedError` whose
 * `reason` is `'budget'`. Bad options throw a named `TypeError`/`RangeError`
 * (`retryBudget: ratio must be >= 0, got -1`).
 *
 * @example
 * ```ts
 * import { retry, retryBudget } from '@hyx/local';
 * const budget = retryBudget({ ratio: 0.1, minRetriesPerSecond: 10, windowMs: 10_000 });
 * const policy = retry({ maxAttempts: 4, budget });
 * await policy.execute(() => 'ok');
 * ```
 */
export function retryBudget(options?: RetryBudgetOptions): RetryBudget {
  const { clock, ...rule } = parseLabelledOptions('retryBudget', retryBudgetOptionsSchema, options);
  return new MemoryRetryBudget(rule, clock);
}
