import { MAX_TIMER_DELAY_MS, systemClock, type Clock } from '@hyx/local';

/**
 * The options of {@link redisLock} and {@link redlockLock}.
 *
 * @example
 * ```ts
 * import type { RedisLockOptions } from '@hyx/distributed';
 * const options: RedisLockOptions = { name: 'invoices', leaseMs: 10_000, renewMs: 2_000, waitMs: 5_000 };
 * ```
 */
export interface RedisLockOptions {
  /** The lock's name: every instance using the same name on the same Redis shares one lock. */
  readonly name: string;
  /** How long a lease lasts without renewal: a holder that dies loses the lock after this. */
  readonly leaseMs: number;
  /**
   * How often a held lease is renewed; less than `leaseMs - safetyMs`.
   * @defaultValue `leaseMs / 3`
   */
  readonly renewMs?: number | undefined;
  /**
   * How long {@link Lock.acquire} keeps trying while someone else holds the lock (`Infinity`: until
   * its signal aborts).
   * @defaultValue 10_000
   */
  readonly waitMs?: number | undefined;
  /**
   * The pause between two attempts of {@link Lock.acquire}, jittered to 50–150 %, and never past
   * the current holder's expiry.
   * @defaultValue 100
   */
  readonly retryDelayMs?: number | undefined;
  /**
   * What is taken off a lease's validity for clock drift between this host and Redis and for the
   * time a stalled process needs to notice: the holder gives up `safetyMs` before the lease can
   * expire in Redis.
   * @defaultValue `ceil(leaseMs / 100) + 2`
   */
  readonly safetyMs?: number | undefined;
  /**
   * The clock for renewal timers and validity.
   * @defaultValue `systemClock`
   */
  readonly clock?: Clock | undefined;
}

/**
 * The defaults of {@link RedisLockOptions} that do not depend on `leaseMs`.
 *
 * @example
 * ```ts
 * import { REDIS_LOCK_DEFAULTS } from '@hyx/distributed';
 * const waitMs: number = REDIS_LOCK_DEFAULTS.waitMs;
 * ```
 */
export const REDIS_LOCK_DEFAULTS = Object.freeze({
  waitMs: 10_000,
  retryDelayMs: 100,
});

/** Options with every default applied. @internal */
export interface LeaseSettings {
  readonly name: string;
  readonly leaseMs: number;
  readonly renewMs: number;
  readonly waitMs: number;
  readonly retryDelayMs: number;
  readonly safetyMs: number;
  readonly clock: Clock;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  return value === null ? 'null' : typeof value;
}

/**
 * Validates lease options once, at construction. Errors name the factory, the lock, the option and
 * the value: `redisLock "jobs": renewMs must be < leaseMs - safetyMs (978), got 1000`.
 *
 * @internal
 */
export function resolveLeaseSettings(factory: string, options: RedisLockOptions): LeaseSettings {
  if (typeof options !== 'object' || (options as RedisLockOptions | null) === null) {
    throw new TypeError(`${factory}: options must be an object, got ${describe(options)}`);
  }
  const { name } = options;
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`${factory}: name must be a non-empty string, got ${describe(name)}`);
  }
  const label = `${factory} ${JSON.stringify(name)}`;
  const known = new Set(['name', 'leaseMs', 'renewMs', 'waitMs', 'retryDelayMs', 'safetyMs', 'clock']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`${label}: unknown option ${key}`);
  }
  const number = (option: keyof RedisLockOptions, value: unknown, min: number, allowInfinity = false) => {
    if (typeof value !== 'number' || Number.isNaN(value) || (!allowInfinity && !Number.isFinite(value))) {
      throw new TypeError(`${label}: ${option} must be a finite number, got ${describe(value)}`);
    }
    const max = allowInfinity ? Infinity : MAX_TIMER_DELAY_MS;
    if (value < min || value > max) {
      throw new RangeError(`${label}: ${option} must be in [${min}, ${max}], got ${value}`);
    }
    return value;
  };
  const leaseMs = Math.ceil(number('leaseMs', options.leaseMs, 10));
  const safetyMs = number('safetyMs', options.safetyMs ?? Math.ceil(leaseMs / 100) + 2, 0);
  if (safetyMs >= leaseMs / 2) {
    throw new RangeError(`${label}: safetyMs must be < leaseMs / 2 (${leaseMs / 2}), got ${safetyMs}`);
  }
  const renewMs = number('renewMs', options.renewMs ?? Math.floor(leaseMs / 3), 1);
  if (renewMs >= leaseMs - safetyMs) {
    throw new RangeError(
      `${label}: renewMs must be < leaseMs - safetyMs (${leaseMs - safetyMs}), got ${renewMs}`,
    );
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function') {
    throw new TypeError(`${label}: clock must be a Clock, got ${describe(clock)}`);
  }
  return Object.freeze({
    name,
    leaseMs,
    renewMs,
    waitMs: number('waitMs', options.waitMs ?? REDIS_LOCK_DEFAULTS.waitMs, 0, true),
    retryDelayMs: number('retryDelayMs', options.retryDelayMs ?? REDIS_LOCK_DEFAULTS.retryDelayMs, 1),
    safetyMs,
    clock,
  });
}
