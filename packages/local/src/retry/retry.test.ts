import { describe, expect, expectTypeOf, it } from 'vitest';

import { backoff } from '../backoff/backoff.js';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { RateLimitedError, RetryExhaustedError } from '../errors/errors.js';
import type { ResilienceEvent } from '../events/resilience-event.js';
import type { ExecutionContext } from '../policy/policy.js';
import { FakeClock } from '../testing/fake-clock.js';
import { retry } from './retry.js';
import { retryAfterDelay } from './retry-after-delay.js';
import { retryBudget } from './retry-budget.js';
import type { RetryOptions } from './retry-options.js';

/** Work that fails `failures` times (with errors made by `makeError`), then returns `value`. */
function flaky<T>(failures: number, value: T, makeError = (attempt: number) => new Error(`fail ${attempt}`)) {
  const calls: { attempt: number; atMs: number }[] = [];
  let clock: Clock | undefined;
  const work = (context: ExecutionContext): Promise<T> => {
    calls.push({ attempt: context.attempt, atMs: clock?.now() ?? 0 });
    return calls.length <= failures ? Promise.reject(makeError(calls.length)) : Promise.resolve(value);
  };
  return {
    work,
    calls,
    timedBy(source: Clock) {
      clock = source;
      return this;
    },
  };
}

/** A retry on a fresh FakeClock with a constant 100 ms backoff unless told otherwise. */
function setup(options: RetryOptions = {}) {
  const clock = new FakeClock();
  const events: ResilienceEvent[] = [];
  const policy = retry({ backoff: backoff.constant({ delayMs: 100 }), clock, ...options });
  return { clock, policy, events, listen: () => policy.onEvent((event) => events.push(event)) };
}

/** Settles `promise` without letting a rejection go unhandled, for inspection after time moved. */
function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** A clock that counts what the policy asks of it. */
class CountingClock implements Clock {
  nowCalls = 0;
  timers = 0;
  now(): number {
    this.nowCalls++;
    return 0;
  }
  setTimeout(): TimerHandle {
    this.timers++;
    return 0 as unknown as TimerHandle;
  }
  clearTimeout(): void {}
}

describe('retry: the success path', () => {
  it('returns the first result with attempt 1, no timer and no clock read', async () => {
    const clock = new CountingClock();
    const policy = retry({ clock });
    const seen: number[] = [];
    await expect(
      policy.execute(({ attempt }) => {
        seen.push(attempt);
        return 'ok';
      }),
    ).resolves.toBe('ok');
    expect(seen).toEqual([1]);
    expect(clock.nowCalls).toBe(0);
    expect(clock.timers).toBe(0);
  });

  it('hands the work the caller signal', async () => {
    const controller = new AbortController();
    const { policy } = setup();
    let received: AbortSignal | undefined;
    await policy.execute(
      ({ signal }) => {
        received = signal;
      },
      { signal: controller.signal },
    );
    expect(received).toBe(controller.signal);
  });
});

