/**
 * Differential test: the TypeScript algorithm (through the memory state) and the Lua scripts
 * (through the Redis state) get identical random sequences of admissions, outcomes, inspections,
 * isolations, resets, snapshots and restores, with explicit `nowMs`, and must answer identically:
 * every admission, every transition (reason, time, generation, open time), every metric.
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RedisCircuitBreakerState } from '@hyx/distributed';
import {
  memoryCircuitBreakerState,
  systemClock,
  type Admission,
  type CircuitBreakerSettings,
  type CircuitBreakerSnapshot,
  type CircuitBreakerState,
  type CircuitWindow,
} from '@hyx/local';

import { startRedis, type RedisServer } from '../support/redis-harness.js';

const RUN_ID = Math.random().toString(36).slice(2, 8);
const START_MS = 1_700_000_000_000;

let server: RedisServer;
let client: Redis;
let breakerCount = 0;

beforeAll(async () => {
  server = await startRedis();
  client = server.connect();
});
afterAll(async () => {
  client.disconnect();
  await server.stop();
});

const rate = fc.constantFrom(0.1, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1);

const windowArbitrary: fc.Arbitrary<CircuitWindow> = fc.oneof(
  fc.constant<CircuitWindow>({ kind: 'consecutive' }),
  fc.integer({ min: 1, max: 6 }).map((size): CircuitWindow => ({ kind: 'countWindow', size })),
  fc
    .record({ buckets: fc.integer({ min: 1, max: 5 }), bucketMs: fc.integer({ min: 1, max: 50 }) })
    .map(({ buckets, bucketMs }): CircuitWindow => ({
      kind: 'timeWindow',
      buckets,
      durationMs: buckets * bucketMs,
    })),
);

const settingsArbitrary: fc.Arbitrary<CircuitBreakerSettings> = fc
  .record({
    window: windowArbitrary,
    failureRate: fc.option(rate, { nil: undefined }),
    failureCount: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    slowCallRate: fc.option(rate, { nil: undefined }),
    slowCallDurationMs: fc.integer({ min: 1, max: 20 }),
    minimumCalls: fc.integer({ min: 1, max: 6 }),
    openDurationsMs: fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 3 }),
    permittedHalfOpenCalls: fc.integer({ min: 1, max: 3 }),
    maxHalfOpenWaitMs: fc.integer({ min: 1, max: 100 }),
    usesHealthCheck: fc.boolean(),
    isMetricsOnly: fc.boolean(),
  })
  .map((drawn): CircuitBreakerSettings => {
    const isConsecutive = drawn.window.kind === 'consecutive';
    const hasThreshold =
      drawn.failureRate !== undefined || drawn.failureCount !== undefined || drawn.slowCallRate !== undefined;
    return {
      ...drawn,
      name: 'differential',
      failureRate: isConsecutive ? undefined : hasThreshold ? drawn.failureRate : 0.5,
      failureCount: isConsecutive ? (drawn.failureCount ?? 3) : drawn.failureCount,
      slowCallRate: isConsecutive ? undefined : drawn.slowCallRate,
      minimumCalls:
        drawn.window.kind === 'consecutive'
          ? 1
          : drawn.window.kind === 'countWindow'
            ? Math.min(drawn.minimumCalls, drawn.window.size)
            : drawn.minimumCalls,
    };
  });

type Outcome = 'success' | 'failure' | 'ignored';

type Step =
  | { readonly op: 'call'; readonly kind: Outcome; readonly durationMs: number }
  | { readonly op: 'admit'; readonly purpose: 'call' | 'health-check' }
  | {
      readonly op: 'record';
      readonly pick: number;
      readonly kind: 'success' | 'failure' | 'ignored';
      readonly durationMs: number;
    }
  | { readonly op: 'inspect' }
  | { readonly op: 'isolate' }
  | { readonly op: 'release'; readonly pick: number }
  | { readonly op: 'reset' }
  | { readonly op: 'snapshot' }
  | { readonly op: 'restore' };

const stepArbitrary: fc.Arbitrary<{ readonly advanceMs: number; readonly step: Step }> = fc.record({
  advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 300 })),
  step: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        op: fc.constant('admit' as const),
        purpose: fc.constantFrom('call' as const, 'health-check' as const),
      }),
    },
    {
      weight: 10,
      arbitrary: fc.record({
        op: fc.constant('call' as const),
        kind: fc.constantFrom('success' as const, 'failure' as const, 'failure' as const, 'ignored' as const),
        durationMs: fc.integer({ min: 0, max: 30 }),
      }),
    },
    {
      weight: 6,
      arbitrary: fc.record({
        op: fc.constant('record' as const),
        pick: fc.nat(),
        kind: fc.constantFrom('success' as const, 'failure' as const, 'ignored' as const),
        durationMs: fc.integer({ min: 0, max: 30 }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ op: 'inspect' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'isolate' as const }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.constant({ op: 'reset' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'snapshot' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'restore' as const }) },
  ),
});

/** Runs one sequence against both states; returns nothing, fails on the first difference. */
async function runBoth(
  given: CircuitBreakerSettings,
  key: string,
  steps: readonly { readonly advanceMs: number; readonly step: Step }[],
): Promise<void> {
  // A name of its own for every run, shrinking runs included: Redis keeps what a run left.
  const settings = { ...given, name: `differential-${RUN_ID}-${++breakerCount}` };
  const memory: CircuitBreakerState = memoryCircuitBreakerState()(settings, { clock: systemClock });
  const redis = new RedisCircuitBreakerState(
    client,
    settings,
    { clock: systemClock },
    { commandTimeoutMs: 10_000 },
  );
  /** Admitted calls not yet recorded: the memory state's admission and the Redis state's. */
  const held: [Admission, Admission][] = [];
  const isolations: number[] = [];
  let saved: CircuitBreakerSnapshot | undefined;
  let nowMs = START_MS;
  for (const [index, { advanceMs, step }] of steps.entries()) {
    nowMs += advanceMs;
    const where = `step ${index} (${step.op}) at +${nowMs - START_MS} ms`;
    switch (step.op) {
      case 'call': {
        // Admitted and settled at once (the common case), as the shell does.
        const admittedByMemory = memory.admit(key, nowMs, 'call') as Admission;
        const admittedByRedis = await redis.admit(key, nowMs, 'call');
        expect(admittedByRedis, where).toEqual(admittedByMemory);
        if (!admittedByMemory.isAllowed) break;
        const outcome =
          step.kind === 'ignored'
            ? ({ kind: 'ignored' } as const)
            : { kind: step.kind, durationMs: step.durationMs };
        expect(await redis.record(key, outcome, admittedByRedis, nowMs), where).toEqual(
          await memory.record(key, outcome, admittedByMemory, nowMs),
        );
        break;
      }
      case 'admit': {
        const fromMemory = memory.admit(key, nowMs, step.purpose) as Admission;
        const fromRedis = await redis.admit(key, nowMs, step.purpose);
        expect(fromRedis, where).toEqual(fromMemory);
        if (fromMemory.isAllowed) held.push([fromMemory, fromRedis]);
        break;
      }
      case 'record': {
        if (held.length === 0) break;
        const [pair] = held.splice(step.pick % held.length, 1) as [[Admission, Admission]];
        const outcome =
          step.kind === 'ignored'
            ? ({ kind: 'ignored' } as const)
            : { kind: step.kind, durationMs: step.durationMs };
        const fromMemory = await memory.record(key, outcome, pair[0], nowMs);
        const fromRedis = await redis.record(key, outcome, pair[1], nowMs);
        expect(fromRedis, where).toEqual(fromMemory);
        break;
      }
      case 'inspect':
        expect(await redis.inspect(key, nowMs), where).toEqual(await memory.inspect(key, nowMs));
        break;
      case 'isolate': {
        const fromMemory = await memory.isolate(key, nowMs);
        expect(await redis.isolate(key, nowMs), where).toEqual(fromMemory);
        isolations.push(fromMemory.generation);
        break;
      }
      case 'release': {
        if (isolations.length === 0) break;
        const [generation] = isolations.splice(step.pick % isolations.length, 1) as [number];
        expect(await redis.releaseIsolation(key, generation, nowMs), where).toEqual(
          await memory.releaseIsolation(key, generation, nowMs),
        );
        break;
      }
      case 'reset':
        expect(await redis.reset(key, nowMs), where).toEqual(await memory.reset(key, nowMs));
        break;
      case 'snapshot': {
        const fromMemory = await memory.snapshot(key, nowMs);
        expect(await redis.snapshot(key, nowMs), where).toEqual(fromMemory);
        saved = fromMemory;
        break;
      }
      case 'restore':
        if (saved === undefined) break;
        expect(await redis.restore(key, saved, nowMs), where).toEqual(
          await memory.restore(key, saved, nowMs),
        );
        break;
    }
  }
  expect(await redis.snapshot(key, nowMs)).toEqual(await memory.snapshot(key, nowMs));
}

