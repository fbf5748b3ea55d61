import { MAX_TIMER_DELAY_MS, type CircuitBreakerOptions } from '@hyx/local';

import type { RedisSubscriberLike } from '../bulkhead/redis-bulkhead-options.js';
import type { BackendFailureMode } from '../rate-limiter/redis-rate-limiter-options.js';

/**
 * How a {@link RedisCircuitBreakerState} talks to Redis and what it does when Redis fails.
 *
 * @example
 * ```ts
 * import type { RedisCircuitBreakerStateOptions } from '@hyx/distributed';
 * const options: RedisCircuitBreakerStateOptions = { commandTimeoutMs: 50, onBackendFailure: 'local' };
 * ```
 */
export interface RedisCircuitBreakerStateOptions {
  /**
   * The longest one state call waits for Redis, in ms; later, `onBackendFailure` decides.
   * @defaultValue 100
   */
  readonly commandTimeoutMs?: number | undefined;
  /**
   * When Redis fails or is slow: `'reject'` (calls fail with `BackendUnavailableError`),
   * `'allow'` (calls run unguarded; nothing is recorded) or `'local'` (an in-process breaker with
   * the same options decides until Redis answers again).
   * @defaultValue `'reject'`
   */
  readonly onBackendFailure?: BackendFailureMode | undefined;
  /**
   * Whose clock decides: `'server'` (Redis `TIME`, so host clock skew cannot matter) or `'clock'`
   * (the breaker's `clock` option; for tests with a `FakeClock`).
   * @defaultValue `'server'`
   */
  readonly time?: 'server' | 'clock' | undefined;
  /**
   * Listen to the breaker's transition channel, so this instance learns of a transition made
   * elsewhere within milliseconds even without traffic (`circuit.observed`). Opens one extra
   * connection (`redis.duplicate()`, or `subscriber`), closed by `close()`.
   * @defaultValue false
   */
  readonly subscribe?: boolean | undefined;
  /**
   * The pub/sub connection for `subscribe: true`; a given one is never disconnected by hyx.
   * @defaultValue `redis.duplicate()`
   */
  readonly subscriber?: RedisSubscriberLike | undefined;
  /**
   * How long a circuit nobody touches is kept in Redis, in ms (an open circuit at least until its
   * open time ends). Must exceed the window's duration and `maxHalfOpenWaitMs`, which it is raised
   * to; an isolation not touched for this long is forgotten.
   * @defaultValue 86_400_000 (a day)
   */
  readonly idleTtlMs?: number | undefined;
  /**
   * Coordinated recovery, for a breaker with a `healthCheck`: only the process holding the
   * circuit's recovery lease (a `redisLock` of this many ms, renewed while held) runs the health
   * checks; its verdict closes or re-opens the circuit for everyone. When it dies, another takes
   * the lease once it lapses. Left out, every process that sees the open time end runs them
   * (the probe slots still bound how many run at once).
   */
  readonly recoveryLeaseMs?: number | undefined;
  /**
   * Coordinated recovery by an election you already run: only the process whose
   * `recoveryLeader.isLeader` is true runs the health checks (the others ask again every
   * `leaseMs / 3`), so the leader your dashboards show is the one that probes. Pass a
   * `leaderElection` that is campaigning (`runWhileLeader`). Not with `recoveryLeaseMs`.
   */
  readonly recoveryLeader?: RecoveryLeader | undefined;
}

/**
 * What coordinated recovery needs of an election: whether this process leads now, and how long a
 * dead leader's term lasts. A `LeaderElection` is one.
 *
 * @example
 * ```ts
 * import type { RecoveryLeader } from '@hyx/distributed';
 * const alwaysLeader: RecoveryLeader = { isLeader: true, leaseMs: 1_000 };
 * ```
 */
export interface RecoveryLeader {
  /** Whether this process leads now (read at each health check). */
  readonly isLeader: boolean;
  /** How long a term lasts without renewal, in ms. */
  readonly leaseMs: number;
}

/**
 * The options of {@link redisCircuitBreaker}: those of the local `circuitBreaker` (but `state`),
 * and {@link RedisCircuitBreakerStateOptions}.
 *
 * @example
 * ```ts
 * import type { RedisCircuitBreakerOptions } from '@hyx/distributed';
 * const options: RedisCircuitBreakerOptions = { name: 'payments', failureRate: 0.5, subscribe: true };
 * ```
 */
export interface RedisCircuitBreakerOptions
  extends Omit<CircuitBreakerOptions, 'state'>, RedisCircuitBreakerStateOptions {}

