import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { RateLimitStateDecision } from '../rate-limiter-state.js';
import {
  deriveAlgorithmConfig,
  type AlgorithmConfig,
  type RateLimitAlgorithmName,
} from './rate-limit-algorithm.js';
import { rateLimitAlgorithms } from './rate-limit-algorithms.js';

const ALGORITHM_NAMES = Object.keys(rateLimitAlgorithms) as RateLimitAlgorithmName[];

interface Scenario {
  readonly config: AlgorithmConfig;
  readonly operations: readonly Operation[];
}

interface Operation {
  /** Time passed since the previous operation. */
  readonly stepMs: number;
  readonly key: number;
  readonly costSeed: number;
  /** Leaky bucket: 0 is a tryAcquire, more is an acquire prepared to wait that long for its slot. */
  readonly maxDelayMs: number;
}

interface Admission {
  readonly key: number;
  readonly atMs: number;
  readonly cost: number;
  readonly delayMs: number;
}

function scenarioOf(algorithm: RateLimitAlgorithmName): fc.Arbitrary<Scenario> {
  const config = fc
    .record({
      limit: fc.integer({ min: 1, max: 8 }),
      intervalMs: fc.integer({ min: 1, max: 1500 }),
      burst: fc.integer({ min: 1, max: 12 }),
      queueSize: fc.integer({ min: 0, max: 6 }),
    })
    .map(({ limit, intervalMs, burst, queueSize }) =>
      deriveAlgorithmConfig({
        algorithm,
        limit,
        intervalMs,
        ...(algorithm === 'token-bucket' || algorithm === 'gcra' ? { burst } : {}),
        ...(algorithm === 'leaky-bucket' ? { queueSize } : {}),
      }),
    );
  const operation = fc.record({
    // Mostly bursts and small steps, sometimes long idle gaps.
    stepMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 4000 })),
    key: fc.integer({ min: 0, max: 2 }),
    costSeed: fc.nat(),
    maxDelayMs:
      algorithm === 'leaky-bucket'
        ? fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 }))
        : fc.constant(0),
  });
  return fc.record({ config, operations: fc.array(operation, { minLength: 1, maxLength: 60 }) });
}

function costOf(operation: Operation, config: AlgorithmConfig): number {
  return 1 + (operation.costSeed % config.maxCost);
}

function expectWellFormed(decision: RateLimitStateDecision): void {
  for (const field of ['limit', 'remaining', 'retryAfterMs', 'resetAfterMs', 'delayMs'] as const) {
    expect(Number.isInteger(decision[field]), field).toBe(true);
    expect(decision[field], field).toBeGreaterThanOrEqual(0);
  }
  expect(decision.remaining).toBeLessThanOrEqual(decision.limit);
  if (decision.allowed) expect(decision.retryAfterMs).toBe(0);
  else {
    expect(decision.retryAfterMs).toBeGreaterThanOrEqual(1);
    expect(decision.delayMs).toBe(0);
  }
}

/**
 * Runs the operations, one state per key, dropping states at their expiry as the memory state does,
 * and checks each decision as it goes. Returns what was admitted (leaky bucket: at its slot).
 */
function run(algorithm: RateLimitAlgorithmName, { config, operations }: Scenario): Admission[] {
  const rules = rateLimitAlgorithms[algorithm];
  const states = new Map<number, unknown>();
  const admitted: Admission[] = [];
  let nowMs = 1_000_000;
  for (const operation of operations) {
    nowMs += operation.stepMs;
    const cost = costOf(operation, config);
    let state = states.get(operation.key);
    if (state !== undefined && nowMs >= rules.expiresAtMs(state, config)) {
      // Expiry must never change a decision: an expired state decides as no state.
      const fromExpired = rules.decide(structuredClone(state), cost, nowMs, config, operation.maxDelayMs);
      const fromNothing = rules.decide(undefined, cost, nowMs, config, operation.maxDelayMs);
      expect(fromExpired.decision).toEqual(fromNothing.decision);
      state = undefined;
    }
    const { state: next, decision } = rules.decide(state, cost, nowMs, config, operation.maxDelayMs);
    expectWellFormed(decision);
    if (decision.allowed) {
      admitted.push({ key: operation.key, atMs: nowMs + decision.delayMs, cost, delayMs: decision.delayMs });
    } else {
      expect(next).toBe(state);
      // retryAfterMs is exact: the same request passes after it, and not one ms earlier.
      const retryAtMs = nowMs + decision.retryAfterMs;
      const later = rules.decide(structuredClone(next), cost, retryAtMs, config, operation.maxDelayMs);
      const earlier = rules.decide(structuredClone(next), cost, retryAtMs - 1, config, operation.maxDelayMs);
      expect(later.decision.allowed).toBe(true);
      expect(earlier.decision.allowed).toBe(false);
    }
    states.set(operation.key, next);
  }
  return admitted;
}

function byKey(admitted: readonly Admission[]): Admission[][] {
  const groups = new Map<number, Admission[]>();
  for (const admission of admitted) {
    const group = groups.get(admission.key) ?? [];
    group.push(admission);
    groups.set(admission.key, group);
  }
  return [...groups.values()];
}

