/**
 * The behaviour every rate limiter state must give, written once and run against each state:
 *
 * ```ts
 * describeRateLimiterContract('memory', (config) => memoryRateLimiterState(config));
 * ```
 *
 * Most cases talk to the state port directly with an explicit `nowMs`, so a Redis state runs them
 * unchanged. The cases through the `rateLimiter` shell read time from a `FakeClock`, which the
 * factory receives as `config.clock`: a remote state must take its time from it when `nowMs` is not
 * given (the shell never passes `nowMs`, so that in production Redis can use its own `TIME`). Each
 * case uses a limiter name of its own, so states that share a server never see each other's keys.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';

import {
  RateLimitedError,
  deriveAlgorithmConfig,
  rateLimitAlgorithms,
  rateLimiter,
  type RateLimitAlgorithmName,
  type RateLimiterConfig,
  type RateLimiterState,
  type RateLimitStateDecision,
} from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

/** Builds the state under test for one limiter's config; may be async (a connection to open). */
export type RateLimiterStateMaker = (
  config: RateLimiterConfig,
) => RateLimiterState | Promise<RateLimiterState>;

/** Optional hooks around each test. */
export interface RateLimiterContractHooks {
  /** Runs after each test, e.g. to close a connection the factory opened. */
  readonly afterEach?: () => void | Promise<void>;
  /**
   * Resolves once the state's calls in flight have answered. The shell cases await it before they
   * move the `FakeClock`, so a networked state's decision lands (and the shell arms its timer) at
   * the fake instant the case means, whatever the network's latency.
   */
  readonly settle?: () => Promise<void>;
}

/** A realistic epoch time, a multiple of every interval the suite uses. */
const START_MS = 1_700_000_000_000;

const YEAR_MS = 365 * 24 * 3600 * 1000;

const ALGORITHMS = Object.keys(rateLimitAlgorithms) as RateLimitAlgorithmName[];

/** Makes every limiter name unique within a run, and across runs against one server. */
const RUN_ID = Math.random().toString(36).slice(2, 8);
let limiterCount = 0;

interface Limits {
  readonly algorithm: RateLimitAlgorithmName;
  readonly limit: number;
  readonly intervalMs: number;
  readonly burst?: number;
  readonly queueSize?: number;
}

function configOf(limits: Limits, clock: FakeClock): RateLimiterConfig {
  limiterCount++;
  return {
    ...deriveAlgorithmConfig(limits),
    name: `contract-${RUN_ID}-${limiterCount}`,
    algorithm: limits.algorithm,
    maxKeys: 10_000,
    clock,
  };
}

/** The fields a decision is compared on: every public one, and the leaky bucket's delay. */
function fieldsOf(decision: RateLimitStateDecision): RateLimitStateDecision {
  const { allowed, limit, remaining, retryAfterMs, resetAfterMs, delayMs } = decision;
  return { allowed, limit, remaining, retryAfterMs, resetAfterMs, delayMs };
}

/** One row per instant: [ms after START_MS, cost, allowed, remaining, retryAfterMs, resetAfterMs]. */
type Row = readonly [
  atMs: number,
  cost: number,
  allowed: boolean,
  remaining: number,
  retryAfterMs: number,
  resetAfterMs: number,
];

const TABLES: readonly { readonly limits: Limits; readonly rows: readonly Row[] }[] = [
  {
    limits: { algorithm: 'token-bucket', limit: 3, intervalMs: 1000 },
    rows: [
      [0, 1, true, 2, 0, 334],
      [0, 2, true, 0, 0, 1000],
      [0, 1, false, 0, 334, 1000],
      [333, 1, false, 0, 1, 667],
      [334, 1, true, 0, 0, 1000],
      [5000, 2, true, 1, 0, 667],
    ],
  },
  {
    limits: { algorithm: 'gcra', limit: 1, intervalMs: 100, burst: 5 },
    rows: [
      [0, 5, true, 0, 0, 500],
      [50, 1, false, 0, 50, 450],
      [100, 1, true, 0, 0, 500],
    ],
  },
  {
    limits: { algorithm: 'fixed-window', limit: 2, intervalMs: 1000 },
    rows: [
      [900, 2, true, 0, 0, 100],
      [999, 1, false, 0, 1, 1],
      [1000, 2, true, 0, 0, 1000],
      [1500, 1, false, 0, 500, 500],
    ],
  },
  {
    limits: { algorithm: 'sliding-window-counter', limit: 4, intervalMs: 1000 },
    rows: [
      [0, 4, true, 0, 0, 2000],
      [999, 1, false, 0, 251, 1001],
      [1249, 1, false, 0, 1, 751],
      [1250, 1, true, 0, 0, 1750],
      [1500, 2, false, 1, 250, 1500],
      [1750, 2, true, 0, 0, 1250],
    ],
  },
  {
    limits: { algorithm: 'sliding-window-log', limit: 3, intervalMs: 1000 },
    rows: [
      [0, 1, true, 2, 0, 1000],
      [400, 2, true, 0, 0, 1000],
      [500, 1, false, 0, 500, 900],
      [1000, 1, true, 0, 0, 1000],
      [1400, 3, false, 2, 600, 600],
      [1400, 2, true, 0, 0, 1000],
    ],
  },
  {
    limits: { algorithm: 'leaky-bucket', limit: 4, intervalMs: 1000, queueSize: 2 },
    rows: [
      [0, 1, true, 2, 0, 250],
      [0, 1, false, 2, 250, 250],
      [250, 2, true, 1, 0, 500],
      [500, 1, false, 2, 250, 250],
      [750, 1, true, 2, 0, 250],
    ],
  },
];

