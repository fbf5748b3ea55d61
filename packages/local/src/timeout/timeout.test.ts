import { getEventListeners } from 'node:events';

import { describe, expect, it } from 'vitest';

import { timeout } from './timeout.js';
import type { TimeoutOptions } from './timeout-options.js';
import { backoff } from '../backoff/backoff.js';
import { compose } from '../compose/compose.js';
import { RetryExhaustedError, TimeoutError } from '../errors/errors.js';
import { retry } from '../retry/retry.js';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { withContext } from '../context/hyx-context.js';
import type { ResilienceEvent } from '../events/resilience-event.js';
import type { ExecutionContext } from '../policy/policy.js';
import { FakeClock } from '../testing/fake-clock.js';

/** Work that never settles by itself: it rejects with the signal's reason when aborted. */
function untilAborted({ signal }: ExecutionContext): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => {
      reject(signal.reason as Error);
    });
  });
}

/** Work that ignores its signal and settles only when the test says so. */
function deferred<T>(): {
  work: () => Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { work: () => promise, resolve, reject };
}

/** Records how a promise settled, without ever leaving a rejection unhandled. */
function track<T>(promise: Promise<T>): {
  state: 'pending' | 'fulfilled' | 'rejected';
  value?: T;
  error?: unknown;
} {
  const tracked: { state: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: unknown } = {
    state: 'pending',
  };
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

/** A caller's signal that counts the abort listeners added to and removed from it. */
function countingSignal(): {
  controller: AbortController;
  signal: AbortSignal;
  added: () => number;
  removed: () => number;
  attached: () => number;
} {
  const controller = new AbortController();
  const signal = controller.signal;
  let added = 0;
  let removed = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args: Parameters<AbortSignal['addEventListener']>) => {
    added++;
    add(...args);
  };
  signal.removeEventListener = (...args: Parameters<AbortSignal['removeEventListener']>) => {
    removed++;
    remove(...args);
  };
  return {
    controller,
    signal,
    added: () => added,
    removed: () => removed,
    attached: () => getEventListeners(signal, 'abort').length,
  };
}

/** A clock that records every `keepAlive` call, around a FakeClock. */
function keepAliveRecordingClock(fake: FakeClock): Clock & { readonly keepAliveCalls: boolean[] } {
  const keepAliveCalls: boolean[] = [];
  return {
    keepAliveCalls,
    now: () => fake.now(),
    setTimeout: (callback, delayMs) => fake.setTimeout(callback, delayMs),
    clearTimeout: (handle) => {
      fake.clearTimeout(handle);
    },
    keepAlive: (_handle: TimerHandle, keepsProcessAlive: boolean) => {
      keepAliveCalls.push(keepsProcessAlive);
    },
  };
}

/** A FakeClock whose `now()` can be stepped backwards or forwards like a wall clock under NTP. */
function steppableClock(fake: FakeClock): Clock & { step: (ms: number) => void } {
  let offsetMs = 0;
  return {
    now: () => fake.now() + offsetMs,
    setTimeout: (callback, delayMs) => fake.setTimeout(callback, delayMs),
    clearTimeout: (handle) => {
      fake.clearTimeout(handle);
    },
    keepAlive: () => {},
    step: (ms) => {
      offsetMs += ms;
    },
  };
}