/** Checks `bound(first, last, cost admitted from first to last)` over every pair of admissions of a key. */
function everyRun(
  admitted: readonly Admission[],
  check: (first: Admission, last: Admission, total: number) => void,
): void {
  for (const group of byKey(admitted)) {
    for (let first = 0; first < group.length; first++) {
      let total = 0;
      for (let last = first; last < group.length; last++) {
        total += group[last]!.cost;
        check(group[first]!, group[last]!, total);
      }
    }
  }
}

function expectAlignedWindowsWithinLimit(admitted: readonly Admission[], config: AlgorithmConfig): void {
  const perWindow = new Map<string, number>();
  for (const { key, atMs, cost } of admitted) {
    const window = `${key}:${Math.floor(atMs / config.intervalMs)}`;
    perWindow.set(window, (perWindow.get(window) ?? 0) + cost);
  }
  for (const total of perWindow.values()) expect(total).toBeLessThanOrEqual(config.limit);
}

/** What each algorithm promises about the cost it admits, checked on every key's admissions. */
const ADMISSION_BOUNDS: Record<
  RateLimitAlgorithmName,
  (admitted: Admission[], config: AlgorithmConfig) => void
> = {
  // From any admission to a later one d ms after: at most the burst plus d ms of refill.
  'token-bucket': (admitted, config) => {
    everyRun(admitted, (first, last, total) => {
      const refill = Math.floor(((last.atMs - first.atMs) * config.limit) / config.intervalMs);
      expect(total).toBeLessThanOrEqual(config.capacity + refill);
    });
  },
  gcra: (admitted, config) => {
    ADMISSION_BOUNDS['token-bucket'](admitted, config);
  },
  'fixed-window': expectAlignedWindowsWithinLimit,
  // Exact: never more than the limit in any window of intervalMs.
  'sliding-window-log': (admitted, config) => {
    everyRun(admitted, (first, last, total) => {
      if (last.atMs - first.atMs < config.intervalMs) expect(total).toBeLessThanOrEqual(config.limit);
    });
  },
  // An estimate: the limit per aligned window, and at most twice it in any window of intervalMs.
  'sliding-window-counter': (admitted, config) => {
    expectAlignedWindowsWithinLimit(admitted, config);
    everyRun(admitted, (first, last, total) => {
      if (last.atMs - first.atMs < config.intervalMs) expect(total).toBeLessThanOrEqual(2 * config.limit);
    });
  },
  // An even pace: the cost released before a slot fits the time since the first slot, one unit per
  // intervalMs / limit (slots are whole ms, hence the + 1).
  'leaky-bucket': (admitted, config) => {
    // Nobody waits longer than queueSize units of intervalMs / limit.
    const longestWaitMs = Math.ceil((config.capacity * config.intervalMs) / config.limit);
    for (const { delayMs } of admitted) expect(delayMs).toBeLessThanOrEqual(longestWaitMs);
    everyRun(admitted, (first, last, total) => {
      const before = total - last.cost;
      expect(before * config.intervalMs).toBeLessThan((last.atMs - first.atMs + 1) * config.limit);
    });
  },
};

describe('rate-limit algorithm properties (fast-check, random time steps, keys and costs)', () => {
  describe.each(ALGORITHM_NAMES)('%s', (algorithm) => {
    it('returns whole, non-negative numbers, an exact retryAfterMs, and expires without changing a decision', () => {
      fc.assert(
        fc.property(scenarioOf(algorithm), (scenario) => {
          run(algorithm, scenario);
        }),
      );
    });

    it('never admits more cost than the algorithm allows', () => {
      fc.assert(
        fc.property(scenarioOf(algorithm), (scenario) => {
          ADMISSION_BOUNDS[algorithm](run(algorithm, scenario), scenario.config);
        }),
      );
    });

    it('a refund right after an admission at the same instant undoes it', () => {
      fc.assert(
        fc.property(scenarioOf(algorithm), fc.integer({ min: 1, max: 12 }), (scenario, probeSeed) => {
          const rules = rateLimitAlgorithms[algorithm];
          const { config } = scenario;
          let state: unknown;
          let nowMs = 5000;
          for (const operation of scenario.operations) {
            nowMs += operation.stepMs;
            const cost = costOf(operation, config);
            const probeCost = 1 + (probeSeed % config.maxCost);
            const before = rules.decide(structuredClone(state), probeCost, nowMs, config, 0).decision;
            const step = rules.decide(state, cost, nowMs, config, 0);
            if (step.decision.allowed) {
              const refunded = rules.refund(step.state, cost, nowMs, config);
              expect(rules.decide(structuredClone(refunded), probeCost, nowMs, config, 0).decision).toEqual(
                before,
              );
              state = refunded;
            } else {
              state = step.state;
            }
          }
        }),
      );
    });
  });

  it('token bucket and GCRA make identical decisions on identical requests', () => {
    fc.assert(
      fc.property(scenarioOf('token-bucket'), ({ config, operations }) => {
        let bucket: unknown;
        let tat: unknown;
        let nowMs = 0;
        for (const operation of operations) {
          nowMs += operation.stepMs;
          const cost = costOf(operation, config);
          const fromBucket = rateLimitAlgorithms['token-bucket'].decide(bucket, cost, nowMs, config, 0);
          const fromTat = rateLimitAlgorithms.gcra.decide(tat, cost, nowMs, config, 0);
          expect(fromTat.decision).toEqual(fromBucket.decision);
          bucket = fromBucket.state;
          tat = fromTat.state;
        }
      }),
    );
  });
});