/**
 * Registers the rate limiter contract for one kind of state. `makeState` is called once per case
 * with that case's config.
 */
export function describeRateLimiterContract(
  label: string,
  makeState: RateLimiterStateMaker,
  hooks: RateLimiterContractHooks = {},
): void {
  describe(`rate limiter state contract: ${label}`, () => {
    if (hooks.afterEach !== undefined) afterEach(hooks.afterEach);

    async function advance(clock: FakeClock, ms: number): Promise<void> {
      await hooks.settle?.();
      await clock.advance(ms);
    }

    async function stateFor(limits: Limits, clock = new FakeClock(START_MS)) {
      const config = configOf(limits, clock);
      return { config, clock, state: await makeState(config) };
    }

    describe.each(TABLES)('$limits.algorithm', ({ limits, rows }) => {
      it('makes the documented decision at every instant of the table', async () => {
        const { state } = await stateFor(limits);
        const seen: Row[] = [];
        for (const [atMs, cost] of rows) {
          const decision = await state.tryAcquire({ key: 'k', cost, nowMs: START_MS + atMs });
          seen.push([
            atMs,
            cost,
            decision.allowed,
            decision.remaining,
            decision.retryAfterMs,
            decision.resetAfterMs,
          ]);
        }
        expect(seen).toEqual(rows);
      });

      it('limits each key on its own', async () => {
        const { state, config } = await stateFor(limits);
        const fill = config.algorithm === 'leaky-bucket' ? 1 : config.maxCost;
        await state.tryAcquire({ key: 'a', cost: fill, nowMs: START_MS });
        const other = await state.tryAcquire({ key: 'b', cost: fill, nowMs: START_MS });
        const again = await state.tryAcquire({ key: 'a', cost: fill, nowMs: START_MS });
        expect(other.allowed).toBe(true);
        expect(again.allowed).toBe(false);
      });

      it('gives a refunded unit back', async () => {
        const { state } = await stateFor(limits);
        const nowMs = START_MS + 100;
        const before = fieldsOf(await state.tryAcquire({ key: 'r', cost: 1, nowMs }));
        expect(before.allowed).toBe(true);
        await state.refund({ key: 'r', cost: 1, nowMs });
        const after = fieldsOf(await state.tryAcquire({ key: 'r', cost: 1, nowMs }));
        expect(after).toEqual(before);
      });

      it('treats a key as new once resetAfterMs has passed', async () => {
        const { state, config } = await stateFor(limits);
        const fresh = fieldsOf(await state.tryAcquire({ key: 'fresh', cost: 1, nowMs: START_MS }));
        const used = await state.tryAcquire({
          key: 'idle',
          cost: config.algorithm === 'leaky-bucket' ? 1 : config.maxCost,
          nowMs: START_MS,
        });
        const laterMs = START_MS + used.resetAfterMs;
        const freshLater = fieldsOf(await state.tryAcquire({ key: 'fresh-later', cost: 1, nowMs: laterMs }));
        expect(fieldsOf(await state.tryAcquire({ key: 'idle', cost: 1, nowMs: laterMs }))).toEqual(
          freshLater,
        );
        expect(freshLater).toEqual(fresh);
      });

      it('ignores a refund for a key it holds nothing for', async () => {
        const { state } = await stateFor(limits);
        await state.refund({ key: 'nobody', cost: 1, nowMs: START_MS });
        const decision = await state.tryAcquire({ key: 'nobody', cost: 1, nowMs: START_MS });
        const fresh = await state.tryAcquire({ key: 'somebody', cost: 1, nowMs: START_MS });
        expect(fieldsOf(decision)).toEqual(fieldsOf(fresh));
      });
    });

    describe.each(ALGORITHMS)('%s on random sequences', (algorithm) => {
      it('decides exactly as the algorithm documented in docs/algorithms.md', async () => {
        const scenario = fc.record({
          limit: fc.integer({ min: 1, max: 6 }),
          intervalMs: fc.integer({ min: 1, max: 2000 }),
          extra: fc.integer({ min: 0, max: 6 }),
          operations: fc.array(
            fc.record({
              stepMs: fc.oneof(
                fc.constant(0),
                fc.integer({ min: 0, max: 100 }),
                fc.integer({ min: 0, max: 3000 }),
              ),
              key: fc.constantFrom('x', 'y'),
              costSeed: fc.nat(),
              maxDelayMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 })),
            }),
            { minLength: 1, maxLength: 25 },
          ),
        });
        await fc.assert(
          fc.asyncProperty(scenario, async ({ limit, intervalMs, extra, operations }) => {
            const limits: Limits = {
              algorithm,
              limit,
              intervalMs,
              ...(algorithm === 'token-bucket' || algorithm === 'gcra' ? { burst: 1 + extra } : {}),
              ...(algorithm === 'leaky-bucket' ? { queueSize: extra } : {}),
            };
            const { state, config } = await stateFor(limits);
            // The reference: the pure algorithm, one state per key.
            const rules = rateLimitAlgorithms[algorithm];
            const expected = new Map<string, unknown>();
            let nowMs = START_MS;
            for (const operation of operations) {
              nowMs += operation.stepMs;
              const cost = 1 + (operation.costSeed % config.maxCost);
              const maxDelayMs = algorithm === 'leaky-bucket' ? operation.maxDelayMs : 0;
              const step = rules.decide(expected.get(operation.key), cost, nowMs, config, maxDelayMs);
              expected.set(operation.key, step.state);
              const decision = await state.tryAcquire({ key: operation.key, cost, nowMs, maxDelayMs });
              expect(fieldsOf(decision)).toEqual(fieldsOf(step.decision));
            }
          }),
          { numRuns: 25 },
        );
      });
    });

    it('schedules leaky-bucket callers at the next free slot while the queue has room', async () => {
      const { state } = await stateFor({
        algorithm: 'leaky-bucket',
        limit: 3,
        intervalMs: 1000,
        queueSize: 2,
      });
      const slots: [boolean, number, number][] = [];
      for (let caller = 0; caller < 4; caller++) {
        const decision = await state.tryAcquire({ key: 'q', cost: 1, nowMs: START_MS, maxDelayMs: 10_000 });
        slots.push([decision.allowed, decision.delayMs, decision.retryAfterMs]);
      }
      expect(slots).toEqual([
        [true, 0, 0],
        [true, 334, 0],
        [true, 667, 0],
        [false, 0, 334],
      ]);
    });

    it('handles a year-long interval exactly', async () => {
      const { state } = await stateFor({ algorithm: 'gcra', limit: 2, intervalMs: YEAR_MS });
      await state.tryAcquire({ key: 'y', cost: 2, nowMs: START_MS });
      const denied = await state.tryAcquire({ key: 'y', cost: 1, nowMs: START_MS + 1 });
      expect(fieldsOf(denied)).toEqual({
        allowed: false,
        limit: 2,
        remaining: 0,
        retryAfterMs: YEAR_MS / 2 - 1,
        resetAfterMs: YEAR_MS - 1,
        delayMs: 0,
      });
    });

    describe('through the rateLimiter shell', () => {
      it('execute rejects with RateLimitedError carrying retryAfterMs, per key', async () => {
        const clock = new FakeClock(START_MS);
        const limits: Limits = { algorithm: 'sliding-window-log', limit: 2, intervalMs: 60_000 };
        const { state, config } = await stateFor(limits, clock);
        const limiter = rateLimiter({ ...limits, name: config.name, clock, state: () => state });
        await limiter.execute(() => 1, { key: 'u' });
        await advance(clock, 1000);
        await limiter.execute(() => 2, { key: 'u' });
        await expect(limiter.execute(() => 3, { key: 'u' })).rejects.toMatchObject({
          constructor: RateLimitedError,
          retryAfterMs: 59_000,
        });
        await expect(limiter.execute(() => 4, { key: 'v' })).resolves.toBe(4);
      });

      it('acquire waits on the clock exactly until the request is allowed', async () => {
        const clock = new FakeClock(START_MS);
        const limits: Limits = { algorithm: 'token-bucket', limit: 2, intervalMs: 1000 };
        const { state, config } = await stateFor(limits, clock);
        const limiter = rateLimiter({ ...limits, name: config.name, clock, state: () => state });
        await limiter.tryAcquire({ cost: 2 });
        let resolvedAtMs: number | undefined;
        const waiting = limiter.acquire().then(() => (resolvedAtMs = clock.now()));
        await advance(clock, 499);
        expect(resolvedAtMs).toBeUndefined();
        await advance(clock, 1);
        await waiting;
        expect(resolvedAtMs).toBe(START_MS + 500);
        expect(clock.pendingTimers).toBe(0);
      });

      it('a leaky bucket releases queued execute calls at an even pace', async () => {
        const clock = new FakeClock(START_MS);
        const limits: Limits = { algorithm: 'leaky-bucket', limit: 5, intervalMs: 1000, queueSize: 4 };
        const { state, config } = await stateFor(limits, clock);
        const limiter = rateLimiter({ ...limits, name: config.name, clock, state: () => state });
        const ranAtMs: number[] = [];
        const calls = Array.from({ length: 3 }, () =>
          limiter.execute(() => ranAtMs.push(clock.now() - START_MS)),
        );
        await advance(clock, 400);
        await Promise.all(calls);
        expect(ranAtMs).toEqual([0, 200, 400]);
      });
    });
  });
}