describe('retry: attempts and delays', () => {
  it('retries errors after the backoff delay, numbering attempts 1, 2, 3', async () => {
    const { clock, policy } = setup();
    const flakyWork = flaky(2, 'ok').timedBy(clock);
    const call = policy.execute(flakyWork.work);
    await clock.advance(99);
    expect(flakyWork.calls).toHaveLength(1);
    await clock.advance(1);
    expect(flakyWork.calls).toHaveLength(2);
    await clock.advance(100);
    await expect(call).resolves.toBe('ok');
    expect(flakyWork.calls).toEqual([
      { attempt: 1, atMs: 0 },
      { attempt: 2, atMs: 100 },
      { attempt: 3, atMs: 200 },
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('retries a synchronous throw of the work', async () => {
    const { clock, policy } = setup();
    let calls = 0;
    const call = policy.execute(() => {
      calls++;
      if (calls === 1) throw new Error('sync');
      return 'ok';
    });
    await clock.advance(100);
    await expect(call).resolves.toBe('ok');
    expect(calls).toBe(2);
  });

  it('waits the delays of the backoff (exponential, equal jitter, fixed random)', async () => {
    const { clock, policy } = setup({
      maxAttempts: 5,
      backoff: backoff.exponential({ initialDelayMs: 100, jitter: 'equal', random: () => 0.5 }),
    });
    const flakyWork = flaky(4, 'ok').timedBy(clock);
    const call = policy.execute(flakyWork.work);
    await clock.runAll();
    await expect(call).resolves.toBe('ok');
    // 75, 150, 300, 600 ms apart: delay/2 + 0.5 × delay/2.
    expect(flakyWork.calls.map((call) => call.atMs)).toEqual([0, 75, 225, 525, 1_125]);
  });

  it('caps every delay at maxDelayMs', async () => {
    const { clock, policy, events, listen } = setup({
      maxAttempts: 3,
      maxDelayMs: 1_000,
      backoff: backoff.constant({ delayMs: 5_000 }),
    });
    listen();
    const call = policy.execute(flaky(2, 'ok').work);
    await clock.advance(2_000);
    await expect(call).resolves.toBe('ok');
    const delays = events.flatMap((event) => (event.type === 'retry.scheduled' ? [event.delayMs] : []));
    expect(delays).toEqual([1_000, 1_000]);
  });

  it('keeps a user backoff that returns NaN, Infinity or a negative number within [0, maxDelayMs]', async () => {
    const values = [Number.NaN, Infinity, -5];
    const { clock, policy, events, listen } = setup({
      maxAttempts: 4,
      maxDelayMs: 500,
      backoff: { start: () => ({ nextDelayMs: () => values.shift()! }) },
    });
    listen();
    const call = policy.execute(flaky(3, 'ok').work);
    await clock.runAll();
    await expect(call).resolves.toBe('ok');
    const delays = events.flatMap((event) => (event.type === 'retry.scheduled' ? [event.delayMs] : []));
    expect(delays).toEqual([0, 500, 0]);
  });

  it('starts a fresh backoff sequence for each execution', async () => {
    const { clock, policy } = setup({ backoff: backoff.exponential({ initialDelayMs: 100 }) });
    for (let run = 0; run < 2; run++) {
      const flakyWork = flaky(1, 'ok').timedBy(clock);
      const startMs = clock.now();
      const call = policy.execute(flakyWork.work);
      await clock.runAll();
      await call;
      expect(flakyWork.calls[1]!.atMs - startMs).toBe(100);
    }
  });
});

describe('retry: what is retried', () => {
  it('rethrows an error that shouldHandle declines, unchanged and without retrying', async () => {
    const { policy } = setup({ shouldHandle: (error) => !(error instanceof TypeError) });
    const failure = new TypeError('bad input');
    let calls = 0;
    await expect(
      policy.execute(() => {
        calls++;
        return Promise.reject(failure);
      }),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);
  });

  it('retries results that shouldHandleResult rejects and returns the first it accepts', async () => {
    const { clock, policy } = setup({
      shouldHandleResult: (response) => (response as { status: number }).status >= 500,
    });
    const statuses = [503, 502, 200];
    const call = policy.execute(() => ({ status: statuses.shift()! }));
    await clock.runAll();
    await expect(call).resolves.toEqual({ status: 200 });
  });

  it("never retries the caller's abort, even with a shouldHandle that accepts everything", async () => {
    const controller = new AbortController();
    const reason = new Error('caller stopped');
    const { clock, policy } = setup({ shouldHandle: () => true });
    let calls = 0;
    const call = policy.execute(
      ({ signal }) => {
        calls++;
        return new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            reject(signal.reason as Error);
          });
        });
      },
      { signal: controller.signal },
    );
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(calls).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('retry: giving up', () => {
  it('rejects with RetryExhaustedError carrying the last error as cause and every error', async () => {
    const { clock, policy } = setup({ name: 'orders', maxAttempts: 3 });
    const flakyWork = flaky(10, 'never');
    const outcome = settle(policy.execute(flakyWork.work));
    await clock.runAll();
    const { error } = await outcome;
    expect(error).toBeInstanceOf(RetryExhaustedError);
    const exhausted = error as RetryExhaustedError;
    expect(exhausted).toMatchObject({
      code: 'RETRY_EXHAUSTED',
      policyKind: 'retry',
      policyName: 'orders',
      attempts: 3,
      reason: 'max-attempts',
      message: 'retry "orders": gave up after 3 attempts (no attempts left)',
    });
    expect(exhausted.errors.map((e) => (e as Error).message)).toEqual(['fail 1', 'fail 2', 'fail 3']);
    expect(exhausted.cause).toBe(exhausted.errors[2]);
    expect(flakyWork.calls).toHaveLength(3);
    expect(clock.pendingTimers).toBe(0);
  });

  it('reports the last rejected result when the attempts run out on results', async () => {
    const { clock, policy } = setup({ maxAttempts: 3, shouldHandleResult: (result) => result === 'busy' });
    let calls = 0;
    const outcome = settle(
      policy.execute(() => {
        calls++;
        return calls === 1 ? Promise.reject(new Error('first')) : Promise.resolve('busy');
      }),
    );
    await clock.runAll();
    const error = (await outcome).error as RetryExhaustedError;
    expect(error.lastResult).toBe('busy');
    expect(error.errors.map((e) => (e as Error).message)).toEqual(['first']);
    expect('cause' in error).toBe(false);
  });

  it('makes a single attempt with maxAttempts 1', async () => {
    const { policy } = setup({ maxAttempts: 1 });
    const flakyWork = flaky(1, 'ok');
    await expect(policy.execute(flakyWork.work)).rejects.toMatchObject({
      attempts: 1,
      reason: 'max-attempts',
    });
    expect(flakyWork.calls).toHaveLength(1);
  });

  it('keeps the most recent 1,000 errors of a very long execution', async () => {
    const { clock, policy } = setup({ maxAttempts: 1_003, backoff: backoff.constant({ delayMs: 0 }) });
    const outcome = settle(policy.execute(flaky(2_000, 'never').work));
    await clock.runAll();
    const error = (await outcome).error as RetryExhaustedError;
    expect(error.attempts).toBe(1_003);
    expect(error.errors).toHaveLength(1_000);
    expect((error.errors[0] as Error).message).toBe('fail 4');
    expect((error.cause as Error).message).toBe('fail 1003');
  });
});

describe('retry: the delay hook and Retry-After', () => {
  it('waits the retryAfterMs an error carries (RateLimitedError) with retryAfterDelay', async () => {
    const { clock, policy } = setup({ delay: retryAfterDelay });
    const flakyWork = flaky(
      1,
      'ok',
      () => new RateLimitedError({ policyKind: 'rate-limiter', policyName: 'api' }, 2_500),
    );
    flakyWork.timedBy(clock);
    const call = policy.execute(flakyWork.work);
    await clock.advance(2_499);
    expect(flakyWork.calls).toHaveLength(1);
    await clock.advance(1);
    await expect(call).resolves.toBe('ok');
    expect(flakyWork.calls[1]!.atMs).toBe(2_500);
  });

  it('honours a retryAfterMs on a result, but never waits less than the backoff', async () => {
    const { clock, policy, events, listen } = setup({
      maxAttempts: 3,
      backoff: backoff.constant({ delayMs: 300 }),
      shouldHandleResult: (result) => (result as { status: number }).status === 429,
      delay: retryAfterDelay,
    });
    listen();
    const responses = [
      { status: 429, retryAfterMs: 1_000 },
      { status: 429, retryAfterMs: 10 },
      { status: 200 },
    ];
    const call = policy.execute(() => responses.shift()!);
    await clock.runAll();
    await expect(call).resolves.toEqual({ status: 200 });
    const delays = events.flatMap((event) => (event.type === 'retry.scheduled' ? [event.delayMs] : []));
    expect(delays).toEqual([1_000, 300]);
  });

  it('caps a Retry-After at maxDelayMs', async () => {
    const { clock, policy, events, listen } = setup({ maxDelayMs: 5_000, delay: retryAfterDelay });
    listen();
    const call = policy.execute(
      flaky(1, 'ok', () => Object.assign(new Error('busy'), { retryAfterMs: 3_600_000 })).work,
    );
    await clock.runAll();
    await call;
    expect(events.find((event) => event.type === 'retry.scheduled')).toMatchObject({ delayMs: 5_000 });
  });

  it('hands the hook the failed attempt, its error and the suggested delay', async () => {
    const contexts: unknown[] = [];
    const { clock, policy } = setup({
      backoff: backoff.linear({ initialDelayMs: 100 }),
      delay: (context) => {
        contexts.push(context);
        return undefined;
      },
    });
    const failure = new Error('x');
    let calls = 0;
    const call = policy.execute(() => (++calls < 3 ? Promise.reject(failure) : 'ok'));
    await clock.runAll();
    await call;
    expect(contexts).toEqual([
      { attempt: 1, error: failure, suggestedDelayMs: 100 },
      { attempt: 2, error: failure, suggestedDelayMs: 200 },
    ]);
  });

  it.each<[string, number, number]>([
    ['NaN keeps the suggestion', Number.NaN, 100],
    ['a negative delay becomes 0', -50, 0],
    ['Infinity becomes maxDelayMs', Infinity, 30_000],
    ['a chosen delay is used', 700, 700],
  ])('clamps what the hook returns: %s', async (_, returned, expected) => {
    const { clock, policy, events, listen } = setup({ delay: () => returned });
    listen();
    const call = policy.execute(flaky(1, 'ok').work);
    await clock.runAll();
    await call;
    expect(events.find((event) => event.type === 'retry.scheduled')).toMatchObject({ delayMs: expected });
  });
});

describe('retry: cancellation', () => {
  it('rejects with the reason without calling the work when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('early'));
    const { policy } = setup();
    let calls = 0;
    await expect(
      policy.execute(
        () => {
          calls++;
        },
        { signal: controller.signal },
      ),
    ).rejects.toThrow('early');
    expect(calls).toBe(0);
  });

  it('rejects with the reason, not the attempt error, when the caller aborts during an attempt', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const { clock, policy } = setup();
    let calls = 0;
    const outcome = settle(
      policy.execute(
        () => {
          calls++;
          // Work that ignores the signal and fails after the abort with an error of its own.
          return new Promise((_, reject) => {
            clock.setTimeout(() => {
              reject(new Error('late failure'));
            }, 50);
          });
        },
        { signal: controller.signal },
      ),
    );
    await clock.advance(10);
    controller.abort(reason);
    await clock.advance(40);
    expect((await outcome).error).toBe(reason);
    expect(calls).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('ends at once during a backoff sleep, with the reason and the timer cleared', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const { clock, policy, events, listen } = setup({ backoff: backoff.constant({ delayMs: 10_000 }) });
    listen();
    const flakyWork = flaky(5, 'ok');
    const outcome = settle(policy.execute(flakyWork.work, { signal: controller.signal }));
    await clock.advance(1_000);
    expect(clock.pendingTimers).toBe(1);
    controller.abort(reason);
    expect((await outcome).error).toBe(reason);
    expect(clock.pendingTimers).toBe(0);
    expect(flakyWork.calls).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'execution.failed', error: reason });
  });

  it('stops maxAttempts: Infinity when the caller aborts', async () => {
    const controller = new AbortController();
    const { clock, policy } = setup({ maxAttempts: Infinity, backoff: backoff.constant({ delayMs: 10 }) });
    const flakyWork = flaky(Infinity, 'never');
    const outcome = settle(policy.execute(flakyWork.work, { signal: controller.signal }));
    await clock.advance(1_000);
    controller.abort(new Error('enough'));
    expect(((await outcome).error as Error).message).toBe('enough');
    expect(flakyWork.calls).toHaveLength(101);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops maxAttempts: Infinity with 0 ms delays and synchronous failures when the caller aborts', async () => {
    const controller = new AbortController();
    const { clock, policy } = setup({ maxAttempts: Infinity, backoff: backoff.constant({ delayMs: 0 }) });
    let calls = 0;
    const outcome = settle(
      policy.execute(
        () => {
          if (++calls === 50) controller.abort(new Error('enough'));
          throw new Error('always');
        },
        { signal: controller.signal },
      ),
    );
    await clock.runAll();
    expect(((await outcome).error as Error).message).toBe('enough');
    expect(calls).toBe(50);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('retry: budget', () => {
  it('gives up with reason "budget" when the shared budget is spent, and retries again once it refills', async () => {
    const clock = new FakeClock();
    // No share of successes, a floor of 1 retry per second over a 1 s window: one retry per second.
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 1, windowMs: 1_000, clock });
    const events: ResilienceEvent[] = [];
    const policy = retry({ maxAttempts: 5, backoff: backoff.constant({ delayMs: 10 }), budget, clock });
    policy.onEvent((event) => events.push(event));

    const first = settle(policy.execute(flaky(10, 'never').work));
    await clock.runAll();
    expect((await first).error).toMatchObject({ attempts: 2, reason: 'budget' });
    expect((await first).error).toBeInstanceOf(RetryExhaustedError);
    expect(events.filter((event) => event.type === 'retry.exhausted')).toMatchObject([
      { attempts: 2, reason: 'budget' },
    ]);

    const second = settle(policy.execute(flaky(10, 'never').work));
    await clock.runAll();
    expect((await second).error).toMatchObject({ attempts: 1, reason: 'budget' });

    await clock.advance(2_000);
    const third = settle(policy.execute(flaky(1, 'ok').work));
    await clock.runAll();
    expect((await third).value).toBe('ok');
  });

  it('is shared by policies and earns retries from their successes', async () => {
    const clock = new FakeClock();
    const budget = retryBudget({ ratio: 0.5, minRetriesPerSecond: 0, windowMs: 10_000, clock });
    const reads = retry({ name: 'reads', budget, clock, backoff: backoff.constant({ delayMs: 0 }) });
    const writes = retry({ name: 'writes', budget, clock, backoff: backoff.constant({ delayMs: 0 }) });
    await expect(writes.execute(flaky(1, 'ok').work)).rejects.toMatchObject({ reason: 'budget' });
    await reads.execute(() => 'a');
    await reads.execute(() => 'b');
    const retried = settle(writes.execute(flaky(1, 'ok').work));
    await clock.runAll();
    expect((await retried).value).toBe('ok');
  });

  it('awaits a budget that answers with a promise (a shared, remote budget)', async () => {
    const { clock, policy } = setup({
      budget: { tryWithdraw: () => Promise.resolve(false), deposit: () => Promise.reject(new Error('down')) },
    });
    const outcome = settle(policy.execute(flaky(1, 'ok').work));
    await clock.runAll();
    expect((await outcome).error).toMatchObject({ reason: 'budget', attempts: 1 });
    // A deposit that fails does not turn a success into a failure.
    await expect(policy.execute(() => 'fine')).resolves.toBe('fine');
  });

  it('takes no token for the first attempt nor when no attempt is left', async () => {
    let withdrawals = 0;
    const { clock, policy } = setup({
      maxAttempts: 2,
      budget: {
        tryWithdraw: () => {
          withdrawals++;
          return true;
        },
        deposit: () => {},
      },
    });
    const outcome = settle(policy.execute(flaky(5, 'never').work));
    await clock.runAll();
    expect((await outcome).error).toMatchObject({ reason: 'max-attempts', attempts: 2 });
    expect(withdrawals).toBe(1);
  });
});

describe('retry: events', () => {
  it('reports each scheduled retry and the duration of the whole execution', async () => {
    const { clock, policy, events, listen } = setup({ name: 'api' });
    listen();
    const failure = new Error('fail 1');
    const call = policy.execute(flaky(1, 'ok', () => failure).work);
    await clock.runAll();
    await call;
    expect(events).toEqual([
      {
        type: 'retry.scheduled',
        policyKind: 'retry',
        policyName: 'api',
        attempt: 1,
        delayMs: 100,
        error: failure,
      },
      { type: 'execution.succeeded', policyKind: 'retry', policyName: 'api', durationMs: 100 },
    ]);
  });

  it('reports retry.exhausted then execution.failed with the RetryExhaustedError', async () => {
    const { clock, policy, events, listen } = setup({ maxAttempts: 2, shouldHandleResult: () => true });
    listen();
    const outcome = settle(policy.execute(() => 'meh'));
    await clock.runAll();
    const { error } = await outcome;
    expect(events.map((event) => event.type)).toEqual([
      'retry.scheduled',
      'retry.exhausted',
      'execution.failed',
    ]);
    expect(events[0]).toMatchObject({ attempt: 1, result: 'meh' });
    expect(events[0]).not.toHaveProperty('error');
    expect(events[1]).toMatchObject({ attempts: 2, reason: 'max-attempts' });
    expect(events[2]).toMatchObject({ durationMs: 100, error });
  });

  it('reports an unhandled error as execution.failed', async () => {
    const { policy, events, listen } = setup({ shouldHandle: () => false });
    listen();
    const failure = new Error('no');
    await expect(policy.execute(() => Promise.reject(failure))).rejects.toBe(failure);
    expect(events).toMatchObject([{ type: 'execution.failed', error: failure, durationMs: 0 }]);
  });

  it('is unaffected by a throwing listener', async () => {
    const { clock, policy, events, listen } = setup();
    policy.onEvent(() => {
      throw new Error('listener bug');
    });
    listen();
    const call = policy.execute(flaky(1, 'ok').work);
    await clock.runAll();
    await expect(call).resolves.toBe('ok');
    expect(events.map((event) => event.type)).toEqual(['retry.scheduled', 'execution.succeeded']);
  });
});

describe('retry: options', () => {
  it.each<[unknown, ErrorConstructor, string]>([
    [{ maxAttempts: 0 }, RangeError, 'retry "retry": maxAttempts must be an integer >= 1 or Infinity, got 0'],
    [
      { maxAttempts: -1 },
      RangeError,
      'retry "retry": maxAttempts must be an integer >= 1 or Infinity, got -1',
    ],
    [
      { maxAttempts: 2.5 },
      RangeError,
      'retry "retry": maxAttempts must be an integer >= 1 or Infinity, got 2.5',
    ],
    [
      { maxAttempts: Number.NaN },
      RangeError,
      'retry "retry": maxAttempts must be an integer >= 1 or Infinity, got NaN',
    ],
    [
      { maxAttempts: '3', name: 'x' },
      TypeError,
      'retry "x": maxAttempts must be an integer >= 1 or Infinity, got "3"',
    ],
    [{ maxDelayMs: -1 }, RangeError, 'retry "retry": maxDelayMs must be >= 0, got -1'],
    [{ maxDelayMs: 2 ** 31 }, RangeError, 'retry "retry": maxDelayMs must be <= 2147483647, got 2147483648'],
    [{ maxDelayMs: Number.NaN }, RangeError, 'retry "retry": maxDelayMs must be a finite number, got NaN'],
    [{ shouldHandle: true }, TypeError, 'retry "retry": shouldHandle must be a function, got true'],
    [{ shouldHandleResult: 1 }, TypeError, 'retry "retry": shouldHandleResult must be a function, got 1'],
    [{ delay: 100 }, TypeError, 'retry "retry": delay must be a function, got 100'],
    [
      { backoff: 100 },
      TypeError,
      'retry "retry": backoff must be a Backoff (an object with start(), e.g. backoff.exponential()), got 100',
    ],
    [{ backoff: { next: () => 1 } }, TypeError, 'retry "retry": backoff must be a Backoff'],
    [
      { budget: {} },
      TypeError,
      'retry "retry": budget must be a RetryBudget (tryWithdraw, deposit), e.g. retryBudget(), got an object',
    ],
    [{ clock: Date }, TypeError, 'retry "retry": clock must be a Clock'],
    [{ name: '' }, TypeError, 'retry "": name must be a non-empty string, got ""'],
    [{ maxAttempt: 3 }, TypeError, 'retry "retry": maxAttempt is not a known option'],
    ['3 attempts', TypeError, 'retry "retry": options must be an object, got "3 attempts"'],
  ])('rejects %j with a named error', (options, errorClass, message) => {
    expect(() => retry(options as RetryOptions)).toThrow(errorClass);
    expect(() => retry(options as RetryOptions)).toThrow(message);
  });

  it('accepts Infinity attempts and treats undefined options as absent', () => {
    expect(() => retry({ maxAttempts: Infinity, backoff: undefined, delay: undefined })).not.toThrow();
    expect(retry().name).toBe('retry');
  });

  it('keeps the work result type, and wrap keeps the arguments', async () => {
    const policy = retry({ maxAttempts: 2 });
    const result = await policy.execute(() => 42);
    expectTypeOf(result).toEqualTypeOf<number>();
    const double = policy.wrap((value: number) => value * 2);
    await expect(double(21)).resolves.toBe(42);
    expectTypeOf(double).toEqualTypeOf<(value: number) => Promise<number>>();
  });
});
