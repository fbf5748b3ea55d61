import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { MAX_TIMER_DELAY_MS } from '../clock/clock.js';
import { type Backoff, backoff } from './backoff.js';
import type { Jitter } from './backoff-options.js';

/** The first `count` delays of a fresh sequence. */
function delaysOf(recipe: Backoff, count: number): number[] {
  const sequence = recipe.start();
  return Array.from({ length: count }, () => sequence.nextDelayMs());
}

/** A random source that replays `values` in a loop. */
function replay(...values: number[]): () => number {
  let index = 0;
  return () => values[index++ % values.length]!;
}

const half = (): number => 0.5;

describe('backoff delays (no jitter)', () => {
  it.each<[string, Backoff, number[]]>([
    ['constant', backoff.constant({ delayMs: 100 }), [100, 100, 100, 100]],
    ['constant 0', backoff.constant({ delayMs: 0 }), [0, 0, 0]],
    [
      'intervals stick to the last entry',
      backoff.intervals({ delaysMs: [100, 500, 2_000] }),
      [100, 500, 2_000, 2_000, 2_000],
    ],
    ['intervals of one', backoff.intervals({ delaysMs: [70] }), [70, 70, 70]],
    ['linear, step = initial', backoff.linear({ initialDelayMs: 100 }), [100, 200, 300, 400, 500]],
    ['linear with a step', backoff.linear({ initialDelayMs: 100, stepMs: 50 }), [100, 150, 200, 250]],
    [
      'linear capped',
      backoff.linear({ initialDelayMs: 100, stepMs: 50, maxDelayMs: 220 }),
      [100, 150, 200, 220, 220],
    ],
    ['linear, step 0', backoff.linear({ initialDelayMs: 30, stepMs: 0 }), [30, 30, 30]],
    ['linear defaults', backoff.linear(), [100, 200, 300]],
    [
      'exponential doubling',
      backoff.exponential({ initialDelayMs: 100 }),
      [100, 200, 400, 800, 1_600, 3_200],
    ],
    ['exponential factor 3', backoff.exponential({ initialDelayMs: 10, factor: 3 }), [10, 30, 90, 270, 810]],
    [
      'exponential factor 1.5',
      backoff.exponential({ initialDelayMs: 100, factor: 1.5 }),
      [100, 150, 225, 337.5],
    ],
    [
      'exponential capped',
      backoff.exponential({ initialDelayMs: 100, maxDelayMs: 1_000 }),
      [100, 200, 400, 800, 1_000, 1_000],
    ],
    [
      'exponential factor 1 is constant',
      backoff.exponential({ initialDelayMs: 40, factor: 1 }),
      [40, 40, 40],
    ],
    ['exponential from 0 stays 0', backoff.exponential({ initialDelayMs: 0 }), [0, 0, 0]],
    ['fibonacci', backoff.fibonacci({ initialDelayMs: 100 }), [100, 100, 200, 300, 500, 800, 1_300, 2_100]],
    [
      'fibonacci capped',
      backoff.fibonacci({ initialDelayMs: 100, maxDelayMs: 400 }),
      [100, 100, 200, 300, 400, 400],
    ],
  ])('%s', (_, recipe, expected) => {
    expect(delaysOf(recipe, expected.length)).toEqual(expected);
  });

  it('caps exponential growth at the default 30 s and stays there', () => {
    const delays = delaysOf(backoff.exponential(), 20);
    expect(delays.slice(0, 3)).toEqual([100, 200, 400]);
    expect(delays.at(-1)).toBe(30_000);
  });
});

