import { MAX_TIMER_DELAY_MS, systemClock, type BulkheadOptions, type Clock } from '@hyx/local';

import type { BackendFailureMode } from '../rate-limiter/redis-rate-limiter-options.js';
import type { BackendTransition } from '../backend-guard.js';

/**
 * The slice of a Redis connection that receives release notifications: an ioredis `Redis` or
 * `Cluster` satisfies it. Pub/sub takes a connection over, so it is never the client that runs the
 * scripts.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import type { RedisSubscriberLike } from '@hyx/distributed';
 * const subscriber: RedisSubscriberLike = new Redis({ host: '127.0.0.1', port: 6380, lazyConnect: true });
 * ```
 */
export interface RedisSubscriberLike {
  /** `SUBSCRIBE channel`; resolves once Redis confirmed it. */
  subscribe(channel: string): Promise<unknown>;
  /** `UNSUBSCRIBE channel`. */
  unsubscribe(channel: string): Promise<unknown>;
  /** Listens to the messages of every subscribed channel. */
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  /** Listens to connection errors (a subscriber the state opened ignores them: polling covers). */
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Closes the connection at once. */
  disconnect(): void;
}

/**
 * A client that can open a second connection like itself, for pub/sub (ioredis `duplicate()`).
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import type { DuplicableRedis } from '@hyx/distributed';
 * const redis: DuplicableRedis = new Redis({ host: '127.0.0.1', port: 6380, lazyConnect: true });
 * ```
 */
export interface DuplicableRedis {
  /** A new connection with the same options. */
  duplicate(): RedisSubscriberLike;
}

/**
 * How a {@link RedisBulkheadState} keeps its leases and learns of permits freed elsewhere.
 *
 * @example
 * ```ts
 * import type { RedisBulkheadStateOptions } from '@hyx/distributed';
 * const options: RedisBulkheadStateOptions = { name: 'db', maxConcurrent: 10, leaseMs: 10_000 };
 * ```
 */
export interface RedisBulkheadStateOptions {
  /** Names the Redis keys: states with the same name on the same Redis share their permits. */
  readonly name: string;
  /** How many leases of one key may be live at once, an integer >= 1. */
  readonly maxConcurrent: number;
  /**
   * How long a permit lasts without renewal, in ms (integer >= 10): a holder that dies (or stalls,
   * or loses Redis) longer than this loses its permit.
   * @defaultValue `30_000`
   */
  readonly leaseMs?: number | undefined;
  /**
   * How often held permits are renewed, in ms: all leases of a key in one round-trip. Less than
   * `leaseMs`.
   * @defaultValue `leaseMs / 3`
   */
  readonly renewMs?: number | undefined;
  /**
   * While callers wait, the longest pause between two attempts to acquire when no release
   * notification arrives: the safety net for a notification lost while the subscriber reconnects.
   * A refusal also says when the earliest lease lapses, and waiters ask again then (a dead holder's
   * permits are taken as soon as they lapse, not up to `pollIntervalMs` later).
   * @defaultValue `1_000`
   */
  readonly pollIntervalMs?: number | undefined;
  /**
   * The connection for release notifications. By default one `redis.duplicate()`, opened when a
   * caller first waits and closed one second after nobody waits; without either (a client with no
   * `duplicate`), waiters only poll. A given subscriber is never disconnected by the state.
   * @defaultValue `redis.duplicate()` when the client has it
   */
  readonly subscriber?: RedisSubscriberLike | undefined;
  /**
   * Renewal and poll timers.
   * @defaultValue `systemClock`
   */
  readonly clock?: Clock | undefined;
  /**
   * Called when a renewal finds a held lease gone (it lapsed while this process or Redis stalled, or
   * was lost in a failover): the call still runs, but its permit may be someone else's now.
   */
  readonly onLeaseLost?: ((leaseId: string) => void) | undefined;
  /**
   * The longest one acquire, renewal or release waits for Redis, in ms; later the round-trip counts
   * as a backend failure and `onBackendFailure` decides. A grant that arrives after it is given
   * back at once.
   * @defaultValue 100
   */
  readonly commandTimeoutMs?: number | undefined;
  /**
   * When Redis fails or hangs: `'reject'` (the call fails at once with `BackendUnavailableError`,
   * no permit taken), `'allow'` (the call runs without a permit; nothing is recorded) or `'local'`
   * (an in-process bulkhead of `localShare` of `maxConcurrent` permits guards calls until Redis
   * answers again; its permits are released in-process, never sent to Redis).
   * @defaultValue `'reject'`
   */
  readonly onBackendFailure?: BackendFailureMode | undefined;
  /**
   * `onBackendFailure: 'local'`: the share of `maxConcurrent` the in-process bulkhead admits while
   * Redis is down, in (0, 1]; with N instances, `1 / N` keeps the total near the limit. Rounded
   * down, at least 1.
   * @defaultValue 1
   */
  readonly localShare?: number | undefined;
  /** Called once when an outage starts and once when Redis answers again; a throw is ignored. */
  readonly onBackendTransition?: ((transition: BackendTransition) => void) | undefined;
  /**
   * How many calls of this process one lease may serve in a row, an integer >= 1. With 1, every
   * call is its own lease in Redis (own id, fencing token and expiry). Above 1, a released lease is
   * kept in this process and the next acquire of the key here takes it without a round-trip, until
   * it has served this many calls, or nobody here took it by the next turn of the event loop; then
   * it goes back to Redis. The limit and crash safety hold as before (a kept lease is a held
   * permit, renewed, lapsing if this process dies); what changes: the calls served by one lease
   * share its fencing token, and a busy process keeps a permit for up to this many calls before
   * other processes can take it (ADR 0008).
   * @defaultValue 1
   */
  readonly usesPerLease?: number | undefined;
}

