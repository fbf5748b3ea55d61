import { retryBudget, type RetryBudget } from '@hyx/local';

import { LUA_SCRIPTS } from '../lua.generated.js';
import { integerReply } from '../lua-reply.js';
import { LuaScript } from '../lua-script.js';
import { checkRedisClient, factoryLabel } from '../redis-client.js';
import { RedisKeyspace } from '../redis-keys.js';
import type { RedisLike } from '../redis-like.js';
import {
  resolveRedisRetryBudgetSettings,
  type RedisRetryBudgetOptions,
  type RedisRetryBudgetSettings,
} from './redis-retry-budget-options.js';

const withdrawScript = new LuaScript<boolean>({
  ...LUA_SCRIPTS['retry-budget/withdraw'],
  decode: (reply) => {
    const flag = integerReply(reply);
    if (flag !== 0 && flag !== 1) throw new TypeError(`expected 0 or 1, got ${flag}`);
    return flag === 1;
  },
});

const depositScript = new LuaScript<number>({
  ...LUA_SCRIPTS['retry-budget/deposit'],
  decode: (reply) => integerReply(reply),
});

/** The budget in Redis: one hash, one script per withdrawal or deposit. */
class RedisRetryBudget implements RetryBudget {
  readonly #redis: RedisLike;
  readonly #settings: RedisRetryBudgetSettings;
  readonly #key: string;
  /** The in-process twin of `onBackendFailure: 'local'`. */
  readonly #local: RetryBudget | undefined;

  constructor(redis: RedisLike, settings: RedisRetryBudgetSettings) {
    this.#redis = redis;
    this.#settings = settings;
    this.#key = new RedisKeyspace({ pattern: 'retry-budget', name: settings.name, parts: ['window'] }).keyFor(
      '',
      'window',
    );
    const { ratio, minRetriesPerSecond, windowMs, clock } = settings;
    this.#local =
      settings.onBackendFailure === 'local'
        ? retryBudget({ ratio, minRetriesPerSecond, windowMs, clock })
        : undefined;
  }

  async tryWithdraw(nowMs?: number): Promise<boolean> {
    const { ratio, minRetriesPerSecond, windowMs, onBackendFailure } = this.#settings;
    try {
      return await withdrawScript.run(
        this.#redis,
        [this.#key],
        [ratio, minRetriesPerSecond, windowMs, nowMs ?? ''],
      );
    } catch {
      if (this.#local !== undefined) return this.#local.tryWithdraw(nowMs);
      return onBackendFailure === 'allow';
    }
  }

  async deposit(nowMs?: number): Promise<void> {
    try {
      await depositScript.run(this.#redis, [this.#key], [this.#settings.windowMs, nowMs ?? '']);
    } catch {
      // A success that could not be counted only makes the budget a little stricter.
      await this.#local?.deposit(nowMs);
    }
  }
}

/**
 * A retry budget shared by every process that uses the same `name` on the same Redis (or Redis
 * Cluster): the local `retryBudget`'s algorithm (docs/algorithms.md, "Retry budget") as one Lua
 * script per withdrawal and per deposit, on the Redis server's clock. Over a sliding window of
 * `windowMs`, the whole fleet may retry `ratio` × its successful calls plus `minRetriesPerSecond`
 * per second, so a fleet cannot multiply an outage with retries. Pass it as a retry policy's
 * `budget`; when Redis fails, `onBackendFailure` decides.
 *
 * @param redis - an ioredis `Redis` or `Cluster`; hyx only sends EVALSHA/EVAL on it
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { retry } from '@hyx/local';
 * import { redisRetryBudget } from '@hyx/distributed';
 * const redis = new Redis({ host: '127.0.0.1', port: 6380 });
 * const budget = redisRetryBudget(redis, { name: 'payments', ratio: 0.1, minRetriesPerSecond: 5 });
 * const payments = retry({ name: 'payments', maxAttempts: 4, budget });
 * await payments.execute(() => 'charged');
 * ```
 */
export function redisRetryBudget(redis: RedisLike, options: RedisRetryBudgetOptions): RetryBudget {
  checkRedisClient(factoryLabel('redisRetryBudget', options), redis);
  return new RedisRetryBudget(redis, resolveRedisRetryBudgetSettings(options));
}