describe('randomised backoffs with a fixed random', () => {
  it('decorrelatedExponential draws between initial and factor × previous', () => {
    // d1 = 100 + .5 (300 - 100) = 200; d2 = 100 + .5 (600 - 100) = 350; d3 = 100 + .5 (1050 - 100) = 575
    expect(delaysOf(backoff.decorrelatedExponential({ initialDelayMs: 100, random: half }), 4)).toEqual([
      200, 350, 575, 912.5,
    ]);
  });

  it('decorrelatedExponential stays at initial with random 0 and reaches factor × previous with random 1', () => {
    const low = backoff.decorrelatedExponential({ initialDelayMs: 100, random: () => 0 });
    expect(delaysOf(low, 3)).toEqual([100, 100, 100]);
    const high = backoff.decorrelatedExponential({ initialDelayMs: 100, maxDelayMs: 5_000, random: () => 1 });
    expect(delaysOf(high, 5)).toEqual([300, 900, 2_700, 5_000, 5_000]);
  });

  it('softExponential follows Polly decorrelated jitter v2 (medians near 1, 2, 4, 8 × initial)', () => {
    // Reference values: Polly's formula evaluated independently for t = n - 0.5.
    const expected = [
      897.4049355792, 1093.003547381679, 2035.7479626216332, 4045.9794227837556, 8083.631609820253,
    ];
    const delays = delaysOf(backoff.softExponential({ initialDelayMs: 1_000, random: half }), 5);
    delays.forEach((delay, index) => {
      expect(delay).toBeCloseTo(expected[index]!, 6);
    });
  });

  it('softExponential with random 0 starts at 0 and keeps growing', () => {
    const expected = [0, 1377.1822572511671, 1460.0673010513165, 2865.8498622586544, 5717.806862171056];
    const delays = delaysOf(backoff.softExponential({ initialDelayMs: 1_000, random: () => 0 }), 5);
    delays.forEach((delay, index) => {
      expect(delay).toBeCloseTo(expected[index]!, 6);
    });
  });

  it('gives every execution its own sequence', () => {
    const recipe = backoff.decorrelatedExponential({ initialDelayMs: 100, random: half });
    const first = recipe.start();
    first.nextDelayMs();
    first.nextDelayMs();
    expect(recipe.start().nextDelayMs()).toBe(200);
  });
});

describe('jitter', () => {
  it.each<[Jitter, number[], number[]]>([
    ['none', [0.25], [100, 200, 400]],
    ['full', [0.25, 0.5, 1], [25, 100, 400]],
    ['equal', [0, 0.5, 1], [50, 150, 400]],
  ])('%s on exponential', (jitter, randoms, expected) => {
    const recipe = backoff.exponential({ initialDelayMs: 100, jitter, random: replay(...randoms) });
    expect(delaysOf(recipe, 3)).toEqual(expected);
  });

  it('applies after the cap, so full jitter spreads below the cap instead of collapsing onto it', () => {
    const recipe = backoff.exponential({
      initialDelayMs: 100,
      maxDelayMs: 1_000,
      jitter: 'full',
      random: half,
    });
    expect(delaysOf(recipe, 12).at(-1)).toBe(500);
  });

  it('works on constant and intervals', () => {
    expect(delaysOf(backoff.constant({ delayMs: 100, jitter: 'equal', random: half }), 2)).toEqual([75, 75]);
    expect(delaysOf(backoff.intervals({ delaysMs: [100, 300], jitter: 'full', random: half }), 3)).toEqual([
      50, 150, 150,
    ]);
  });

  it('keeps equal jitter within a subnormal cap, where halving and adding round up', () => {
    // Found by the property below: 7.4e-323 / 2 + (7.4e-323 / 2) × 1 rounds to 8e-323, above the cap.
    const tiny = backoff.linear({
      initialDelayMs: 0,
      stepMs: 1,
      maxDelayMs: 7.4e-323,
      jitter: 'equal',
      random: () => 1,
    });
    for (const delay of delaysOf(tiny, 20)) expect(delay).toBeLessThanOrEqual(7.4e-323);
  });

  it('calls a jitter function with the capped delay and the random source', () => {
    const seen: number[] = [];
    const random = replay(0.1);
    const recipe = backoff.linear({
      initialDelayMs: 100,
      maxDelayMs: 250,
      random,
      jitter: (delayMs, source) => {
        seen.push(delayMs);
        return delayMs + 100 * source();
      },
    });
    expect(delaysOf(recipe, 4)).toEqual([110, 210, 250, 250]);
    expect(seen).toEqual([100, 200, 250, 250]);
  });

  it.each<[string, number, number]>([
    ['NaN falls back to the un-jittered delay', Number.NaN, 100],
    ['a negative value becomes 0', -5, 0],
    ['-Infinity becomes 0', -Infinity, 0],
    ['Infinity becomes the cap', Infinity, 1_000],
    ['a value above the cap becomes the cap', 5_000, 1_000],
  ])('clamps a jitter function result: %s', (_, returned, expected) => {
    const recipe = backoff.exponential({ initialDelayMs: 100, maxDelayMs: 1_000, jitter: () => returned });
    expect(recipe.start().nextDelayMs()).toBe(expected);
  });

  it('bounds a jitter function on constant by 2^31-1 ms', () => {
    expect(
      backoff
        .constant({ delayMs: 5, jitter: () => 1e300 })
        .start()
        .nextDelayMs(),
    ).toBe(MAX_TIMER_DELAY_MS);
  });

  it.each([
    ['1.5 counts as 1', 1.5, 100],
    ['NaN counts as 0', Number.NaN, 0],
    ['-1 counts as 0', -1, 0],
  ])('clamps a random source out of [0, 1]: %s', (_, value, expected) => {
    expect(
      backoff
        .constant({ delayMs: 100, jitter: 'full', random: () => value })
        .start()
        .nextDelayMs(),
    ).toBe(expected);
  });
});

