import { describe, expect, it } from 'vitest';

import { deriveAlgorithmConfig, type AlgorithmParameters } from './rate-limit-algorithm.js';
import { rateLimitAlgorithms } from './rate-limit-algorithms.js';

/** One row per instant: a request, and what the decision must be (`A` allowed, `D` denied). */
type Row = readonly [
  nowMs: number,
  cost: number,
  verdict: 'A' | 'D',
  remaining: number,
  retryAfterMs: number,
  resetAfterMs: number,
];

/** Runs `rows` in order against one key and compares every decision field. */
function expectRows(parameters: AlgorithmParameters, rows: readonly Row[], maxDelayMs = 0): void {
  const config = deriveAlgorithmConfig(parameters);
  const algorithm = rateLimitAlgorithms[parameters.algorithm];
  let state: unknown;
  const seen = rows.map(([nowMs, cost]) => {
    const step = algorithm.decide(state, cost, nowMs, config, maxDelayMs);
    state = step.state;
    const { allowed, remaining, retryAfterMs, resetAfterMs } = step.decision;
    return [nowMs, cost, allowed ? 'A' : 'D', remaining, retryAfterMs, resetAfterMs];
  });
  expect(seen).toEqual(rows);
}

describe('rate-limit algorithms, one row per instant', () => {
  it('token bucket: bursts to the capacity, then refills at limit per interval (3 per 1000 ms, burst 3)', () => {
    expectRows({ algorithm: 'token-bucket', limit: 3, intervalMs: 1000 }, [
      [0, 1, 'A', 2, 0, 334],
      [0, 2, 'A', 0, 0, 1000],
      [0, 1, 'D', 0, 334, 1000],
      [333, 1, 'D', 0, 1, 667],
      [334, 1, 'A', 0, 0, 1000],
      [1334, 3, 'A', 0, 0, 1000],
      [5000, 2, 'A', 1, 0, 667],
    ]);
  });

  it('token bucket: burst larger than limit admits more at once, and refills at the same rate', () => {
    expectRows({ algorithm: 'token-bucket', limit: 1, intervalMs: 100, burst: 5 }, [
      [0, 5, 'A', 0, 0, 500],
      [50, 1, 'D', 0, 50, 450],
      [100, 1, 'A', 0, 0, 500],
    ]);
  });

  it('GCRA: makes the token bucket decisions on the same requests', () => {
    expectRows({ algorithm: 'gcra', limit: 3, intervalMs: 1000 }, [
      [0, 1, 'A', 2, 0, 334],
      [0, 2, 'A', 0, 0, 1000],
      [0, 1, 'D', 0, 334, 1000],
      [333, 1, 'D', 0, 1, 667],
      [334, 1, 'A', 0, 0, 1000],
      [1334, 3, 'A', 0, 0, 1000],
      [5000, 2, 'A', 1, 0, 667],
    ]);
  });

  it('fixed window: resets at the epoch-aligned boundary, so 2 × limit pass around it', () => {
    expectRows({ algorithm: 'fixed-window', limit: 2, intervalMs: 1000 }, [
      [900, 2, 'A', 0, 0, 100],
      [999, 1, 'D', 0, 1, 100 - 99],
      [1000, 2, 'A', 0, 0, 1000],
      [1500, 1, 'D', 0, 500, 500],
    ]);
  });

  it('sliding window counter: weights the previous window by its share still inside the window', () => {
    expectRows({ algorithm: 'sliding-window-counter', limit: 4, intervalMs: 1000 }, [
      [0, 4, 'A', 0, 0, 2000],
      [999, 1, 'D', 0, 251, 1001],
      // At 1000 the previous count of 4 weighs 4 × 1000/1000: still full.
      [1000, 1, 'D', 0, 250, 1000],
      [1249, 1, 'D', 0, 1, 751],
      [1250, 1, 'A', 0, 0, 1750],
      // At 1500 the previous 4 weigh 2 and the current holds 1: one unit is left, not two.
      [1500, 2, 'D', 1, 250, 1500],
      [1750, 2, 'A', 0, 0, 1250],
    ]);
  });

  it('sliding window log: exact for every window, retry when the oldest entries leave', () => {
    expectRows({ algorithm: 'sliding-window-log', limit: 3, intervalMs: 1000 }, [
      [0, 1, 'A', 2, 0, 1000],
      [400, 2, 'A', 0, 0, 1000],
      [500, 1, 'D', 0, 500, 900],
      [999, 2, 'D', 0, 401, 401],
      [1000, 1, 'A', 0, 0, 1000],
      // At 1400 the entry of 400 has left; the one of 1000 remains.
      [1400, 3, 'D', 2, 600, 600],
      [1400, 2, 'A', 0, 0, 1000],
    ]);
  });

  it('leaky bucket, tryAcquire: admits only when the slot is now, spaced one unit per interval / limit', () => {
    expectRows({ algorithm: 'leaky-bucket', limit: 4, intervalMs: 1000, queueSize: 2 }, [
      [0, 1, 'A', 2, 0, 250],
      [0, 1, 'D', 2, 250, 250],
      [250, 2, 'A', 1, 0, 500],
      [500, 1, 'D', 2, 250, 250],
      [750, 1, 'A', 2, 0, 250],
    ]);
  });

  it('leaky bucket, acquire: schedules each caller at the next free slot until the queue is full', () => {
    const config = deriveAlgorithmConfig({
      algorithm: 'leaky-bucket',
      limit: 3,
      intervalMs: 1000,
      queueSize: 2,
    });
    let state: unknown;
    const slots: [boolean, number, number][] = [];
    for (let caller = 0; caller < 5; caller++) {
      const step = rateLimitAlgorithms['leaky-bucket'].decide(state, 1, 0, config, 10_000);
      state = step.state;
      slots.push([step.decision.allowed, step.decision.delayMs, step.decision.retryAfterMs]);
    }
    // One unit every 333⅓ ms: slots at 0, 333.3 → 334, 666.7 → 667; then the queue (2 ahead) is full.
    expect(slots).toEqual([
      [true, 0, 0],
      [true, 334, 0],
      [true, 667, 0],
      [false, 0, 334],
      [false, 0, 334],
    ]);
  });

  it('a year-long interval works with exact arithmetic', () => {
    const yearMs = 365 * 24 * 3600 * 1000;
    expectRows({ algorithm: 'gcra', limit: 2, intervalMs: yearMs }, [
      [0, 2, 'A', 0, 0, yearMs],
      [1, 1, 'D', 0, yearMs / 2 - 1, yearMs - 1],
      [yearMs / 2, 1, 'A', 0, 0, yearMs],
    ]);
  });

  it('states expire exactly when they become the same as no state', () => {
    for (const name of Object.keys(rateLimitAlgorithms) as (keyof typeof rateLimitAlgorithms)[]) {
      const config = deriveAlgorithmConfig({ algorithm: name, limit: 3, intervalMs: 1000 });
      const algorithm = rateLimitAlgorithms[name];
      const { state } = algorithm.decide(undefined, 2, 1234, config, 0);
      const expiresAtMs = algorithm.expiresAtMs(state, config);
      const fresh = algorithm.decide(undefined, 3, expiresAtMs, config, 0).decision;
      expect(algorithm.decide(structuredClone(state), 3, expiresAtMs, config, 0).decision, name).toEqual(
        fresh,
      );
      expect(
        algorithm.decide(structuredClone(state), 3, expiresAtMs - 1, config, 0).decision,
        name,
      ).not.toEqual(fresh);
    }
  });
});
