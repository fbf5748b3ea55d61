/**
 * Differential test: the TypeScript algorithms (through the memory state) and the Lua scripts get
 * identical random sequences of decisions and refunds, with explicit `nowMs`, and must answer
 * identically, field by field, for every algorithm. Each decision runs three ways: the memory
 * state, the Redis state (one request, one limit: the algorithm's lean script
 * `rate-limiter/acquire-<algorithm>`, or `rate-limiter/acquire` for the sliding-window log), and
 * `rate-limiter/acquire` called directly with one request on keys of its own (the general script's
 * path for batches and several limits).
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LUA_SCRIPTS, LuaScript, RedisKeyspace, RedisRateLimiterState, integerReply } from '@hyx/distributed';
import {
  deriveAlgorithmConfig,
  memoryRateLimiterState,
  rateLimitAlgorithms,
  systemClock,
  type RateLimitAlgorithmName,
  type RateLimitStateDecision,
  type RateLimiterConfig,
} from '@hyx/local';

import { startRedis, type RedisServer } from '../support/redis-harness.js';

const ALGORITHMS = Object.keys(rateLimitAlgorithms) as RateLimitAlgorithmName[];
const RUN_ID = Math.random().toString(36).slice(2, 8);

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

const generalAcquire = new LuaScript({
  ...LUA_SCRIPTS['rate-limiter/acquire'],
  decode: (reply) => (reply as unknown[]).map(integerReply),
});
const generalRefund = new LuaScript({ ...LUA_SCRIPTS['rate-limiter/refund'], decode: integerReply });

/**
 * `rate-limiter/acquire` and `rate-limiter/refund` called directly for one limit, one request at a
 * time: the general script's answers to the same sequence, on keys of their own.
 */
function generalScript(config: RateLimiterConfig): {
  tryAcquire(request: {
    key: string;
    cost: number;
    nowMs: number;
    maxDelayMs: number;
  }): Promise<RateLimitStateDecision>;
  refund(request: { key: string; cost: number; nowMs: number }): Promise<void>;
} {
  const hasLog = config.algorithm === 'sliding-window-log';
  const keyspace = new RedisKeyspace({
    pattern: 'rate-limiter',
    name: `${config.name}-general`,
    parts: hasLog ? ['state', 'log'] : ['state'],
  });
  const limitArgs = [config.limit, config.intervalMs, config.capacity, config.unitScaled, config.msScaled];
  return {
    async tryAcquire({ key, cost, nowMs, maxDelayMs }) {
      const [allowed, limit, remaining, retryAfterMs, resetAfterMs, delayMs] = await generalAcquire.run(
        client,
        keyspace.keysFor(key),
        [nowMs, config.algorithm, 1, ...limitArgs, cost, maxDelayMs],
      );
      return {
        allowed: allowed === 1,
        limit: limit ?? NaN,
        remaining: remaining ?? NaN,
        retryAfterMs: retryAfterMs ?? NaN,
        resetAfterMs: resetAfterMs ?? NaN,
        delayMs: delayMs ?? NaN,
      };
    },
    async refund({ key, cost, nowMs }) {
      await generalRefund.run(client, keyspace.keysFor(key), [nowMs, config.algorithm, cost, ...limitArgs]);
    },
  };
}

const scenario = fc.record({
  limit: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 1_000_000 })),
  intervalMs: fc.oneof(
    fc.integer({ min: 1, max: 3000 }),
    fc.constantFrom(1000, 60_000, 3_600_000, 365 * 24 * 3600 * 1000),
  ),
  extra: fc.integer({ min: 0, max: 8 }),
  startMs: fc.oneof(fc.constant(1_700_000_000_000), fc.integer({ min: 0, max: 2 ** 42 })),
  operations: fc.array(
    fc.record({
      isRefund: fc.integer({ min: 0, max: 4 }).map((roll) => roll === 0),
      stepMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 5000 })),
      key: fc.constantFrom('x', 'y', '{z}'),
      costSeed: fc.nat(),
      maxDelayMs: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 0, max: 5000 }),
        fc.constant(Number.MAX_SAFE_INTEGER),
      ),
    }),
    { minLength: 1, maxLength: 40 },
  ),
});

describe.each(ALGORITHMS)('%s: TypeScript and Lua', (algorithm) => {
  it('make identical decisions and refunds on random sequences', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ limit, intervalMs, extra, startMs, operations }) => {
        const withBurst = algorithm === 'token-bucket' || algorithm === 'gcra';
        const parameters = {
          algorithm,
          limit,
          intervalMs,
          ...(withBurst ? { burst: 1 + extra } : {}),
          ...(algorithm === 'leaky-bucket' ? { queueSize: extra } : {}),
        };
        const derived = deriveAlgorithmConfig(parameters);
        // Stay within what the options schema accepts (2^52 for every scaled quantity).
        fc.pre(Math.max(derived.capacity + derived.limit, derived.limit) * derived.unitScaled <= 2 ** 52);
        fc.pre(derived.limit * derived.intervalMs <= 2 ** 52);
        limiterCount++;
        const config: RateLimiterConfig = {
          ...derived,
          name: `differential-${RUN_ID}-${limiterCount}`,
          algorithm,
          maxKeys: 100,
          clock: systemClock,
        };
        const memory = memoryRateLimiterState(config);
        const redis = new RedisRateLimiterState(client, config, { commandTimeoutMs: 60_000 });
        const general = generalScript(config);
        let nowMs = startMs;
        for (const operation of operations) {
          nowMs += operation.stepMs;
          const cost = 1 + (operation.costSeed % Math.min(config.maxCost, 10));
          if (operation.isRefund) {
            memory.refund({ key: operation.key, cost, nowMs });
            await redis.refund({ key: operation.key, cost, nowMs });
            await general.refund({ key: operation.key, cost, nowMs });
            continue;
          }
          const maxDelayMs = algorithm === 'leaky-bucket' ? operation.maxDelayMs : 0;
          const request = { key: operation.key, cost, nowMs, maxDelayMs };
          const expected = memory.tryAcquire(request);
          const { source, ...actual } = await redis.tryAcquire(request);
          expect(source).toBe('redis');
          expect(actual).toEqual(expected);
          expect(await general.tryAcquire(request)).toEqual(expected);
        }
      }),
      { numRuns: 40 },
    );
  });
});
