import { describe, expect, it } from 'vitest';

import type { RedisLike } from '../redis-like.js';
import { redisRetryBudget } from './redis-retry-budget.js';

/** A Redis that fails every command, as one that is down does. */
const downRedis: RedisLike = {
  evalsha: () => Promise.reject(new Error('connect ECONNREFUSED')),
  eval: () => Promise.reject(new Error('connect ECONNREFUSED')),
};

describe('redisRetryBudget', () => {
  it.each([
    [{ name: '' }, TypeError, 'redisRetryBudget: name must be a non-empty string, got ""'],
    [{ name: 'p', ratio: -1 }, RangeError, 'redisRetryBudget "p": ratio must be >= 0, got -1'],
    [{ name: 'p', windowMs: 0 }, RangeError, 'redisRetryBudget "p": windowMs must be > 0, got 0'],
    [
      { name: 'p', minRetriesPerSecond: Number.NaN },
      TypeError,
      'redisRetryBudget "p": minRetriesPerSecond must be a finite number, got NaN',
    ],
    [
      { name: 'p', onBackendFailure: 'open' },
      TypeError,
      'redisRetryBudget "p": onBackendFailure must be one of "reject", "allow", "local", got "open"',
    ],
    [{ name: 'p', retries: 3 }, TypeError, 'redisRetryBudget "p": unknown option retries'],
  ])('rejects bad options at construction: %o', (options, type, message) => {
    expect(() => redisRetryBudget(downRedis, options as never)).toThrow(type);
    expect(() => redisRetryBudget(downRedis, options as never)).toThrow(message);
  });

  it('refuses a retry while Redis is down, by default', async () => {
    const budget = redisRetryBudget(downRedis, { name: 'p' });
    await expect(budget.tryWithdraw(0)).resolves.toBe(false);
    await expect(budget.deposit(0)).resolves.toBeUndefined();
  });

  it("allows every retry while Redis is down with onBackendFailure 'allow'", async () => {
    const budget = redisRetryBudget(downRedis, { name: 'p', onBackendFailure: 'allow' });
    await expect(budget.tryWithdraw(0)).resolves.toBe(true);
  });

  it("lets an in-process budget decide while Redis is down with onBackendFailure 'local': reserve 2, then a deposit earns one", async () => {
    const budget = redisRetryBudget(downRedis, {
      name: 'p',
      ratio: 1,
      minRetriesPerSecond: 1,
      windowMs: 2000,
      onBackendFailure: 'local',
    });
    const answers = [await budget.tryWithdraw(0), await budget.tryWithdraw(0), await budget.tryWithdraw(0)];
    expect(answers).toEqual([true, true, false]);
    await budget.deposit(0);
    await expect(budget.tryWithdraw(0)).resolves.toBe(true);
  });
});
