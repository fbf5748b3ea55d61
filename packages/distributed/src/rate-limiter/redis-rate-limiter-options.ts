import type { RateLimiterOptions } from '@hyx/local';

/**
 * What a Redis rate limiter does when Redis fails or answers later than `commandTimeoutMs`:
 * `'reject'` (the decision fails with `BackendUnavailableError`), `'allow'` (fail open: every
 * request passes) or `'local'` (an in-process twin decides, with `localShare` of the limit).
 *
 * @example
 * ```ts
 * import type { BackendFailureMode } from '@hyx/distributed';
 * const mode: BackendFailureMode = 'local';
 * ```
 */
export type BackendFailureMode = 'reject' | 'allow' | 'local';

/**
 * A further limit of a multi-limit Redis rate limiter: same algorithm as the first, its own rate.
 *
 * @example
 * ```ts
 * import type { AdditionalRateLimit } from '@hyx/distributed';
 * const perHour: AdditionalRateLimit = { limit: 1000, intervalMs: 3_600_000 };
 * ```
 */
export interface AdditionalRateLimit {
  /** Cost units per `intervalMs`, an integer >= 1. */
  readonly limit: number;
  /** The interval in ms, an integer >= 1. */
  readonly intervalMs: number;
  /** Token bucket and GCRA: the burst. @defaultValue `limit` */
  readonly burst?: number | undefined;
}

/**
 * Options of the Redis state of a rate limiter, beyond the limiter's own: how it talks to Redis and
 * what it does when Redis fails. {@link redisRateLimiter} takes them together with
 * `RateLimiterOptions`.
 *
 * @example
 * ```ts
 * import type { RedisRateLimiterStateOptions } from '@hyx/distributed';
 * const options: RedisRateLimiterStateOptions = { commandTimeoutMs: 50, onBackendFailure: 'local', localShare: 0.25 };
 * ```
 */
export interface RedisRateLimiterStateOptions {
  /**
   * The longest one decision waits for Redis, in ms; later, `onBackendFailure` decides.
   * @defaultValue 100
   */
  readonly commandTimeoutMs?: number | undefined;
  /** @defaultValue `'reject'` */
  readonly onBackendFailure?: BackendFailureMode | undefined;
  /**
   * `onBackendFailure: 'local'`: the share of each limit (and burst, queue size) the in-process
   * twin admits while Redis is down, in (0, 1]; with N instances, `1 / N` keeps the total near the
   * limit. Rounded down, at least 1.
   * @defaultValue 1
   */
  readonly localShare?: number | undefined;
  /**
   * More limits on the same keys, taken all-or-nothing with the first in one script call (e.g.
   * `limit: 10, intervalMs: 1000` and `additionalLimits: [{ limit: 1000, intervalMs: 3_600_000 }]`).
   * Not for the leaky bucket. Each must take at least the first limit's largest cost.
   * @defaultValue `[]`
   */
  readonly additionalLimits?: readonly AdditionalRateLimit[] | undefined;
  /**
   * Merge the requests for one key made in the same tick of the event loop into one script call
   * that decides them in order: fewer round-trips on hot keys, the same decisions.
   * @defaultValue false
   */
  readonly batching?: boolean | undefined;
  /**
   * Whose clock decides: `'server'` (Redis `TIME`, so host clock skew cannot matter) or
   * `'clock'` (the limiter's `clock` option; for tests with a `FakeClock`).
   * @defaultValue `'server'`
   */
  readonly time?: 'server' | 'clock' | undefined;
}

/**
 * Options of {@link redisRateLimiter}: the local limiter's (its `state` is the Redis one) plus
 * {@link RedisRateLimiterStateOptions}. `maxKeys` bounds the in-process twin of
 * `onBackendFailure: 'local'`.
 *
 * @example
 * ```ts
 * import type { RedisRateLimiterOptions } from '@hyx/distributed';
 * const options: RedisRateLimiterOptions = { name: 'api', algorithm: 'gcra', limit: 100, intervalMs: 60_000 };
 * ```
 */
export interface RedisRateLimiterOptions
  extends Omit<RateLimiterOptions, 'state'>, RedisRateLimiterStateOptions {}

/**
 * The defaults of {@link RedisRateLimiterStateOptions}.
 *
 * @example
 * ```ts
 * import { REDIS_RATE_LIMITER_DEFAULTS } from '@hyx/distributed';
 * const timeoutMs: number = REDIS_RATE_LIMITER_DEFAULTS.commandTimeoutMs; // 100
 * ```
 */
export const REDIS_RATE_LIMITER_DEFAULTS: {
  readonly commandTimeoutMs: number;
  readonly onBackendFailure: BackendFailureMode;
  readonly localShare: number;
  readonly batching: boolean;
  readonly time: 'server' | 'clock';
} = Object.freeze({
  commandTimeoutMs: 100,
  onBackendFailure: 'reject',
  localShare: 1,
  batching: false,
  time: 'server',
});

const FAILURE_MODES: readonly BackendFailureMode[] = ['reject', 'allow', 'local'];

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * Checks the Redis-only options once, at construction, naming the limiter, the option and the
 * value, as the local options schema does for the rest.
 *
 * @internal
 */
export function checkRedisRateLimiterOptions(name: string, options: RedisRateLimiterStateOptions): void {
  const fail = (errorClass: typeof TypeError, option: string, expected: string, value: unknown): never => {
    throw new errorClass(`redisRateLimiter "${name}": ${option} ${expected}, got ${shown(value)}`);
  };
  // Read as unknown: the options come from JavaScript callers too.
  const raw: { readonly [TOption in keyof RedisRateLimiterStateOptions]?: unknown } = options;
  const { commandTimeoutMs, onBackendFailure, localShare, additionalLimits, batching, time } = raw;
  if (commandTimeoutMs !== undefined) {
    if (typeof commandTimeoutMs !== 'number')
      fail(TypeError, 'commandTimeoutMs', 'must be a number', commandTimeoutMs);
    else if (!(commandTimeoutMs > 0 && commandTimeoutMs <= 2 ** 31 - 1))
      fail(RangeError, 'commandTimeoutMs', 'must be in (0, 2^31 - 1]', commandTimeoutMs);
  }
  if (onBackendFailure !== undefined && !FAILURE_MODES.some((mode) => mode === onBackendFailure))
    fail(TypeError, 'onBackendFailure', 'must be one of "reject", "allow", "local"', onBackendFailure);
  if (localShare !== undefined) {
    if (typeof localShare !== 'number') fail(TypeError, 'localShare', 'must be a number', localShare);
    else if (!(localShare > 0 && localShare <= 1))
      fail(RangeError, 'localShare', 'must be in (0, 1]', localShare);
  }
  if (batching !== undefined && typeof batching !== 'boolean')
    fail(TypeError, 'batching', 'must be a boolean', batching);
  if (time !== undefined && time !== 'server' && time !== 'clock')
    fail(TypeError, 'time', 'must be "server" or "clock"', time);
  if (additionalLimits === undefined) return;
  if (!Array.isArray(additionalLimits)) {
    fail(TypeError, 'additionalLimits', 'must be an array', additionalLimits);
    return;
  }
  for (const [index, extra] of (additionalLimits as readonly unknown[]).entries()) {
    const limit = (extra ?? {}) as { readonly [TField in keyof AdditionalRateLimit]?: unknown };
    for (const field of ['limit', 'intervalMs', 'burst'] as const) {
      const value = limit[field];
      if (field === 'burst' && value === undefined) continue;
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
        fail(RangeError, `additionalLimits[${index}].${field}`, 'must be an integer >= 1', value);
    }
  }
}
