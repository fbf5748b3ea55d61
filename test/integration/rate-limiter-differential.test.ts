/**
 * Differential test: the TypeScript algorithms (through the memory state) and the Lua scripts get
 * identical random sequences of decisions and refunds, with explicit `nowMs`, and must answer
 * identically, field by field, for every algorithm. Each decision runs three ways: the memory
 * state, the Redis state (one request, one limit: the algorithm's lean script
 * `rate-limiter/acquire-<algorithm>`, or `rate-limiter/acquire` for the sliding-window log), and
 * `rate-limiter/acquire` called directly with one request on keys of its own (the general script's
 * path for batches and several limits).
 *
 * The sliding window counter's refund has a branch the random sequences reach only by luck: the
 * units the current window does not hold are taken from the previous one. Its own tests below
 * reach it on every run and compare the stored states as well as the decisions.
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
  type AlgorithmParameters,
  type RateLimitAlgorithm,
  type RateLimitAlgorithmName,
  type RateLimitStateDecision,
  type RateLimiterConfig,
  type SlidingWindowCounterState,
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

/** What the differential test drives: a limiter's decisions and refunds at explicit times. */
interface DifferentialSubject {
  tryAcquire(request: {
    key: string;
    cost: number;
    nowMs: number;
    maxDelayMs: number;
  }): Promise<RateLimitStateDecision>;
  refund(request: { key: string; cost: number; nowMs: number }): Promise<void>;
}

/**
 * `rate-limiter/acquire` and `rate-limiter/refund` called directly for one limit, one request at a
 * time: the general script's answers to the same sequence, on keys of their own.
 */
function generalScript(config: RateLimiterConfig): DifferentialSubject {
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

/** Whether the options schema accepts these parameters (2^52 for every scaled quantity). */
function isAcceptedByOptions(parameters: AlgorithmParameters): boolean {
  const derived = deriveAlgorithmConfig(parameters);
  return (
    Math.max(derived.capacity + derived.limit, derived.limit) * derived.unitScaled <= 2 ** 52 &&
    derived.limit * derived.intervalMs <= 2 ** 52
  );
}

function limiterConfig(parameters: AlgorithmParameters): RateLimiterConfig {
  limiterCount++;
  return {
    ...deriveAlgorithmConfig(parameters),
    name: `differential-${RUN_ID}-${limiterCount}`,
    algorithm: parameters.algorithm,
    maxKeys: 100,
    clock: systemClock,
  };
}

/**
 * One limiter three ways: the memory state (the TypeScript), the Redis state (the lean script, or
 * the general one for the sliding-window log) and the general script called directly. Every
 * decision must be the same in all three; it is returned.
 */
function differentialLimiter(config: RateLimiterConfig): DifferentialSubject {
  const memory = memoryRateLimiterState(config);
  const redis = new RedisRateLimiterState(client, config, { commandTimeoutMs: 60_000 });
  const general = generalScript(config);
  return {
    async tryAcquire(request) {
      const expected = memory.tryAcquire(request);
      const { source, ...actual } = await redis.tryAcquire(request);
      expect(source).toBe('redis');
      expect(actual).toEqual(expected);
      expect(await general.tryAcquire(request)).toEqual(expected);
      return expected;
    },
    async refund(request) {
      memory.refund(request);
      await redis.refund(request);
      await general.refund(request);
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
        fc.pre(isAcceptedByOptions(parameters));
        const config = limiterConfig(parameters);
        const limiter = differentialLimiter(config);
        let nowMs = startMs;
        for (const operation of operations) {
          nowMs += operation.stepMs;
          const cost = 1 + (operation.costSeed % Math.min(config.maxCost, 10));
          if (operation.isRefund) {
            await limiter.refund({ key: operation.key, cost, nowMs });
            continue;
          }
          const maxDelayMs = algorithm === 'leaky-bucket' ? operation.maxDelayMs : 0;
          await limiter.tryAcquire({ key: operation.key, cost, nowMs, maxDelayMs });
        }
      }),
      { numRuns: 40 },
    );
  });
});

/**
 * What both Redis paths store for a sliding-window-counter key: the Redis state's key (the lean
 * script's) and the general script's, each "<start>:<count>:<prev>", or null once deleted.
 */
async function storedSlidingWindowCounterStates(
  config: RateLimiterConfig,
  key: string,
): Promise<(string | null)[]> {
  const keys = [
    ...new RedisKeyspace({ pattern: 'rate-limiter', name: config.name, parts: [config.algorithm] }).keysFor(
      key,
    ),
    ...new RedisKeyspace({
      pattern: 'rate-limiter',
      name: `${config.name}-general`,
      parts: ['state'],
    }).keysFor(key),
  ];
  return Promise.all(keys.map((stateKey) => client.get(stateKey)));
}

const slidingWindowCounter = rateLimitAlgorithms[
  'sliding-window-counter'
] as RateLimitAlgorithm<SlidingWindowCounterState>;

/** Window N starts at WINDOW_N_START_MS; limit 10 per 1000 ms. */
const WINDOW_N_START_MS = 1_700_000_000_000;

/**
 * `previous` admitted 100 ms into window N, `current` admitted and `refund` given back 200 ms into
 * window N + 1 (where the previous window weighs 800 / 1000), then a probe of cost 1 at that instant.
 */
