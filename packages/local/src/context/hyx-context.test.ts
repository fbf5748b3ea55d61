import { EventEmitter } from 'node:events';

import { describe, expect, it } from 'vitest';

import { compose } from '../compose/compose.js';
import type { ResilienceEvent } from '../events/resilience-event.js';
import { fallback } from '../fallback/fallback.js';
import { systemClock } from '../clock/clock.js';
import { FakeClock } from '../testing/fake-clock.js';
import { currentContext, remainingBudgetMs, withContext } from './hyx-context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('hyx context', () => {
  it('is undefined outside every withContext', () => {
    expect(currentContext()).toBeUndefined();
  });

  it('returns what fn returns and is gone afterwards', () => {
    const seen = withContext({ correlationId: 'req-1' }, () => currentContext());
    expect(seen).toEqual({ correlationId: 'req-1' });
    expect(currentContext()).toBeUndefined();
  });

  it('generates a random UUID when no correlation id is given and none is inherited', () => {
    const id = withContext({}, () => currentContext()?.correlationId);
    expect(id).toMatch(UUID);
  });

  it('survives await, promise callbacks, process.nextTick and queueMicrotask', async () => {
    const seen = await withContext({ correlationId: 'req-2' }, async () => {
      const ids: (string | undefined)[] = [];
      await Promise.resolve();
      ids.push(currentContext()?.correlationId);
      await new Promise<void>((resolve) => {
        process.nextTick(() => {
          ids.push(currentContext()?.correlationId);
          resolve();
        });
      });
      await new Promise<void>((resolve) => {
        queueMicrotask(() => {
          ids.push(currentContext()?.correlationId);
          resolve();
        });
      });
      return ids;
    });
    expect(seen).toEqual(['req-2', 'req-2', 'req-2']);
  });

  it('survives timers of the system clock and setImmediate', async () => {
    const seen = await withContext({ correlationId: 'req-3' }, () =>
      Promise.all([
        new Promise<string | undefined>((resolve) => {
          systemClock.setTimeout(() => {
            resolve(currentContext()?.correlationId);
          }, 0);
        }),
        new Promise<string | undefined>((resolve) => {
          setImmediate(() => {
            resolve(currentContext()?.correlationId);
          });
        }),
      ]),
    );
    expect(seen).toEqual(['req-3', 'req-3']);
  });

  it('runs a FakeClock timer in the context that set it, not in the context that advances the clock', async () => {
    const clock = new FakeClock();
    let seen: string | undefined = 'not fired';
    withContext({ correlationId: 'req-4' }, () => {
      clock.setTimeout(() => {
        seen = currentContext()?.correlationId;
      }, 100);
    });
    await withContext({ correlationId: 'advancer' }, () => clock.advance(100));
    expect(seen).toBe('req-4');
  });

  it('reaches EventEmitter listeners called from inside the context', () => {
    const emitter = new EventEmitter();
    const seen: (string | undefined)[] = [];
    emitter.on('ping', () => seen.push(currentContext()?.correlationId));
    withContext({ correlationId: 'req-5' }, () => emitter.emit('ping'));
    emitter.emit('ping');
    expect(seen).toEqual(['req-5', undefined]);
  });

  it('keeps concurrent contexts apart', async () => {
    const clock = new FakeClock();
    const run = (id: string, delayMs: number) =>
      withContext({ correlationId: id }, async () => {
        await new Promise<void>((resolve) => clock.setTimeout(resolve, delayMs));
        return currentContext()?.correlationId;
      });
    const both = Promise.all([run('a', 20), run('b', 10)]);
    await clock.advance(20);
    await expect(both).resolves.toEqual(['a', 'b']);
  });

  describe('nesting', () => {
    it('inherits the outer correlation id unless the inner one names its own', () => {
      withContext({ correlationId: 'outer' }, () => {
        expect(withContext({}, () => currentContext()?.correlationId)).toBe('outer');
        expect(withContext({ correlationId: 'inner' }, () => currentContext()?.correlationId)).toBe('inner');
        expect(currentContext()?.correlationId).toBe('outer');
      });
    });

    it('never moves the deadline later than the outer one', () => {
      withContext({ correlationId: 'r', deadlineMs: 1_000 }, () => {
        expect(withContext({ deadlineMs: 5_000 }, () => currentContext()?.deadlineMs)).toBe(1_000);
        expect(withContext({ deadlineMs: 400 }, () => currentContext()?.deadlineMs)).toBe(400);
        expect(withContext({}, () => currentContext()?.deadlineMs)).toBe(1_000);
      });
    });
  });

  describe('remainingBudgetMs', () => {
    it('is undefined without a deadline', () => {
      const clock = new FakeClock(1_000);
      expect(remainingBudgetMs(clock)).toBeUndefined();
      expect(withContext({ correlationId: 'r' }, () => remainingBudgetMs(clock))).toBeUndefined();
    });

    it('counts down on the given clock and stops at 0', async () => {
      const clock = new FakeClock(1_000);
      const readings = await withContext({ deadlineMs: 1_250 }, async () => {
        const values = [remainingBudgetMs(clock)];
        await clock.advance(200);
        values.push(remainingBudgetMs(clock));
        await clock.advance(100);
        values.push(remainingBudgetMs(clock));
        return values;
      });
      expect(readings).toEqual([250, 50, 0]);
    });
  });

  it.each([
    [{ correlationId: '' }, TypeError, 'withContext: correlationId must be a non-empty string, got ""'],
    [{ deadlineMs: Number.NaN }, RangeError, 'withContext: deadlineMs must be a finite number, got NaN'],
    [
      { deadlineMs: Number.POSITIVE_INFINITY },
      RangeError,
      'withContext: deadlineMs must be a finite number, got Infinity',
    ],
  ])('rejects %o', (init, errorClass, message) => {
    expect(() => withContext(init, () => 1)).toThrow(errorClass);
    expect(() => withContext(init, () => 1)).toThrow(message);
  });
});

describe('correlation id on events', () => {
  const failing = (): never => {
    throw new Error('boom');
  };

  it('is absent outside a context', async () => {
    const events: ResilienceEvent[] = [];
    const policy = fallback({ value: 'alt' });
    policy.onEvent((event) => events.push(event));
    await policy.execute(failing);
    expect(events.map((event) => event.correlationId)).toEqual([undefined, undefined]);
    expect(events.every((event) => !('correlationId' in event))).toBe(true);
  });

  it('is stamped on every event of every part of a pipeline, across awaits', async () => {
    const events: ResilienceEvent[] = [];
    const pipeline = compose(
      fallback({ value: 'outer', name: 'outer' }),
      fallback({ value: 'inner', name: 'inner' }),
    );
    pipeline.onEvent((event) => events.push(event));
    await withContext({ correlationId: 'req-9' }, () =>
      pipeline.execute(async () => {
        await Promise.resolve();
        return failing();
      }),
    );
    expect(events.map((event) => [event.policyName, event.type, event.correlationId])).toEqual([
      ['inner', 'fallback.used', 'req-9'],
      ['inner', 'execution.succeeded', 'req-9'],
      ['outer', 'execution.succeeded', 'req-9'],
    ]);
  });

  it('lets listeners read the context too', async () => {
    const seen: (string | undefined)[] = [];
    const policy = fallback({ value: 'alt' });
    policy.onEvent(() => seen.push(currentContext()?.correlationId));
    await withContext({ correlationId: 'req-10' }, () => policy.execute(failing));
    expect(seen).toEqual(['req-10', 'req-10']);
  });
});
