/**
 * The Redis retry budget: the Lua scripts against the TypeScript algorithm (the local budget) on
 * random sequences with explicit `nowMs` (fast-check), and two budgets on two connections sharing
 * one budget.
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { redisRetryBudget } from '@hyx/distributed';
import { RetryExhaustedError, retry, retryBudget } from '@hyx/local';

import { startRedis, type RedisServer } from '../support/redis-harness.js';

const RUN_ID = Math.random().toString(36).slice(2, 8);
let server: RedisServer;
let first: Redis;
let second: Redis;
let budgetCount = 0;

beforeAll(async () => {
  server = await startRedis();
  first = server.connect();
  second = server.connect();
});
afterAll(async () => {
  await server.stop();
});

const newName = (): string => `budget-${RUN_ID}-${++budgetCount}`;

/**
 * Windows of at least 10 s: the Redis hash expires 2 × windowMs of real time after its last write,
 * far beyond a run, so only the explicit `nowMs` moves the budget (as it moves the local one). The
 * floor is drawn as a reserve of 0 to 6 retries per window, so sequences of 60 steps spend it.
 */
const rule = fc
  .record({
    ratio: fc.oneof(
      fc.constantFrom(0, 0.1, 0.2, 0.5, 1),
      fc.double({ min: 0, max: 2, noNaN: true, noDefaultInfinity: true }),
    ),
    reserve: fc.oneof(
      fc.constantFrom(0, 1, 2.5),
      fc.double({ min: 0, max: 6, noNaN: true, noDefaultInfinity: true }),
    ),
    windowMs: fc.oneof(
      fc.constantFrom(10_000, 60_000),
      fc.integer({ min: 10_000, max: 600_000 }),
      fc.double({ min: 10_000, max: 100_000, noNaN: true, noDefaultInfinity: true }),
    ),
  })
  .map(({ ratio, reserve, windowMs }) => ({
    ratio,
    minRetriesPerSecond: (reserve * 1000) / windowMs,
    windowMs,
  }));

const operations = fc.array(
  fc.record({
    isDeposit: fc.integer({ min: 0, max: 2 }).map((roll) => roll === 0),
    // Steps as fractions of the window: mostly small (the budget is spent within a window), some
    // across one or two windows, a few back (a clock that stepped back).
    stepFraction: fc.oneof(
      { arbitrary: fc.constant(0), weight: 3 },
      { arbitrary: fc.double({ min: 0, max: 0.05, noNaN: true }), weight: 4 },
      { arbitrary: fc.double({ min: 0, max: 2.5, noNaN: true }), weight: 1 },
      { arbitrary: fc.double({ min: -0.3, max: 0, noNaN: true }), weight: 1 },
    ),
  }),
  { minLength: 1, maxLength: 60 },
);

describe('redisRetryBudget', () => {
  it('decides exactly as the TypeScript budget on random sequences of withdrawals and deposits', async () => {
    await fc.assert(
      fc.asyncProperty(
        rule,
        fc.integer({ min: 0, max: 2 ** 42 }),
        operations,
        async (parameters, startMs, steps) => {
          const local = retryBudget(parameters);
          const shared = redisRetryBudget(first, { name: newName(), ...parameters });
          let nowMs = startMs;
          for (const [index, step] of steps.entries()) {
            nowMs = Math.max(0, Math.round(nowMs + step.stepFraction * parameters.windowMs));
            if (step.isDeposit) {
              await shared.deposit(nowMs);
              await local.deposit(nowMs);
              continue;
            }
            const expected = await local.tryWithdraw(nowMs);
            const actual = await shared.tryWithdraw(nowMs);
            if (actual !== expected) {
              throw new Error(`step ${index} at ${nowMs}: Lua ${actual}, TypeScript ${expected}`);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('is one budget for two instances on two connections: a reserve of 10 is spent once, a deposit on one earns a retry on the other', async () => {
    const name = newName();
    const options = { name, ratio: 1, minRetriesPerSecond: 1, windowMs: 10_000 };
    const one = redisRetryBudget(first, options);
    const two = redisRetryBudget(second, options);
    const nowMs = 1_700_000_000_000;
    const answers: boolean[] = [];
    for (let index = 0; index < 12; index++) {
      answers.push(await (index % 2 === 0 ? one : two).tryWithdraw(nowMs));
    }
    expect(answers.filter(Boolean)).toHaveLength(10);
    expect(answers.slice(10)).toEqual([false, false]);
    await one.deposit(nowMs);
    await expect(two.tryWithdraw(nowMs)).resolves.toBe(true);
    await expect(one.tryWithdraw(nowMs)).resolves.toBe(false);
  });

  it('stops a retry policy on the server clock once the shared budget is spent', async () => {
    const budget = redisRetryBudget(first, { name: newName(), ratio: 0, minRetriesPerSecond: 0.1 });
    // A reserve of 0.1 × 10 s = 1 retry for the whole fleet.
    const failing = retry({ maxAttempts: 5, delay: () => 0, budget });
    let attempts = 0;
    const error = await failing
      .execute(() => {
        attempts++;
        throw new Error('down');
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RetryExhaustedError);
    expect((error as RetryExhaustedError).reason).toBe('budget');
    expect(attempts).toBe(2);
  });

  it('gives the window a TTL of 2 × windowMs', async () => {
    const name = newName();
    await redisRetryBudget(first, { name, windowMs: 10_000 }).deposit();
    const ttl = Number(await server.command('PTTL', `hyx:{${name}:}:retry-budget:window`));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(20_000);
  });
});