describe('circuit breaker: TypeScript algorithm vs Lua scripts', () => {
  it('decide identically on random sequences of every operation, for every window', async () => {
    await fc.assert(
      fc.asyncProperty(
        settingsArbitrary,
        fc.constantFrom('', 'user-1', 'a{b}:c'),
        fc.array(stepArbitrary, { minLength: 20, maxLength: 120, size: 'max' }),
        async (settings, key, steps) => {
          await runBoth(settings, key, steps);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('agree on a long failing-then-recovering run with a count window', async () => {
    const settings: CircuitBreakerSettings = {
      name: `differential-${RUN_ID}-long`,
      window: { kind: 'countWindow', size: 10 },
      failureRate: 0.5,
      failureCount: undefined,
      slowCallRate: 0.5,
      slowCallDurationMs: 10,
      minimumCalls: 5,
      openDurationsMs: [100, 200, 400],
      permittedHalfOpenCalls: 3,
      maxHalfOpenWaitMs: 150,
      usesHealthCheck: false,
      isMetricsOnly: false,
    };
    const steps = Array.from({ length: 400 }, (_, index) => ({
      advanceMs: index % 7,
      step:
        index % 2 === 0
          ? ({ op: 'admit', purpose: 'call' } as const)
          : ({
              op: 'record',
              pick: index,
              kind: index < 200 ? 'failure' : 'success',
              durationMs: index % 13,
            } as const),
    }));
    await runBoth(settings, 'long', steps);
  });
});