describe('timeout', () => {
  it('passes a result through and leaves the work a signal that never aborted', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    let signal: AbortSignal | undefined;
    await expect(
      policy.execute((context) => {
        signal = context.signal;
        return 'ok';
      }),
    ).resolves.toBe('ok');
    expect(signal?.aborted).toBe(false);
  });

  it('aborts the work at the deadline with a TimeoutError as the signal reason', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock, name: 'search' });
    let signal: AbortSignal | undefined;
    const call = track(
      policy.execute((context) => {
        signal = context.signal;
        return untilAborted(context);
      }),
    );
    await clock.advance(99);
    expect(call.state).toBe('pending');
    expect(signal?.aborted).toBe(false);
    await clock.advance(1);
    expect(call.state).toBe('rejected');
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(call.error).toBe(signal?.reason);
    expect(call.error).toMatchObject({
      code: 'TIMEOUT',
      policyKind: 'timeout',
      policyName: 'search',
      timeoutMs: 100,
      message: 'timeout "search": timed out after 100 ms',
    });
  });

  it('turns a synchronous throw of the work into a rejection', async () => {
    const policy = timeout({ timeoutMs: 100, clock: new FakeClock() });
    await expect(
      policy.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
  });

  it('passes an error from before the deadline through unchanged', async () => {
    const clock = new FakeClock();
    const failure = new Error('boom');
    const call = track(timeout({ timeoutMs: 100, clock }).execute(() => Promise.reject(failure)));
    await clock.advance(0);
    expect(call.error).toBe(failure);
  });

  describe("strategy 'cooperative' (the default)", () => {
    it('waits for work that ignores its signal, and returns a value it returns anyway', async () => {
      const clock = new FakeClock();
      const { work, resolve } = deferred<string>();
      const events: ResilienceEvent[] = [];
      const policy = timeout({ timeoutMs: 100, clock });
      policy.onEvent((event) => events.push(event));
      const call = track(policy.execute(work));
      await clock.advance(150);
      expect(call.state).toBe('pending');
      resolve('late but fine');
      await clock.flush();
      expect(call).toMatchObject({ state: 'fulfilled', value: 'late but fine' });
      expect(events.map((event) => event.type)).toEqual(['timeout.elapsed', 'execution.succeeded']);
    });

    it("turns a rejection after the deadline into a TimeoutError with the work's error as cause", async () => {
      const clock = new FakeClock();
      const { work, reject } = deferred<string>();
      const call = track(timeout({ timeoutMs: 100, clock }).execute(work));
      await clock.advance(100);
      const failure = new Error('socket closed');
      reject(failure);
      await clock.flush();
      expect(call.error).toBeInstanceOf(TimeoutError);
      expect((call.error as TimeoutError).cause).toBe(failure);
    });
  });

  describe("strategy 'aggressive'", () => {
    it('rejects at the deadline even when the work ignores its signal', async () => {
      const clock = new FakeClock();
      const { work, reject } = deferred<string>();
      const call = track(timeout({ timeoutMs: 100, clock, strategy: 'aggressive' }).execute(work));
      await clock.advance(99);
      expect(call.state).toBe('pending');
      await clock.advance(1);
      expect(call.error).toBeInstanceOf(TimeoutError);
      // The abandoned work failing later changes nothing and is not an unhandled rejection.
      reject(new Error('late failure'));
      await clock.flush();
      expect(call.error).toBeInstanceOf(TimeoutError);
    });

    it('still hands the work a signal that aborts with the same TimeoutError', async () => {
      const clock = new FakeClock();
      let signal: AbortSignal | undefined;
      const call = track(
        timeout({ timeoutMs: 100, clock, strategy: 'aggressive' }).execute(({ signal: given }) => {
          signal = given;
          return new Promise(() => {});
        }),
      );
      await clock.advance(100);
      expect(signal?.reason).toBe(call.error);
    });
  });

  describe("the caller's abort", () => {
    it.each(['cooperative', 'aggressive'] as const)(
      'rejects at once without running the work when the signal is already aborted (%s)',
      async (strategy) => {
        const caller = countingSignal();
        const reason = new Error('caller gave up');
        caller.controller.abort(reason);
        let ran = false;
        const policy = timeout({ timeoutMs: 100, clock: new FakeClock(), strategy });
        await expect(
          policy.execute(
            () => {
              ran = true;
            },
            { signal: caller.signal },
          ),
        ).rejects.toBe(reason);
        expect(ran).toBe(false);
        expect(caller.added()).toBe(0);
      },
    );

    it.each(['cooperative', 'aggressive'] as const)(
      'rejects with the reason during the work, is no timeout, and leaves no listener (%s)',
      async (strategy) => {
        const clock = new FakeClock();
        const caller = countingSignal();
        const events: ResilienceEvent[] = [];
        const policy = timeout({ timeoutMs: 100, clock, strategy });
        policy.onEvent((event) => events.push(event));
        // The work ignores its signal: the call must still end at the caller's abort.
        const call = track(policy.execute(() => new Promise(() => {}), { signal: caller.signal }));
        await clock.advance(50);
        const reason = new Error('caller gave up');
        caller.controller.abort(reason);
        await clock.flush();
        expect(call.error).toBe(reason);
        await clock.advance(100);
        expect(events.map((event) => event.type)).toEqual(['execution.failed']);
        expect(caller.attached()).toBe(0);
      },
    );

    it('aborts the work signal with the caller reason, not a TimeoutError', async () => {
      const clock = new FakeClock();
      const caller = countingSignal();
      let workSignal: AbortSignal | undefined;
      const call = track(
        timeout({ timeoutMs: 100, clock }).execute(
          (context) => {
            workSignal = context.signal;
            return untilAborted(context);
          },
          { signal: caller.signal },
        ),
      );
      await clock.advance(10);
      const reason = new Error('caller gave up');
      caller.controller.abort(reason);
      await clock.advance(200);
      expect(call.error).toBe(reason);
      expect(workSignal?.reason).toBe(reason);
      expect(caller.attached()).toBe(0);
    });

    it("keeps the caller's reason when the caller aborts after the deadline (cooperative)", async () => {
      const clock = new FakeClock();
      const caller = countingSignal();
      const call = track(
        timeout({ timeoutMs: 100, clock }).execute(() => new Promise(() => {}), { signal: caller.signal }),
      );
      await clock.advance(150);
      const reason = new Error('caller gave up');
      caller.controller.abort(reason);
      await clock.flush();
      expect(call.error).toBe(reason);
      expect(caller.attached()).toBe(0);
    });

    it.each([
      ['cooperative', false],
      ['cooperative', true],
      ['aggressive', false],
      ['aggressive', true],
    ] as const)(
      'leaves no listener on the caller signal after success (%s, work reads signal: %s)',
      async (strategy, readsSignal) => {
        const clock = new FakeClock();
        const caller = countingSignal();
        const policy = timeout({ timeoutMs: 100, clock, strategy });
        await policy.execute(
          (context) => {
            if (readsSignal) expect(context.signal.aborted).toBe(false);
            return 'ok';
          },
          { signal: caller.signal },
        );
        expect(caller.attached()).toBe(0);
        expect(caller.added()).toBe(caller.removed());
      },
    );
  });

  it('times out many overlapping calls each at its own deadline with one timer', async () => {
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    const endedAt: number[] = [];
    const calls: Promise<void>[] = [];
    for (let index = 0; index < 50; index++) {
      const startedAt = clock.now();
      calls.push(
        policy.execute(untilAborted).catch((error: unknown) => {
          expect(error).toBeInstanceOf(TimeoutError);
          endedAt.push(clock.now() - startedAt);
        }),
      );
      expect(clock.pendingTimers).toBe(1);
      await clock.advance(7);
    }
    await clock.advance(100);
    await Promise.all(calls);
    expect(endedAt).toEqual(Array.from({ length: 50 }, () => 100));
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps the deadlines of calls that outlive the ones settling around them', async () => {
    // Interleaving: A (t=0) and C (t=20) time out; B (t=10) and D (t=30) succeed early, B before A.
    const clock = new FakeClock();
    const policy = timeout({ timeoutMs: 100, clock });
    const a = track(policy.execute(untilAborted));
    await clock.advance(10);
    const b = deferred<string>();
    const callB = track(policy.execute(b.work));
    await clock.advance(5);
    b.resolve('b');
    await clock.advance(5);
    const c = track(policy.execute(untilAborted));
    await clock.advance(10);
    const d = deferred<string>();
    const callD = track(policy.execute(d.work));
    await clock.advance(69);
    expect([a.state, c.state]).toEqual(['pending', 'pending']);
    d.resolve('d');
    await clock.advance(1);
    expect(a.state).toBe('rejected');
    expect(c.state).toBe('pending');
    await clock.advance(19);
    expect(c.state).toBe('pending');
    await clock.advance(1);
    expect(c.state).toBe('rejected');
    expect([callB.value, callD.value]).toEqual(['b', 'd']);
  });

  describe('the shared timer', () => {
    it('lets the process go when no call is in flight and is gone after one timeoutMs', async () => {
      const fake = new FakeClock();
      const clock = keepAliveRecordingClock(fake);
      const policy = timeout({ timeoutMs: 100, clock });
      await policy.execute(() => 'ok');
      expect(clock.keepAliveCalls).toEqual([false]);
      // Released, not cleared: clearing and re-arming per call would cost more than the call itself.
      expect(fake.pendingTimers).toBe(1);
      await fake.advance(100);
      expect(fake.pendingTimers).toBe(0);
    });

    it('holds the process while a later call is in flight, and releases it again after', async () => {
      const fake = new FakeClock();
      const clock = keepAliveRecordingClock(fake);
      const policy = timeout({ timeoutMs: 100, clock });
      await policy.execute(() => 'first');
      const second = deferred<string>();
      const call = policy.execute(second.work);
      expect(clock.keepAliveCalls).toEqual([false, true]);
      second.resolve('second');
      await call;
      expect(clock.keepAliveCalls).toEqual([false, true, false]);
      await fake.advance(200);
      expect(fake.pendingTimers).toBe(0);
    });

    it('clears the timer when idle if the clock cannot release it', async () => {
      const fake = new FakeClock();
      const clock: Clock = {
        now: () => fake.now(),
        setTimeout: (callback, delayMs) => fake.setTimeout(callback, delayMs),
        clearTimeout: (handle) => {
          fake.clearTimeout(handle);
        },
      };
      const policy = timeout({ timeoutMs: 100, clock });
      await policy.execute(() => 'ok');
      expect(fake.pendingTimers).toBe(0);
      const call = track(policy.execute(untilAborted));
      await fake.advance(100);
      expect(call.error).toBeInstanceOf(TimeoutError);
      expect(fake.pendingTimers).toBe(0);
    });

    it('is a real Node timer that keeps the process alive only while a call is in flight', async () => {
      const handles: TimerHandle[] = [];
      const clock: Clock = {
        ...systemClock,
        setTimeout: (callback, delayMs) => {
          const handle = systemClock.setTimeout(callback, delayMs);
          handles.push(handle);
          return handle;
        },
      };
      const policy = timeout({ timeoutMs: 60_000, clock });
      const work = deferred<string>();
      const call = policy.execute(work.work);
      const timer = handles[0] as unknown as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(true);
      work.resolve('done');
      await call;
      expect(timer.hasRef()).toBe(false);
      systemClock.clearTimeout(handles[0]!);
    });
  });

  describe('a wall clock that steps', () => {
    it('still times out on time when the clock steps back during the call', async () => {
      const fake = new FakeClock();
      const clock = steppableClock(fake);
      const call = track(timeout({ timeoutMs: 100, clock }).execute(untilAborted));
      await fake.advance(50);
      clock.step(-10_000);
      await fake.advance(49);
      expect(call.state).toBe('pending');
      await fake.advance(1);
      expect(call.error).toBeInstanceOf(TimeoutError);
    });

    it('is late by at most the pending timer delay for a call that starts around a step back', async () => {
      // A (t=0) arms the timer for t=100; B starts at t=60; the clock steps back 10 s at t=70.
      // B's wall-clock deadline is frozen by the step; the timer evidence ends it by t=200.
      const fake = new FakeClock();
      const clock = steppableClock(fake);
      const policy = timeout({ timeoutMs: 100, clock });
      const a = track(policy.execute(untilAborted));
      await fake.advance(60);
      const startedB = fake.now();
      let endedB = Number.NaN;
      const b = track(
        policy.execute(untilAborted).finally(() => {
          endedB = fake.now();
        }),
      );
      await fake.advance(10);
      clock.step(-10_000);
      await fake.advance(30);
      expect(a.error).toBeInstanceOf(TimeoutError);
      await fake.advance(200);
      expect(b.error).toBeInstanceOf(TimeoutError);
      expect(endedB - startedB).toBeGreaterThanOrEqual(100);
      expect(endedB - startedB).toBeLessThanOrEqual(100 + 100);
    });

    it('never ends a call early when the clock steps back before it starts', async () => {
      const fake = new FakeClock();
      const clock = steppableClock(fake);
      const policy = timeout({ timeoutMs: 100, clock });
      await policy.execute(() => 'arms the timer');
      await fake.advance(30);
      clock.step(-5_000);
      const call = track(policy.execute(untilAborted));
      await fake.advance(99);
      expect(call.state).toBe('pending');
      await fake.advance(1);
      expect(call.error).toBeInstanceOf(TimeoutError);
    });
  });

  describe('with retry in compose', () => {
    it('compose(retry, timeout) gives every attempt its own deadline', async () => {
      const clock = new FakeClock();
      const pipeline = compose(
        retry({ maxAttempts: 3, backoff: backoff.constant({ delayMs: 10 }), clock }),
        timeout({ timeoutMs: 100, clock }),
      );
      const attempts: [number, number][] = [];
      const call = track(
        pipeline.execute((context) => {
          attempts.push([context.attempt, clock.now()]);
          return context.attempt < 3 ? untilAborted(context) : 'third time lucky';
        }),
      );
      await clock.advance(1_000);
      expect(call.value).toBe('third time lucky');
      expect(attempts).toEqual([
        [1, 0],
        [2, 110],
        [3, 220],
      ]);
      expect(clock.pendingTimers).toBe(0);
    });

    it('compose(retry, timeout) reports exhaustion with the last TimeoutError as cause', async () => {
      const clock = new FakeClock();
      const pipeline = compose(
        retry({ maxAttempts: 2, backoff: backoff.constant({ delayMs: 10 }), clock }),
        timeout({ timeoutMs: 100, clock }),
      );
      const call = track(pipeline.execute(untilAborted));
      await clock.advance(1_000);
      expect(call.error).toBeInstanceOf(RetryExhaustedError);
      expect((call.error as RetryExhaustedError).cause).toBeInstanceOf(TimeoutError);
    });

    it('compose(timeout, retry) puts one deadline around all attempts and their backoff sleeps', async () => {
      // Each attempt fails after 40 ms and the backoff is 10 ms: attempts start at 0, 50, ..., 200,
      // and the deadline at 245 falls in the sleep after the fifth attempt.
      const clock = new FakeClock();
      const pipeline = compose(
        timeout({ timeoutMs: 245, clock }),
        retry({ maxAttempts: 100, backoff: backoff.constant({ delayMs: 10 }), clock }),
      );
      const startedAt: number[] = [];
      const call = track(
        pipeline.execute(() => {
          startedAt.push(clock.now());
          return new Promise((_, reject) => {
            clock.setTimeout(() => {
              reject(new Error('unavailable'));
            }, 40);
          });
        }),
      );
      await clock.advance(244);
      expect(call.state).toBe('pending');
      await clock.advance(1);
      expect(call.error).toBeInstanceOf(TimeoutError);
      await clock.advance(1_000);
      expect(startedAt).toEqual([0, 50, 100, 150, 200]);
      expect(clock.pendingTimers).toBe(0);
    });

    it('hands the retry attempt number through to the work', async () => {
      const clock = new FakeClock();
      const pipeline = compose(
        retry({ maxAttempts: 2, backoff: backoff.constant({ delayMs: 0 }), clock }),
        timeout({ timeoutMs: 100, clock }),
      );
      const seen: number[] = [];
      const call = track(
        pipeline.execute(({ attempt }) => {
          seen.push(attempt);
          return attempt === 1 ? Promise.reject(new Error('first')) : 'ok';
        }),
      );
      await clock.advance(10);
      expect(call.value).toBe('ok');
      expect(seen).toEqual([1, 2]);
    });
  });

  describe('events', () => {
    it('emits timeout.elapsed then execution.failed, and a throwing listener changes nothing', async () => {
      const clock = new FakeClock();
      const events: ResilienceEvent[] = [];
      const policy = timeout({ timeoutMs: 100, clock, name: 'search' });
      policy.onEvent(() => {
        throw new Error('listener bug');
      });
      policy.onEvent((event) => events.push(event));
      const call = track(policy.execute(untilAborted));
      await clock.advance(100);
      expect(call.error).toBeInstanceOf(TimeoutError);
      expect(events).toEqual([
        { type: 'timeout.elapsed', policyKind: 'timeout', policyName: 'search', timeoutMs: 100 },
        {
          type: 'execution.failed',
          policyKind: 'timeout',
          policyName: 'search',
          durationMs: 100,
          error: call.error,
        },
      ]);
      await expect(policy.execute(() => 'ok')).resolves.toBe('ok');
      expect(events.at(-1)).toMatchObject({ type: 'execution.succeeded', durationMs: 0 });
    });

    it("stamps timeout.elapsed with the timed-out call's correlation id, not the one that armed the timer", async () => {
      const clock = new FakeClock();
      const policy = timeout({ timeoutMs: 100, clock });
      const elapsed: (string | undefined)[] = [];
      policy.onEvent((event) => {
        if (event.type === 'timeout.elapsed') elapsed.push(event.correlationId);
      });
      const first = track(withContext({ correlationId: 'first' }, () => policy.execute(untilAborted)));
      await clock.advance(10);
      const second = track(withContext({ correlationId: 'second' }, () => policy.execute(untilAborted)));
      await clock.advance(100);
      expect([first.state, second.state]).toEqual(['rejected', 'rejected']);
      expect(elapsed).toEqual(['first', 'second']);
    });
  });

  it('wrap keeps the arguments', async () => {
    const policy = timeout({ timeoutMs: 100, clock: new FakeClock() });
    const add = policy.wrap((a: number, b: number) => a + b);
    await expect(add(2, 3)).resolves.toBe(5);
  });

  it.each<[unknown, ErrorConstructor, string]>([
    [{}, TypeError, 'timeout "timeout": timeoutMs is required'],
    [{ timeoutMs: 0 }, RangeError, 'timeout "timeout": timeoutMs must be > 0, got 0'],
    [{ timeoutMs: -5 }, RangeError, 'timeout "timeout": timeoutMs must be > 0, got -5'],
    [{ timeoutMs: Number.NaN }, RangeError, 'timeout "timeout": timeoutMs must be a finite number, got NaN'],
    [
      { timeoutMs: 2 ** 31 },
      RangeError,
      'timeout "timeout": timeoutMs must be <= 2147483647, got 2147483648',
    ],
    [{ timeoutMs: '100' }, TypeError, 'timeout "timeout": timeoutMs must be a finite number, got "100"'],
    [
      { timeoutMs: 100, strategy: 'optimistic' },
      TypeError,
      'timeout "timeout": strategy must be one of "cooperative", "aggressive", got "optimistic"',
    ],
    [
      { timeoutMs: 100, name: ' x' },
      TypeError,
      'timeout " x": name must not have surrounding spaces or braces',
    ],
    [{ timeoutMs: 100, clock: Date }, TypeError, 'timeout "timeout": clock must be a Clock'],
    [{ timeoutMs: 100, timeout: 5 }, TypeError, 'timeout "timeout": timeout is not a known option'],
    [null, TypeError, 'timeout "timeout": options must be an object, got null'],
  ])('rejects bad options %j with a named error', (options, errorClass, message) => {
    expect(() => timeout(options as TimeoutOptions)).toThrow(errorClass);
    expect(() => timeout(options as TimeoutOptions)).toThrow(message);
  });

  it('treats an undefined option as absent', async () => {
    const policy = timeout({ timeoutMs: 100, strategy: undefined, clock: new FakeClock() });
    await expect(policy.execute(() => 'ok')).resolves.toBe('ok');
  });
});