/**
 * The options of {@link redisBulkhead}: those of the local `bulkhead` (but `state`), and how the
 * permits are kept in Redis.
 *
 * @example
 * ```ts
 * import type { RedisBulkheadOptions } from '@hyx/distributed';
 * const options: RedisBulkheadOptions = { name: 'db', maxConcurrent: 10, maxQueue: 100, leaseMs: 10_000 };
 * ```
 */
export interface RedisBulkheadOptions
  extends
    Omit<BulkheadOptions, 'state'>,
    Pick<
      RedisBulkheadStateOptions,
      | 'leaseMs'
      | 'renewMs'
      | 'pollIntervalMs'
      | 'subscriber'
      | 'onLeaseLost'
      | 'commandTimeoutMs'
      | 'onBackendFailure'
      | 'localShare'
      | 'usesPerLease'
    > {}

/**
 * The defaults of {@link RedisBulkheadStateOptions} that do not depend on `leaseMs`.
 *
 * @example
 * ```ts
 * import { REDIS_BULKHEAD_DEFAULTS } from '@hyx/distributed';
 * const leaseMs: number = REDIS_BULKHEAD_DEFAULTS.leaseMs;
 * ```
 */
export const REDIS_BULKHEAD_DEFAULTS: {
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  readonly clock: Clock;
  readonly commandTimeoutMs: number;
  readonly onBackendFailure: BackendFailureMode;
  readonly localShare: number;
  readonly usesPerLease: number;
} = Object.freeze({
  leaseMs: 30_000,
  pollIntervalMs: 1_000,
  clock: systemClock,
  commandTimeoutMs: 100,
  onBackendFailure: 'reject',
  localShare: 1,
  usesPerLease: 1,
});

/** Options with every default applied. @internal */
export interface RedisBulkheadSettings {
  readonly name: string;
  readonly maxConcurrent: number;
  readonly leaseMs: number;
  readonly renewMs: number;
  readonly pollIntervalMs: number;
  readonly subscriber: RedisSubscriberLike | undefined;
  readonly clock: Clock;
  readonly onLeaseLost: ((leaseId: string) => void) | undefined;
  readonly commandTimeoutMs: number;
  readonly onBackendFailure: BackendFailureMode;
  /** `onBackendFailure: 'local'`: the in-process bulkhead's permits. */
  readonly localMaxConcurrent: number;
  readonly onBackendTransition: ((transition: BackendTransition) => void) | undefined;
  readonly usesPerLease: number;
}

/** A bound that no sensible setting reaches, so a typo (1e9) is an error, not a permit kept for hours. */
const MAX_USES_PER_LEASE = 1_000_000;

const FAILURE_MODES: readonly BackendFailureMode[] = ['reject', 'allow', 'local'];

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  return value === null ? 'null' : typeof value;
}

const KNOWN_OPTIONS = new Set([
  'name',
  'maxConcurrent',
  'leaseMs',
  'renewMs',
  'pollIntervalMs',
  'subscriber',
  'clock',
  'onLeaseLost',
  'commandTimeoutMs',
  'onBackendFailure',
  'localShare',
  'onBackendTransition',
  'usesPerLease',
]);

/**
 * Validates the state's options once: errors name the factory, the bulkhead, the option and the
 * value (`redisBulkhead "db": renewMs must be < leaseMs (900), got 1000`).
 *
 * @internal
 */
