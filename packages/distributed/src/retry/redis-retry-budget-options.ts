import { RETRY_BUDGET_DEFAULTS, type Clock, type RetryBudgetOptions } from '@hyx/local';

/**
 * What a Redis retry budget answers when Redis fails: `'reject'` (no retry: the safe answer during
 * an outage, when retries hurt most), `'allow'` (retry as if the budget held one), or `'local'` (an
 * in-process budget with the same options decides until Redis answers again).
 *
 * @example
 * ```ts
 * import type { RetryBudgetBackendFailureMode } from '@hyx/distributed';
 * const mode: RetryBudgetBackendFailureMode = 'local';
 * ```
 */
export type RetryBudgetBackendFailureMode = 'reject' | 'allow' | 'local';

/**
 * Options of {@link redisRetryBudget}: those of the local `retryBudget`, a name that says which
 * budget is shared, and what to do when Redis fails.
 *
 * @example
 * ```ts
 * import type { RedisRetryBudgetOptions } from '@hyx/distributed';
 * const options: RedisRetryBudgetOptions = { name: 'payments', ratio: 0.1, minRetriesPerSecond: 5 };
 * ```
 */
export interface RedisRetryBudgetOptions extends RetryBudgetOptions {
  /** Budgets with the same name on the same Redis (or Cluster) are one budget. */
  readonly name: string;
  /**
   * What a withdrawal answers when Redis fails (a deposit that fails is dropped, or given to the
   * local budget with `'local'`).
   * @defaultValue `'reject'`
   */
  readonly onBackendFailure?: RetryBudgetBackendFailureMode | undefined;
}

/**
 * The defaults of {@link RedisRetryBudgetOptions}: those of the local retry budget, and
 * `onBackendFailure`.
 *
 * @example
 * ```ts
 * import { REDIS_RETRY_BUDGET_DEFAULTS } from '@hyx/distributed';
 * console.log(REDIS_RETRY_BUDGET_DEFAULTS.onBackendFailure); // 'reject'
 * ```
 */
export const REDIS_RETRY_BUDGET_DEFAULTS = Object.freeze({
  ...RETRY_BUDGET_DEFAULTS,
  onBackendFailure: 'reject',
});

/** Options with every default applied. @internal */
export interface RedisRetryBudgetSettings {
  readonly name: string;
  readonly ratio: number;
  readonly minRetriesPerSecond: number;
  readonly windowMs: number;
  readonly onBackendFailure: RetryBudgetBackendFailureMode;
  readonly clock: Clock;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  return value === null ? 'null' : typeof value;
}

const KNOWN_OPTIONS = new Set([
  'name',
  'ratio',
  'minRetriesPerSecond',
  'windowMs',
  'onBackendFailure',
  'clock',
]);
const MODES: readonly string[] = ['reject', 'allow', 'local'];

/**
 * Validates the options once: errors name the budget, the option and the value
 * (`redisRetryBudget "payments": ratio must be >= 0, got -1`).
 *
 * @internal
 */
export function resolveRedisRetryBudgetSettings(options: RedisRetryBudgetOptions): RedisRetryBudgetSettings {
  const factory = 'redisRetryBudget';
  if (typeof options !== 'object' || (options as RedisRetryBudgetOptions | null) === null) {
    throw new TypeError(`${factory}: options must be an object, got ${describe(options)}`);
  }
  const { name } = options;
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`${factory}: name must be a non-empty string, got ${describe(name)}`);
  }
  const label = `${factory} ${JSON.stringify(name)}`;
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`${label}: unknown option ${key}`);
  }
  const number = (option: string, value: unknown, isPositive: boolean): number => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new TypeError(`${label}: ${option} must be a finite number, got ${describe(value)}`);
    }
    if (isPositive ? value <= 0 : value < 0) {
      throw new RangeError(`${label}: ${option} must be ${isPositive ? '>' : '>='} 0, got ${value}`);
    }
    return value;
  };
  const onBackendFailure = options.onBackendFailure ?? REDIS_RETRY_BUDGET_DEFAULTS.onBackendFailure;
  if (!MODES.includes(onBackendFailure)) {
    throw new TypeError(
      `${label}: onBackendFailure must be one of "reject", "allow", "local", got ${describe(onBackendFailure)}`,
    );
  }
  const clock = options.clock ?? REDIS_RETRY_BUDGET_DEFAULTS.clock;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function') {
    throw new TypeError(`${label}: clock must be a Clock, got ${describe(clock)}`);
  }
  return Object.freeze({
    name,
    ratio: number('ratio', options.ratio ?? REDIS_RETRY_BUDGET_DEFAULTS.ratio, false),
    minRetriesPerSecond: number(
      'minRetriesPerSecond',
      options.minRetriesPerSecond ?? REDIS_RETRY_BUDGET_DEFAULTS.minRetriesPerSecond,
      false,
    ),
    windowMs: number('windowMs', options.windowMs ?? REDIS_RETRY_BUDGET_DEFAULTS.windowMs, true),
    onBackendFailure,
    clock,
  });
}
