import { getEventListeners } from 'node:events';

import { describe, expect, it } from 'vitest';

import { hedge } from './hedge.js';
import type { HedgeOptions } from './hedge-options.js';
import { compose } from '../compose/compose.js';
import { TimeoutError } from '../errors/errors.js';
import type { ResilienceEvent } from '../events/resilience-event.js';
import { timeout } from '../timeout/timeout.js';
import type { ExecutionContext } from '../policy/policy.js';
import { FakeClock } from '../testing/fake-clock.js';

interface Tracked<T> {
  state: 'pending' | 'fulfilled' | 'rejected';
  value?: T;
  error?: unknown;
}

/** Records how a promise settled, without ever leaving a rejection unhandled. */
function track<T>(promise: Promise<T>): Tracked<T> {
  const tracked: Tracked<T> = { state: 'pending' };
  promise.then(
    (value) => {
      tracked.state = 'fulfilled';
      tracked.value = value;
    },
    (error: unknown) => {
      tracked.state = 'rejected';
      tracked.error = error;
    },
  );
  return tracked;
}

interface StartedAttempt {
  readonly attempt: number;
  readonly startedMs: number;
  readonly signal: AbortSignal;
  resolve(value: string): void;
  reject(error: unknown): void;
}

/** Work whose attempts the test settles by hand; each attempt is recorded with its context. */
function controllableWork(clock: FakeClock): {
  work: (context: ExecutionContext) => Promise<string>;
  attempts: StartedAttempt[];
} {
  const attempts: StartedAttempt[] = [];
  const work = ({ attempt, signal }: ExecutionContext): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      attempts.push({ attempt, startedMs: clock.now(), signal, resolve, reject });
    });
  return { work, attempts };
}

function setup(options: Partial<HedgeOptions> = {}) {
  const clock = new FakeClock();
  const policy = hedge({ delayMs: 100, clock, ...options });
  const events: ResilienceEvent[] = [];
  policy.onEvent((event) => events.push(event));
  return { clock, policy, events, ...controllableWork(clock) };
}

