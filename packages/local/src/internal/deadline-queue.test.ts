import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { DeadlineQueue, settleWithin } from './deadline-queue.js';
import { FakeClock } from '../testing/fake-clock.js';

type Step = { kind: 'enter' } | { kind: 'leave'; pick: number } | { kind: 'advance'; ms: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.constant<Step>({ kind: 'enter' }),
  fc.record({ kind: fc.constant('leave' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }) }),
);

describe('DeadlineQueue', () => {
  it('expires every entry exactly delayMs after it entered, unless it left first, with one timer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary, { maxLength: 120 }), async (steps) => {
        const clock = new FakeClock();
        const delayMs = 50;
        const expiredAt = new Map<number, number>();
        const queue = new DeadlineQueue<number>(clock, delayMs, (id) => {
          expect(expiredAt.has(id)).toBe(false);
          expiredAt.set(id, clock.now());
        });
        const enteredAt = new Map<number, number>();
        const tickets = new Map<number, number>();
        const leftAt = new Map<number, number>();
        let nextId = 0;
        for (const step of steps) {
          if (step.kind === 'enter') {
            const id = nextId++;
            enteredAt.set(id, clock.now());
            tickets.set(id, queue.enter(id));
          } else if (step.kind === 'leave') {
            const open = [...tickets.keys()];
            if (open.length === 0) continue;
            const id = open[step.pick % open.length]!;
            queue.leave(tickets.get(id)!);
            tickets.delete(id);
            leftAt.set(id, clock.now());
          } else {
            await clock.advance(step.ms);
          }
          expect(clock.pendingTimers).toBeLessThanOrEqual(1);
          expect(queue.inFlightCount).toBe(tickets.size);
        }
        await clock.advance(delayMs);
        for (const [id, startedMs] of enteredAt) {
          const left = leftAt.get(id);
          const expectedExpiry =
            left === undefined || left >= startedMs + delayMs ? startedMs + delayMs : undefined;
          expect(expiredAt.get(id)).toBe(expectedExpiry);
        }
        for (const ticket of tickets.values()) queue.leave(ticket);
        await clock.advance(delayMs);
        expect(clock.pendingTimers).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('never expires an entry early and at most one delay late when the wall clock steps back', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(stepArbitrary, fc.integer({ min: -100_000, max: -1 })), { maxLength: 120 }),
        async (steps) => {
          const fake = new FakeClock();
          let offsetMs = 0;
          const clock = {
            now: () => fake.now() + offsetMs,
            setTimeout: (callback: () => void, delayMs: number) => fake.setTimeout(callback, delayMs),
            clearTimeout: fake.clearTimeout.bind(fake),
            keepAlive: fake.keepAlive.bind(fake),
          };
          const delayMs = 50;
          const enteredAt: number[] = [];
          const expiredAfter: number[] = [];
          const queue = new DeadlineQueue<number>(clock, delayMs, (id) => {
            expiredAfter[id] = fake.now() - (enteredAt[id] ?? Number.NaN);
          });
          for (const step of steps) {
            if (typeof step === 'number') offsetMs += step;
            else if (step.kind === 'enter') {
              enteredAt.push(fake.now());
              queue.enter(enteredAt.length - 1);
            } else if (step.kind === 'advance') await fake.advance(step.ms);
          }
          await fake.advance(2 * delayMs);
          expect(expiredAfter.length).toBe(enteredAt.length);
          for (const afterMs of expiredAfter) {
            expect(afterMs).toBeGreaterThanOrEqual(delayMs);
            expect(afterMs).toBeLessThanOrEqual(2 * delayMs);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('releases its idle timer by default, and clears it with keepsIdleTimer: false', () => {
    const clock = new FakeClock(0);
    const kept = new DeadlineQueue<string>(clock, 100, () => {});
    kept.leave(kept.enter('a'));
    expect(clock.pendingTimers).toBe(1);
    expect(clock.timersKeepingProcessAlive).toBe(0);
    kept.enter('b');
    expect(clock.pendingTimers).toBe(1);
    expect(clock.timersKeepingProcessAlive).toBe(1);

    const other = new FakeClock(0);
    const cleared = new DeadlineQueue<string>(other, 100, () => {}, { keepsIdleTimer: false });
    const ticket = cleared.enter('a');
    expect(other.pendingTimers).toBe(1);
    cleared.leave(ticket);
    expect(other.pendingTimers).toBe(0);
  });

  it.each([
    [Number.NaN, 'NaN'],
    [-1, '-1'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    ['100' as unknown as number, '"100"'],
  ])('rejects a delayMs of %s, naming the option and the value', (delayMs, shownValue) => {
    expect(() => new DeadlineQueue(new FakeClock(0), delayMs, () => {})).toThrow(
      new RangeError(`DeadlineQueue: delayMs must be a finite number >= 0, got ${shownValue}`),
    );
  });

  it('rejects a clock, an onExpired or a keepsIdleTimer of the wrong type, naming each', () => {
    expect(() => new DeadlineQueue(undefined as unknown as FakeClock, 10, () => {})).toThrow(
      new TypeError('DeadlineQueue: clock must be a Clock (now, setTimeout, clearTimeout), got undefined'),
    );
    expect(() => new DeadlineQueue(new FakeClock(0), 10, 'x' as unknown as () => void)).toThrow(
      new TypeError('DeadlineQueue: onExpired must be a function, got "x"'),
    );
    expect(
      () => new DeadlineQueue(new FakeClock(0), 10, () => {}, { keepsIdleTimer: 'no' as unknown as boolean }),
    ).toThrow(new TypeError('DeadlineQueue: keepsIdleTimer must be a boolean, got "no"'));
    expect(
      () => new DeadlineQueue(new FakeClock(0), 10, () => {}, null as unknown as undefined),
    ).not.toThrow();
  });

  it('refuses a ticket it did not give, and a second leave once nothing is in flight', () => {
    const queue = new DeadlineQueue<string>(new FakeClock(0), 10, () => {});
    const ticket = queue.enter('a');
    expect(() => {
      queue.leave(ticket + 1);
    }).toThrow(new RangeError('DeadlineQueue.leave: ticket 1 is not in flight'));
    expect(() => {
      queue.leave(-1);
    }).toThrow(RangeError);
    queue.leave(ticket);
    expect(() => {
      queue.leave(ticket);
    }).toThrow(new RangeError('DeadlineQueue.leave: ticket 0 is not in flight'));
    expect(queue.inFlightCount).toBe(0);
  });

  it('tells every expired entry even when a callback before it throws, then throws the first error', async () => {
    const clock = new FakeClock(0);
    const told: string[] = [];
    const queue = new DeadlineQueue<string>(clock, 10, (entry) => {
      told.push(entry);
      if (entry === 'a') throw new Error('listener failed');
    });
    queue.enter('a');
    queue.enter('b');
    await expect(clock.advance(10)).rejects.toThrow('listener failed');
    expect(told).toEqual(['a', 'b']);
  });
});

describe('settleWithin', () => {
  it('settles as the work does when it does so in time, and leaves the queue', async () => {
    const clock = new FakeClock(0);
    const deadlines = DeadlineQueue.ofCallbacks(clock, 100);
    await expect(settleWithin(deadlines, Promise.resolve('answer'), () => 'late')).resolves.toBe('answer');
    const failure = new Error('refused');
    await expect(settleWithin(deadlines, Promise.reject(failure), () => 'late')).rejects.toBe(failure);
    expect(deadlines.inFlightCount).toBe(0);
  });

  it('settles with what onExpired returns or throws once the delay passed, and ignores a late result', async () => {
    const clock = new FakeClock(0);
    const deadlines = DeadlineQueue.ofCallbacks(clock, 100);
    let answer!: (value: string) => void;
    const late = new Promise<string>((resolve) => {
      answer = resolve;
    });
    const returned = settleWithin(deadlines, late, () => 'too slow' as const);
    const thrown = settleWithin(deadlines, new Promise<string>(() => {}), (): never => {
      throw new RangeError('no answer within 100 ms');
    });
    const thrownOutcome = thrown.catch((error: unknown) => error);
    await clock.advance(99);
    await clock.advance(1);
    answer('answer');
    await expect(returned).resolves.toBe('too slow');
    await expect(thrownOutcome).resolves.toEqual(new RangeError('no answer within 100 ms'));
    expect(deadlines.inFlightCount).toBe(1); // the work that never settles never leaves
  });

  it('rejects work that is not a promise at once, leaving nothing in flight', async () => {
    const clock = new FakeClock(0);
    const deadlines = DeadlineQueue.ofCallbacks(clock, 100, { keepsIdleTimer: false });
    await expect(
      settleWithin(deadlines, undefined as unknown as Promise<string>, () => 'late'),
    ).rejects.toThrow(new TypeError('settleWithin: work must be a promise, got undefined'));
    await expect(settleWithin(deadlines, Promise.resolve(1), 'x' as unknown as () => string)).rejects.toThrow(
      new TypeError('settleWithin: onExpired must be a function, got "x"'),
    );
    expect(deadlines.inFlightCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});