export function resolveRedisBulkheadSettings(
  factory: string,
  options: RedisBulkheadStateOptions,
): RedisBulkheadSettings {
  if (typeof options !== 'object' || (options as RedisBulkheadStateOptions | null) === null) {
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
  const integer = (option: string, value: unknown, min: number, max: number): number => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new TypeError(`${label}: ${option} must be an integer, got ${describe(value)}`);
    }
    if (value < min || value > max) {
      throw new RangeError(`${label}: ${option} must be in [${min}, ${max}], got ${value}`);
    }
    return value;
  };
  const maxConcurrent = integer('maxConcurrent', options.maxConcurrent, 1, 2 ** 31 - 1);
  const leaseMs = integer(
    'leaseMs',
    options.leaseMs ?? REDIS_BULKHEAD_DEFAULTS.leaseMs,
    10,
    MAX_TIMER_DELAY_MS,
  );
  const renewMs = integer('renewMs', options.renewMs ?? Math.floor(leaseMs / 3), 1, MAX_TIMER_DELAY_MS);
  if (renewMs >= leaseMs) {
    throw new RangeError(`${label}: renewMs must be < leaseMs (${leaseMs}), got ${renewMs}`);
  }
  const pollIntervalMs = integer(
    'pollIntervalMs',
    options.pollIntervalMs ?? REDIS_BULKHEAD_DEFAULTS.pollIntervalMs,
    1,
    MAX_TIMER_DELAY_MS,
  );
  const clock = options.clock ?? REDIS_BULKHEAD_DEFAULTS.clock;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function') {
    throw new TypeError(`${label}: clock must be a Clock, got ${describe(clock)}`);
  }
  const { subscriber, onLeaseLost } = options;
  if (subscriber !== undefined && typeof subscriber.subscribe !== 'function') {
    throw new TypeError(`${label}: subscriber must be a Redis connection, got ${describe(subscriber)}`);
  }
  if (onLeaseLost !== undefined && typeof onLeaseLost !== 'function') {
    throw new TypeError(`${label}: onLeaseLost must be a function, got ${describe(onLeaseLost)}`);
  }
  // Read as unknown: the options come from JavaScript callers too.
  const raw: { readonly [TOption in keyof RedisBulkheadStateOptions]?: unknown } = options;
  const commandTimeoutMs = raw.commandTimeoutMs ?? REDIS_BULKHEAD_DEFAULTS.commandTimeoutMs;
  if (typeof commandTimeoutMs !== 'number') {
    throw new TypeError(`${label}: commandTimeoutMs must be a number, got ${describe(commandTimeoutMs)}`);
  }
  if (!(commandTimeoutMs > 0 && commandTimeoutMs <= MAX_TIMER_DELAY_MS)) {
    throw new RangeError(
      `${label}: commandTimeoutMs must be in (0, ${MAX_TIMER_DELAY_MS}], got ${commandTimeoutMs}`,
    );
  }
  const onBackendFailure = raw.onBackendFailure ?? REDIS_BULKHEAD_DEFAULTS.onBackendFailure;
  const mode = FAILURE_MODES.find((candidate) => candidate === onBackendFailure);
  if (mode === undefined) {
    throw new TypeError(
      `${label}: onBackendFailure must be one of "reject", "allow", "local", got ${describe(onBackendFailure)}`,
    );
  }
  const localShare = raw.localShare ?? REDIS_BULKHEAD_DEFAULTS.localShare;
  if (typeof localShare !== 'number') {
    throw new TypeError(`${label}: localShare must be a number, got ${describe(localShare)}`);
  }
  if (!(localShare > 0 && localShare <= 1)) {
    throw new RangeError(`${label}: localShare must be in (0, 1], got ${localShare}`);
  }
  const { onBackendTransition } = options;
  if (onBackendTransition !== undefined && typeof onBackendTransition !== 'function') {
    throw new TypeError(
      `${label}: onBackendTransition must be a function, got ${describe(onBackendTransition)}`,
    );
  }
  const usesPerLease = integer(
    'usesPerLease',
    options.usesPerLease ?? REDIS_BULKHEAD_DEFAULTS.usesPerLease,
    1,
    MAX_USES_PER_LEASE,
  );
  return Object.freeze({
    name,
    maxConcurrent,
    leaseMs,
    renewMs,
    pollIntervalMs,
    subscriber,
    clock,
    onLeaseLost,
    commandTimeoutMs,
    onBackendFailure: mode,
    localMaxConcurrent: Math.max(1, Math.floor(maxConcurrent * localShare)),
    onBackendTransition,
    usesPerLease,
  });
}