const previousWindowRefunds = [
  {
    behaviour: 'takes the whole refund from the previous window when the current one holds nothing',
    previous: 6,
    current: 0,
    refund: 4,
    state: `${WINDOW_N_START_MS + 1000}:0:2`,
    probeRemaining: 7,
  },
  {
    behaviour: 'takes from the previous window what the current one does not hold',
    previous: 6,
    current: 1,
    refund: 3,
    state: `${WINDOW_N_START_MS + 1000}:0:4`,
    probeRemaining: 5,
  },
  {
    behaviour: 'empties both windows, and deletes the key, when the refund exceeds what they hold',
    previous: 3,
    current: 2,
    refund: 8,
    state: null,
    probeRemaining: 9,
  },
  {
    behaviour: 'leaves the previous window alone when the current one holds the refund',
    previous: 6,
    current: 4,
    refund: 3,
    state: `${WINDOW_N_START_MS + 1000}:1:6`,
    probeRemaining: 3,
  },
];

describe('sliding-window-counter refund: TypeScript and Lua', () => {
  it.each(previousWindowRefunds)(
    '$behaviour',
    async ({ previous, current, refund, state, probeRemaining }) => {
      const config = limiterConfig({ algorithm: 'sliding-window-counter', limit: 10, intervalMs: 1000 });
      const limiter = differentialLimiter(config);
      const key = 'k';
      const first = await limiter.tryAcquire({
        key,
        cost: previous,
        nowMs: WINDOW_N_START_MS + 100,
        maxDelayMs: 0,
      });
      expect(first.allowed).toBe(true);
      const nowMs = WINDOW_N_START_MS + 1000 + 200;
      if (current > 0) {
        const second = await limiter.tryAcquire({ key, cost: current, nowMs, maxDelayMs: 0 });
        expect(second.allowed).toBe(true);
      }
      await limiter.refund({ key, cost: refund, nowMs });
      expect(await storedSlidingWindowCounterStates(config, key)).toEqual([state, state]);
      const probe = await limiter.tryAcquire({ key, cost: 1, nowMs, maxDelayMs: 0 });
      expect(probe).toMatchObject({ allowed: true, remaining: probeRemaining });
    },
  );

  it('agree when a refund in window N + 1 reaches back into window N, on random limits and instants', async () => {
    const sequence = fc.record({
      limit: fc.oneof(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 1_000_000 })),
      intervalMs: fc.oneof(
        fc.integer({ min: 1, max: 3000 }),
        fc.constantFrom(1000, 60_000, 3_600_000, 365 * 24 * 3600 * 1000),
      ),
      startMs: fc.oneof(fc.constant(1_700_000_000_000), fc.integer({ min: 0, max: 2 ** 42 })),
      previous: fc.array(fc.record({ offsetSeed: fc.nat(), costSeed: fc.nat() }), {
        minLength: 1,
        maxLength: 5,
      }),
      offsetSeed: fc.nat(),
      currentSeed: fc.nat(),
      refundSeed: fc.nat(),
      laterSeed: fc.nat(),
    });
    await fc.assert(
      fc.asyncProperty(sequence, async (draw) => {
        const { limit, intervalMs: windowMs } = draw;
        const parameters = { algorithm: 'sliding-window-counter', limit, intervalMs: windowMs } as const;
        fc.pre(isAcceptedByOptions(parameters));
        const config = limiterConfig(parameters);
        const limiter = differentialLimiter(config);
        const key = 'k';
        // The TypeScript algorithm alone, to know what each window holds before the refund.
        let shadow: SlidingWindowCounterState | undefined;
        const acquire = async (cost: number, nowMs: number): Promise<void> => {
          await limiter.tryAcquire({ key, cost, nowMs, maxDelayMs: 0 });
          shadow = slidingWindowCounter.decide(shadow, cost, nowMs, config, 0).state;
        };

        // Window N: the first call fits an empty window, so N ends with a count above 0.
        const windowStartMs = Math.floor(draw.startMs / windowMs) * windowMs;
        const previous = draw.previous
          .map(({ offsetSeed, costSeed }) => ({
            offsetMs: offsetSeed % windowMs,
            cost: 1 + (costSeed % limit),
          }))
          .sort((a, b) => a.offsetMs - b.offsetMs);
        for (const { offsetMs, cost } of previous) await acquire(cost, windowStartMs + offsetMs);

        // Window N + 1: less than `limit` taken, then a refund of more than the window holds.
        const nextWindowStartMs = windowStartMs + windowMs;
        const nowMs = nextWindowStartMs + (draw.offsetSeed % windowMs);
        const current = draw.currentSeed % limit;
        if (current > 0) await acquire(current, nowMs);
        if (shadow === undefined) throw new Error('window N admitted nothing');
        const before =
          shadow.windowStartMs === nextWindowStartMs
            ? shadow
            : { windowStartMs: nextWindowStartMs, count: 0, previousCount: shadow.count };
        expect(before.previousCount).toBeGreaterThan(0);
        const cost = before.count + 1 + (draw.refundSeed % (limit - before.count));
        await limiter.refund({ key, cost, nowMs });
        const after = slidingWindowCounter.refund(shadow, cost, nowMs, config);
        // The branch under test: the previous window gave units back.
        expect(after.count).toBe(0);
        expect(after.previousCount).toBeLessThan(before.previousCount);
        const expected =
          slidingWindowCounter.expiresAtMs(after, config) > nowMs
            ? `${after.windowStartMs}:${after.count}:${after.previousCount}`
            : null;
        expect(await storedSlidingWindowCounterStates(config, key)).toEqual([expected, expected]);

        // Decisions that weigh what is left of window N: now, later in N + 1, and in N + 2.
        const probe = { key, cost: 1, maxDelayMs: 0 };
        await limiter.tryAcquire({ ...probe, nowMs });
        await limiter.tryAcquire({
          ...probe,
          nowMs: nowMs + (draw.laterSeed % (nextWindowStartMs + windowMs - nowMs)),
        });
        await limiter.tryAcquire({
          ...probe,
          nowMs: nextWindowStartMs + windowMs + (draw.laterSeed % windowMs),
        });
      }),
      { numRuns: 40 },
    );
  });
});
