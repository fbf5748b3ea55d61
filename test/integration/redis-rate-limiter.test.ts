/**
 * The Redis rate limiter's own features on a harness-started Redis: several limits taken
 * all-or-nothing in one script call, and request batching (the requests of one tick for one key in
 * one script call, decided in order). Both are checked against the TypeScript algorithms.
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  RedisRateLimiterState,
  redisRateLimiter,
  type AdditionalRateLimit,
  type LuaArgument,
  type RedisLike,
} from '@hyx/distributed';
import {
  deriveAlgorithmConfig,
  memoryRateLimiterState,
  rateLimitAlgorithms,
  systemClock,
  type AlgorithmConfig,
  type RateLimitAlgorithmName,
  type RateLimiterConfig,
  type RateLimitStateDecision,
} from '@hyx/local';

import { startRedis, type RedisServer } from '../support/redis-harness.js';

const RUN_ID = Math.random().toString(36).slice(2, 8);
const START_MS = 1_700_000_000_000;
const ALGORITHMS = Object.keys(rateLimitAlgorithms) as RateLimitAlgorithmName[];
const MULTI_LIMIT_ALGORITHMS = ALGORITHMS.filter((algorithm) => algorithm !== 'leaky-bucket');

let server: RedisServer;
let client: Redis;
let limiterCount = 0;

beforeAll(async () => {
  server = await startRedis();
  client = server.connect();
});
afterAll(async () => {
  await server.stop();
});

/** The client, counting the script calls that reach it. */
function counting(): { readonly redis: RedisLike; readonly calls: () => number } {
  let calls = 0;
  return {
    redis: {
      evalsha: (sha1: string, numkeys: number, ...rest: LuaArgument[]) => {
        calls++;
        return client.evalsha(sha1, numkeys, ...rest);
      },
      eval: (source: string, numkeys: number, ...rest: LuaArgument[]) =>
        client.eval(source, numkeys, ...rest),
    },
    calls: () => calls,
  };
}

function configOf(
  algorithm: RateLimitAlgorithmName,
  limits: { limit: number; intervalMs: number; burst?: number },
): RateLimiterConfig {
  limiterCount++;
  return {
    ...deriveAlgorithmConfig({ algorithm, ...limits }),
    name: `features-${RUN_ID}-${limiterCount}`,
    algorithm,
    maxKeys: 100,
    clock: systemClock,
  };
}