describe('every delay is finite, within [0, maxDelayMs] and at most 2^31-1, after any number of retries', () => {
  const randomValue = fc.oneof(
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    fc.constantFrom(0, 0.9999999999, 1, 1.5, -1, Number.NaN, Infinity, -Infinity),
  );
  /** A random source replaying a generated list, odd values included. */
  const randomSource = fc
    .array(randomValue, { minLength: 1, maxLength: 20 })
    .map((values) => replay(...values));
  const jitter = fc.oneof(
    fc.constantFrom<Jitter>('none', 'full', 'equal'),
    fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, 2 ** 40)).map(
      (value): Jitter =>
        (delayMs) =>
          delayMs * value,
    ),
  );
  const delayMs = fc.oneof(
    fc.double({ min: 0, max: MAX_TIMER_DELAY_MS, noNaN: true }),
    fc.constantFrom(0, 1, MAX_TIMER_DELAY_MS),
  );
  const retries = fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.constant(10_000));

  /** Builds a growing backoff with a cap >= its initial delay. */
  const growing = fc
    .record({
      kind: fc.constantFrom(
        'linear',
        'exponential',
        'fibonacci',
        'decorrelatedExponential',
        'softExponential',
      ),
      a: delayMs,
      b: delayMs,
      stepMs: delayMs,
      factor: fc.oneof(fc.double({ min: 1, max: 1e6, noNaN: true }), fc.constantFrom(1, 2, 1e308)),
      jitter,
      random: randomSource,
    })
    .map(({ kind, a, b, stepMs, factor, jitter: chosenJitter, random }) => {
      const shape = {
        initialDelayMs: Math.min(a, b),
        maxDelayMs: Math.max(a, b),
        jitter: chosenJitter,
        random,
      };
      const recipe =
        kind === 'linear'
          ? backoff.linear({ ...shape, stepMs })
          : kind === 'exponential'
            ? backoff.exponential({ ...shape, factor })
            : kind === 'decorrelatedExponential'
              ? backoff.decorrelatedExponential({ ...shape, factor })
              : kind === 'fibonacci'
                ? backoff.fibonacci(shape)
                : backoff.softExponential(shape);
      return { recipe, maxDelayMs: shape.maxDelayMs };
    });
  const flat = fc
    .record({
      isList: fc.boolean(),
      delays: fc.array(delayMs, { minLength: 1, maxLength: 5 }),
      jitter,
      random: randomSource,
    })
    .map(({ isList, delays, jitter: chosenJitter, random }) => ({
      recipe: isList
        ? backoff.intervals({ delaysMs: delays, jitter: chosenJitter, random })
        : backoff.constant({ delayMs: delays[0]!, jitter: chosenJitter, random }),
      maxDelayMs: MAX_TIMER_DELAY_MS,
    }));

  it('holds for random backoffs, parameters, jitters, random sources and retry counts', () => {
    fc.assert(
      fc.property(fc.oneof(growing, growing, flat), retries, ({ recipe, maxDelayMs }, count) => {
        const sequence = recipe.start();
        for (let retry = 1; retry <= count; retry++) {
          const delay = sequence.nextDelayMs();
          if (!(Number.isFinite(delay) && delay >= 0 && delay <= maxDelayMs && delay <= MAX_TIMER_DELAY_MS)) {
            throw new Error(`retry ${retry}: delay ${delay} outside [0, ${maxDelayMs}]`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('bad backoff options', () => {
  it.each<[string, () => unknown, ErrorConstructor, string]>([
    [
      'negative initial delay',
      () => backoff.exponential({ initialDelayMs: -1 }),
      RangeError,
      'backoff.exponential: initialDelayMs must be >= 0, got -1',
    ],
    [
      'factor below 1',
      () => backoff.exponential({ factor: 0.5 }),
      RangeError,
      'backoff.exponential: factor must be >= 1, got 0.5',
    ],
    [
      'NaN factor',
      () => backoff.decorrelatedExponential({ factor: Number.NaN }),
      RangeError,
      'backoff.decorrelatedExponential: factor must be a finite number, got NaN',
    ],
    [
      'Infinity cap',
      () => backoff.fibonacci({ maxDelayMs: Infinity }),
      RangeError,
      'backoff.fibonacci: maxDelayMs must be a finite number, got Infinity',
    ],
    [
      'cap above 2^31-1',
      () => backoff.softExponential({ maxDelayMs: 2 ** 31 }),
      RangeError,
      'backoff.softExponential: maxDelayMs must be <= 2147483647, got 2147483648',
    ],
    [
      'cap below the initial delay',
      () => backoff.exponential({ initialDelayMs: 100, maxDelayMs: 50 }),
      RangeError,
      'backoff.exponential: maxDelayMs must be >= initialDelayMs (100), got 50',
    ],
    [
      'negative step',
      () => backoff.linear({ stepMs: -5 }),
      RangeError,
      'backoff.linear: stepMs must be >= 0, got -5',
    ],
    [
      'missing delay',
      () => backoff.constant({} as never),
      TypeError,
      'backoff.constant: delayMs is required',
    ],
    [
      'delay as a string',
      () => backoff.constant({ delayMs: '100' as never }),
      TypeError,
      'backoff.constant: delayMs must be a finite number, got "100"',
    ],
    [
      'empty list',
      () => backoff.intervals({ delaysMs: [] }),
      TypeError,
      'backoff.intervals: delaysMs must not be empty, got an array of 0',
    ],
    [
      'negative entry',
      () => backoff.intervals({ delaysMs: [100, -1] }),
      RangeError,
      'backoff.intervals: delaysMs.1 must be >= 0, got -1',
    ],
    [
      'unknown jitter',
      () => backoff.linear({ jitter: 'half' as never }),
      TypeError,
      'backoff.linear: jitter must be "none", "full", "equal" or a function, got "half"',
    ],
    [
      'random not a function',
      () => backoff.constant({ delayMs: 1, random: 0.5 as never }),
      TypeError,
      'backoff.constant: random must be a function, got 0.5',
    ],
    [
      'unknown key',
      () => backoff.linear({ initialDelay: 5 } as never),
      TypeError,
      'backoff.linear: initialDelay is not a known option',
    ],
    [
      'options not an object',
      () => backoff.exponential(5 as never),
      TypeError,
      'backoff.exponential: options must be an object, got 5',
    ],
  ])('%s', (_, build, errorClass, message) => {
    expect(build).toThrow(errorClass);
    expect(build).toThrow(message);
  });

  it('treats undefined options as absent', () => {
    expect(delaysOf(backoff.exponential({ initialDelayMs: undefined, jitter: undefined }), 2)).toEqual([
      100, 200,
    ]);
  });

  it('copies the intervals list, so mutating it later changes nothing', () => {
    const delaysMs = [10, 20];
    const recipe = backoff.intervals({ delaysMs });
    delaysMs[0] = 999;
    expect(delaysOf(recipe, 2)).toEqual([10, 20]);
  });
});