/**
 * The defaults of {@link RedisCircuitBreakerStateOptions}.
 *
 * @example
 * ```ts
 * import { REDIS_CIRCUIT_BREAKER_DEFAULTS } from '@hyx/distributed';
 * const timeoutMs: number = REDIS_CIRCUIT_BREAKER_DEFAULTS.commandTimeoutMs; // 100
 * ```
 */
export const REDIS_CIRCUIT_BREAKER_DEFAULTS: {
  readonly commandTimeoutMs: number;
  readonly onBackendFailure: BackendFailureMode;
  readonly time: 'server' | 'clock';
  readonly subscribe: boolean;
  readonly idleTtlMs: number;
} = Object.freeze({
  commandTimeoutMs: 100,
  onBackendFailure: 'reject',
  time: 'server',
  subscribe: false,
  idleTtlMs: 86_400_000,
});

const FAILURE_MODES: readonly BackendFailureMode[] = ['reject', 'allow', 'local'];

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function isRecoveryLeader(value: unknown): value is RecoveryLeader {
  if (typeof value !== 'object' || value === null || !('isLeader' in value) || !('leaseMs' in value))
    return false;
  return typeof value.isLeader === 'boolean' && typeof value.leaseMs === 'number' && value.leaseMs > 0;
}

/**
 * Checks the Redis-only options once, at construction, naming the breaker, the option and the
 * value, as the local options schema does for the rest.
 *
 * @internal
 */
export function checkRedisCircuitBreakerOptions(
  name: string,
  options: RedisCircuitBreakerStateOptions,
): void {
  const fail = (errorClass: typeof TypeError, option: string, expected: string, value: unknown): never => {
    throw new errorClass(`redisCircuitBreaker "${name}": ${option} ${expected}, got ${shown(value)}`);
  };
  // Read as unknown: the options come from JavaScript callers too.
  const raw: { readonly [TOption in keyof RedisCircuitBreakerStateOptions]?: unknown } = options;
  const { commandTimeoutMs, onBackendFailure, time, subscribe, idleTtlMs, recoveryLeaseMs, recoveryLeader } =
    raw;
  if (recoveryLeader !== undefined) {
    if (recoveryLeaseMs !== undefined)
      fail(TypeError, 'recoveryLeader', 'cannot be combined with recoveryLeaseMs', recoveryLeaseMs);
    if (!isRecoveryLeader(recoveryLeader))
      fail(TypeError, 'recoveryLeader', 'must be a leaderElection (isLeader and leaseMs)', recoveryLeader);
  }
  if (recoveryLeaseMs !== undefined) {
    if (typeof recoveryLeaseMs !== 'number' || !Number.isSafeInteger(recoveryLeaseMs))
      fail(TypeError, 'recoveryLeaseMs', 'must be an integer', recoveryLeaseMs);
    else if (recoveryLeaseMs < 100 || recoveryLeaseMs > MAX_TIMER_DELAY_MS)
      fail(RangeError, 'recoveryLeaseMs', `must be in [100, ${MAX_TIMER_DELAY_MS}]`, recoveryLeaseMs);
  }
  if (commandTimeoutMs !== undefined) {
    if (typeof commandTimeoutMs !== 'number')
      fail(TypeError, 'commandTimeoutMs', 'must be a number', commandTimeoutMs);
    else if (!(commandTimeoutMs > 0 && commandTimeoutMs <= MAX_TIMER_DELAY_MS))
      fail(RangeError, 'commandTimeoutMs', `must be in (0, ${MAX_TIMER_DELAY_MS}]`, commandTimeoutMs);
  }
  if (onBackendFailure !== undefined && !FAILURE_MODES.some((mode) => mode === onBackendFailure))
    fail(TypeError, 'onBackendFailure', 'must be one of "reject", "allow", "local"', onBackendFailure);
  if (time !== undefined && time !== 'server' && time !== 'clock')
    fail(TypeError, 'time', 'must be "server" or "clock"', time);
  if (subscribe !== undefined && typeof subscribe !== 'boolean')
    fail(TypeError, 'subscribe', 'must be a boolean', subscribe);
  if (idleTtlMs !== undefined) {
    if (typeof idleTtlMs !== 'number' || !Number.isSafeInteger(idleTtlMs))
      fail(TypeError, 'idleTtlMs', 'must be an integer', idleTtlMs);
    else if (idleTtlMs < 1000) fail(RangeError, 'idleTtlMs', 'must be >= 1000', idleTtlMs);
  }
}