describe('hedge', () => {
  it('returns a fast result without hedging and leaves no timer', async () => {
    const { clock, policy, events } = setup();
    await expect(policy.execute(() => 'fast')).resolves.toBe('fast');
    expect(clock.pendingTimers).toBe(0);
    expect(events.map((event) => event.type)).toEqual(['execution.succeeded']);
  });

  it('starts a second attempt after delayMs and takes it when it wins, aborting the first', async () => {
    const { clock, policy, events, work, attempts } = setup();
    const call = track(policy.execute(work));
    await clock.advance(99);
    expect(attempts.map((attempt) => attempt.attempt)).toEqual([1]);
    await clock.advance(1);
    expect(attempts.map((attempt) => [attempt.attempt, attempt.startedMs])).toEqual([
      [1, 0],
      [2, 100],
    ]);
    expect(attempts[0]!.signal).not.toBe(attempts[1]!.signal);
    attempts[1]!.resolve('second');
    await clock.flush();
    expect(call).toMatchObject({ state: 'fulfilled', value: 'second' });
    expect(attempts[0]!.signal.aborted).toBe(true);
    expect(attempts[0]!.signal.reason).toMatchObject({ name: 'AbortError' });
    expect(attempts[1]!.signal.aborted).toBe(false);
    expect(events.map((event) => event.type)).toEqual(['hedge.started', 'execution.succeeded']);
    expect(events[0]).toEqual({
      type: 'hedge.started',
      policyKind: 'hedge',
      policyName: 'hedge',
      attempt: 2,
    });
    expect(clock.pendingTimers).toBe(0);
  });

  it('takes the first attempt when it answers after the hedge started, and aborts the hedge', async () => {
    const { clock, policy, work, attempts } = setup();
    const call = track(policy.execute(work));
    await clock.advance(150);
    attempts[0]!.resolve('first');
    await clock.flush();
    expect(call.value).toBe('first');
    expect(attempts[1]!.signal.aborted).toBe(true);
    // The loser answering later changes nothing.
    attempts[1]!.resolve('second');
    await clock.flush();
    expect(call.value).toBe('first');
  });

  it('starts at most maxHedgedAttempts extra attempts, one delay apart', async () => {
    const { clock, policy, work, attempts } = setup({ maxHedgedAttempts: 2 });
    track(policy.execute(work));
    await clock.advance(1_000);
    expect(attempts.map((attempt) => [attempt.attempt, attempt.startedMs])).toEqual([
      [1, 0],
      [2, 100],
      [3, 200],
    ]);
    expect(clock.pendingTimers).toBe(0);
    attempts[2]!.resolve('third');
    await clock.flush();
    expect(attempts.map((attempt) => attempt.signal.aborted)).toEqual([true, true, false]);
  });

  it('starts the next attempt at once when an attempt fails before the delay', async () => {
    const { clock, policy, events, work, attempts } = setup({ maxHedgedAttempts: 2 });
    const call = track(policy.execute(work));
    await clock.advance(30);
    attempts[0]!.reject(new Error('refused'));
    await clock.flush();
    expect(attempts.map((attempt) => [attempt.attempt, attempt.startedMs])).toEqual([
      [1, 0],
      [2, 30],
    ]);
    // The delay restarts from the hedge that just started.
    await clock.advance(99);
    expect(attempts).toHaveLength(2);
    await clock.advance(1);
    expect(attempts.map((attempt) => attempt.startedMs)).toEqual([0, 30, 130]);
    attempts[1]!.resolve('second');
    await clock.flush();
    expect(call.value).toBe('second');
    expect(events.map((event) => event.type)).toEqual([
      'hedge.started',
      'hedge.started',
      'execution.succeeded',
    ]);
  });

  it('rejects with an AggregateError of every error, in attempt order, when all attempts fail', async () => {
    const { clock, policy, events, work, attempts } = setup({ name: 'catalog' });
    const call = track(policy.execute(work));
    await clock.advance(100);
    const second = new Error('second failed');
    const first = new Error('first failed');
    attempts[1]!.reject(second);
    await clock.flush();
    expect(call.state).toBe('pending');
    attempts[0]!.reject(first);
    await clock.flush();
    expect(call.error).toBeInstanceOf(AggregateError);
    expect((call.error as AggregateError).errors).toEqual([first, second]);
    expect((call.error as AggregateError).message).toBe('hedge "catalog": all 2 attempts failed');
    expect(events.at(-1)).toMatchObject({ type: 'execution.failed', error: call.error });
    expect(clock.pendingTimers).toBe(0);
  });

  it('turns synchronous throws into failed attempts', async () => {
    const { clock, policy } = setup();
    let calls = 0;
    const call = track(
      policy.execute(() => {
        calls++;
        throw new Error(`sync ${calls}`);
      }),
    );
    await clock.flush();
    expect(calls).toBe(2);
    expect((call.error as AggregateError).errors).toEqual([new Error('sync 1'), new Error('sync 2')]);
    expect(clock.pendingTimers).toBe(0);
  });

  describe("the caller's abort", () => {
    it('rejects at once without running the work when the signal is already aborted', async () => {
      const { policy } = setup();
      const controller = new AbortController();
      const reason = new Error('caller gave up');
      controller.abort(reason);
      let ran = false;
      await expect(
        policy.execute(
          () => {
            ran = true;
          },
          { signal: controller.signal },
        ),
      ).rejects.toBe(reason);
      expect(ran).toBe(false);
    });

    it('aborts every attempt with the reason, rejects with it and leaves no timer or listener', async () => {
      const { clock, policy, events, work, attempts } = setup({ maxHedgedAttempts: 3 });
      const controller = new AbortController();
      let added = 0;
      let removed = 0;
      const add = controller.signal.addEventListener.bind(controller.signal);
      const remove = controller.signal.removeEventListener.bind(controller.signal);
      controller.signal.addEventListener = (...args: Parameters<AbortSignal['addEventListener']>) => {
        added++;
        add(...args);
      };
      controller.signal.removeEventListener = (...args: Parameters<AbortSignal['removeEventListener']>) => {
        removed++;
        remove(...args);
      };
      const call = track(policy.execute(work, { signal: controller.signal }));
      await clock.advance(150);
      expect(clock.pendingTimers).toBe(1);
      const reason = new Error('caller gave up');
      controller.abort(reason);
      await clock.flush();
      expect(call.error).toBe(reason);
      expect(attempts.map((attempt) => attempt.signal.reason as unknown)).toEqual([reason, reason]);
      expect(clock.pendingTimers).toBe(0);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      expect(added).toBeGreaterThan(0);
      // Attempts rejecting with the reason afterwards change nothing.
      for (const attempt of attempts) attempt.reject(attempt.signal.reason);
      await clock.advance(1_000);
      expect(attempts).toHaveLength(2);
      expect(events.map((event) => event.type)).toEqual(['hedge.started', 'execution.failed']);
      expect(removed).toBeLessThanOrEqual(added);
    });

    it('leaves no listener on the caller signal after a success', async () => {
      const { clock, policy, work, attempts } = setup();
      const controller = new AbortController();
      const call = track(policy.execute(work, { signal: controller.signal }));
      await clock.advance(100);
      attempts[0]!.resolve('first');
      await clock.flush();
      expect(call.value).toBe('first');
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    });
  });

  it('inside compose(timeout, hedge), the deadline aborts every attempt and clears the hedge timer', async () => {
    const clock = new FakeClock();
    const { work, attempts } = controllableWork(clock);
    const pipeline = compose(
      timeout({ timeoutMs: 250, clock }),
      hedge({ delayMs: 100, maxHedgedAttempts: 3, clock }),
    );
    const call = track(
      pipeline.execute(async (context) => {
        const answer = work(context);
        // The attempt honours its signal, as fetch does.
        return new Promise<string>((resolve, reject) => {
          context.signal.addEventListener('abort', () => {
            reject(context.signal.reason as Error);
          });
          answer.then(resolve, reject);
        });
      }),
    );
    await clock.advance(250);
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(attempts).toHaveLength(3);
    for (const attempt of attempts) expect(attempt.signal.reason).toBe(call.error);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a throwing listener changes nothing', async () => {
    const { clock, policy, work, attempts } = setup();
    policy.onEvent(() => {
      throw new Error('listener bug');
    });
    const call = track(policy.execute(work));
    await clock.advance(100);
    expect(attempts).toHaveLength(2);
    attempts[1]!.resolve('second');
    await clock.flush();
    expect(call.value).toBe('second');
    expect(clock.pendingTimers).toBe(0);
  });

  it('wrap keeps the arguments', async () => {
    const { policy } = setup();
    const add = policy.wrap((a: number, b: number) => a + b);
    await expect(add(2, 3)).resolves.toBe(5);
  });

  it.each<[unknown, ErrorConstructor, string]>([
    [{}, TypeError, 'hedge "hedge": delayMs is required'],
    [{ delayMs: -1 }, RangeError, 'hedge "hedge": delayMs must be >= 0, got -1'],
    [{ delayMs: Infinity }, RangeError, 'hedge "hedge": delayMs must be a finite number, got Infinity'],
    [
      { delayMs: 10, maxHedgedAttempts: 0 },
      RangeError,
      'hedge "hedge": maxHedgedAttempts must be >= 1, got 0',
    ],
    [
      { delayMs: 10, maxHedgedAttempts: 1.5 },
      RangeError,
      'hedge "hedge": maxHedgedAttempts must be an integer, got 1.5',
    ],
    [
      { delayMs: 10, maxHedgedAttempts: 101 },
      RangeError,
      'hedge "hedge": maxHedgedAttempts must be <= 100, got 101',
    ],
    [{ delayMs: 10, name: '' }, TypeError, 'hedge "": name must be a non-empty string, got ""'],
    [{ delayMs: 10, clock: {} }, TypeError, 'hedge "hedge": clock must be a Clock'],
    [{ delayMs: 10, delay: 5 }, TypeError, 'hedge "hedge": delay is not a known option'],
  ])('rejects bad options %j with a named error', (options, errorClass, message) => {
    expect(() => hedge(options as HedgeOptions)).toThrow(errorClass);
    expect(() => hedge(options as HedgeOptions)).toThrow(message);
  });
});