describe('multi-limit all-or-nothing', () => {
  it('takes from every limit or from none (2 per second and 3 per minute)', async () => {
    const config = configOf('token-bucket', { limit: 2, intervalMs: 1000 });
    const state = new RedisRateLimiterState(client, config, {
      additionalLimits: [{ limit: 3, intervalMs: 60_000 }],
    });
    const at = async (ms: number) => state.tryAcquire({ key: 'k', cost: 1, nowMs: START_MS + ms });
    expect(await at(0)).toMatchObject({ allowed: true, remaining: 1 });
    expect(await at(0)).toMatchObject({ allowed: true, remaining: 0 });
    // Denied by the per-second limit: the per-minute one keeps its last unit...
    expect(await at(0)).toMatchObject({ allowed: false, retryAfterMs: 500 });
    // ...so a second later the third request of the minute passes.
    expect(await at(1000)).toMatchObject({ allowed: true, remaining: 0 });
    // Denied by the per-minute limit (one unit back every 20 s), with the per-second bucket full.
    expect(await at(2000)).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 18_000 });
    expect(await at(20_000)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('is offered by redisRateLimiter and refuses what it cannot do', async () => {
    const limiter = redisRateLimiter(client, {
      name: `features-${RUN_ID}-multi`,
      algorithm: 'gcra',
      limit: 10,
      intervalMs: 1000,
      additionalLimits: [{ limit: 1000, intervalMs: 3_600_000 }],
    });
    expect(await limiter.tryAcquire({ key: 'u', cost: 10 })).toMatchObject({
      allowed: true,
      source: 'redis',
    });
    const make =
      (algorithm: RateLimitAlgorithmName, additionalLimits: readonly AdditionalRateLimit[]) => () =>
        redisRateLimiter(client, { name: 'bad', algorithm, limit: 10, additionalLimits });
    expect(make('leaky-bucket', [{ limit: 100, intervalMs: 60_000 }])).toThrow(TypeError);
    expect(make('gcra', [{ limit: 5, intervalMs: 60_000 }])).toThrow(/largest cost/);
    expect(make('gcra', [{ limit: 0, intervalMs: 60_000 }])).toThrow(
      'redisRateLimiter "bad": additionalLimits[0].limit must be an integer >= 1, got 0',
    );
  });

  describe.each(MULTI_LIMIT_ALGORITHMS)('%s', (algorithm) => {
    it('decides as the TypeScript algorithms combined: allowed only when all allow, then all take', async () => {
      const scenario = fc.record({
        first: fc.record({
          limit: fc.integer({ min: 1, max: 5 }),
          intervalMs: fc.integer({ min: 1, max: 2000 }),
        }),
        second: fc.record({
          limit: fc.integer({ min: 5, max: 12 }),
          intervalMs: fc.integer({ min: 1, max: 9000 }),
        }),
        operations: fc.array(fc.record({ stepMs: fc.integer({ min: 0, max: 1500 }), costSeed: fc.nat() }), {
          minLength: 1,
          maxLength: 30,
        }),
      });
      await fc.assert(
        fc.asyncProperty(scenario, async ({ first, second, operations }) => {
          fc.pre(first.intervalMs !== second.intervalMs || first.limit !== second.limit);
          const config = configOf(algorithm, first);
          const other: AlgorithmConfig = deriveAlgorithmConfig({ algorithm, ...second });
          const state = new RedisRateLimiterState(client, config, { additionalLimits: [second] });
          const rules = rateLimitAlgorithms[algorithm];
          let states: [unknown, unknown] = [undefined, undefined];
          let nowMs = START_MS;
          for (const { stepMs, costSeed } of operations) {
            nowMs += stepMs;
            const cost = 1 + (costSeed % config.maxCost);
            // The sliding-window log updates its arrays in place: decide on copies.
            const a = rules.decide(structuredClone(states[0]), cost, nowMs, config, 0);
            const b = rules.decide(structuredClone(states[1]), cost, nowMs, other, 0);
            const allowed = a.decision.allowed && b.decision.allowed;
            if (allowed) states = [a.state, b.state];
            const tightest = b.decision.remaining < a.decision.remaining ? b.decision : a.decision;
            const denied = [a.decision, b.decision].filter((decision) => !decision.allowed);
            const expected = {
              allowed,
              limit: tightest.limit,
              remaining: tightest.remaining,
              retryAfterMs: Math.max(0, ...denied.map((decision) => decision.retryAfterMs)),
              resetAfterMs: Math.max(a.decision.resetAfterMs, b.decision.resetAfterMs),
              delayMs: 0,
            };
            const { source, ...actual } = await state.tryAcquire({ key: 'k', cost, nowMs });
            expect(source).toBe('redis');
            expect(actual).toEqual(expected);
          }
        }),
        { numRuns: 15 },
      );
    });
  });
});

describe('request batching', () => {
  it('merges the requests of one tick for one key into one script call, granted in order', async () => {
    const { redis, calls } = counting();
    const config = configOf('fixed-window', { limit: 5, intervalMs: 60_000 });
    const state = new RedisRateLimiterState(redis, config, { batching: true });
    await state.tryAcquire({ key: 'warm-up', cost: 1, nowMs: START_MS });
    const before = calls();
    const decisions = await Promise.all(
      Array.from({ length: 8 }, () => state.tryAcquire({ key: 'hot', cost: 1, nowMs: START_MS })),
    );
    expect(calls() - before).toBe(1);
    expect(decisions.map((decision) => [decision.allowed, decision.remaining])).toEqual([
      [true, 4],
      [true, 3],
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
      [false, 0],
      [false, 0],
    ]);
  });

  it('keeps one script call per key', async () => {
    const { redis, calls } = counting();
    const limiter = redisRateLimiter(redis, {
      name: `features-${RUN_ID}-batched`,
      limit: 100,
      intervalMs: 1000,
      batching: true,
    });
    await limiter.tryAcquire({ key: 'warm-up' });
    const before = calls();
    await Promise.all(['a', 'b', 'a', 'b', 'a'].map((key) => limiter.tryAcquire({ key })));
    expect(calls() - before).toBe(2);
  });

  it.each(ALGORITHMS)(
    '%s: decides a batch exactly as the same requests one after another',
    async (algorithm) => {
      const scenario = fc.record({
        limit: fc.integer({ min: 1, max: 6 }),
        intervalMs: fc.integer({ min: 1, max: 2000 }),
        rounds: fc.array(
          fc.record({
            stepMs: fc.integer({ min: 0, max: 1000 }),
            requests: fc.array(
              fc.record({ costSeed: fc.nat(), maxDelayMs: fc.integer({ min: 0, max: 2000 }) }),
              {
                minLength: 1,
                maxLength: 8,
              },
            ),
          }),
          { minLength: 1, maxLength: 5 },
        ),
      });
      await fc.assert(
        fc.asyncProperty(scenario, async ({ limit, intervalMs, rounds }) => {
          const config = configOf(algorithm, { limit, intervalMs });
          const memory = memoryRateLimiterState(config);
          const state = new RedisRateLimiterState(client, config, { batching: true });
          let nowMs = START_MS;
          for (const { stepMs, requests } of rounds) {
            nowMs += stepMs;
            const batch = requests.map(({ costSeed, maxDelayMs }) => ({
              key: 'k',
              cost: 1 + (costSeed % config.maxCost),
              nowMs,
              maxDelayMs: algorithm === 'leaky-bucket' ? maxDelayMs : 0,
            }));
            const expected = batch.map((request) => memory.tryAcquire(request));
            const actual: RateLimitStateDecision[] = await Promise.all(
              batch.map((request) => state.tryAcquire(request)),
            );
            expect(actual.map(({ source: _source, ...decision }) => decision)).toEqual(expected);
          }
        }),
        { numRuns: 15 },
      );
    },
  );
});
