import { describe, expect, expectTypeOf, it } from 'vitest';

import { CircuitOpenError } from '../errors/errors.js';
import type { ResilienceEvent } from '../events/resilience-event.js';
import { FakeClock } from '../testing/fake-clock.js';
import { circuitBreaker } from './circuit-breaker.js';
import {
  CIRCUIT_BREAKER_DEFAULTS,
  resolveCircuitBreakerOptions,
  type CircuitBreakerOptions,
} from './circuit-breaker-options.js';
import type {
  CircuitBreakerSettings,
  CircuitBreakerState,
  CircuitBreakerStateProvider,
} from './circuit-breaker-state.js';
import { memoryCircuitBreakerState } from './memory-circuit-breaker-state.js';

const boom = (): Error => new Error('boom');

function failing(): never {
  throw boom();
}

function consecutiveBreaker(clock: FakeClock, options: CircuitBreakerOptions = {}) {
  return circuitBreaker({
    window: { kind: 'consecutive' },
    failureCount: 1,
    halfOpenAfterMs: 1000,
    clock,
    ...options,
  });
}

describe('circuitBreaker', () => {
  it('passes results and errors through while closed', async () => {
    const breaker = circuitBreaker();
    await expect(breaker.execute(() => 42)).resolves.toBe(42);
    await expect(breaker.execute(() => Promise.reject(boom()))).rejects.toThrow('boom');
    expect(breaker.kind).toBe('circuit-breaker');
    expect(breaker.name).toBe('circuit-breaker');
    expect(breaker.state).toBe('closed');
  });

  it('counts results that shouldHandleResult rejects as failures, and returns them', async () => {
    const clock = new FakeClock();
    const breaker = consecutiveBreaker(clock, { shouldHandleResult: (result) => result === 503 });
    await expect(breaker.execute(() => 503)).resolves.toBe(503);
    expect(breaker.state).toBe('open');
  });

  it('never counts the caller’s own abort as a failure', async () => {
    const clock = new FakeClock();
    const breaker = consecutiveBreaker(clock);
    const controller = new AbortController();
    const reason = new Error('caller stopped');
    const call = breaker.execute(
      ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            reject(signal.reason as Error);
          });
        }),
      { signal: controller.signal },
    );
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(breaker.state).toBe('closed');
  });

  it('rejects at once, without admitting, when the caller signal is already aborted', async () => {
    const clock = new FakeClock();
    const breaker = consecutiveBreaker(clock);
    const controller = new AbortController();
    controller.abort(new Error('early'));
    let ran = false;
    await expect(
      breaker.execute(
        () => {
          ran = true;
        },
        { signal: controller.signal },
      ),
    ).rejects.toThrow('early');
    expect(ran).toBe(false);
  });

  it('frees a probe slot when shouldHandle itself throws', async () => {
    const clock = new FakeClock();
    const breaker = consecutiveBreaker(clock, {
      shouldHandle: (error) => {
        if (error instanceof TypeError) throw new Error('predicate broke');
        return true;
      },
    });
    await expect(breaker.execute(failing)).rejects.toThrow('boom');
    await clock.advance(1000);
    await expect(breaker.execute(() => Promise.reject(new TypeError('odd')))).rejects.toThrow(
      'predicate broke',
    );
    await expect(breaker.execute(() => 'ok')).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('leaves no timer behind after calls settle (without a health check)', async () => {
    const clock = new FakeClock();
    const breaker = consecutiveBreaker(clock);
    await expect(breaker.execute(failing)).rejects.toThrow('boom');
    await expect(breaker.execute(() => 'x')).rejects.toBeInstanceOf(CircuitOpenError);
    await clock.advance(1000);
    await breaker.execute(() => 'ok');
    expect(clock.pendingTimers).toBe(0);
  });

  it("names itself in CircuitOpenError and the event's policy fields", async () => {
    const clock = new FakeClock();
    const events: ResilienceEvent[] = [];
    const breaker = consecutiveBreaker(clock, { name: 'payments' });
    breaker.onEvent((event) => events.push(event));
    await expect(breaker.execute(failing)).rejects.toThrow('boom');
    const error: unknown = await breaker.execute(() => 1).catch((reason: unknown) => reason);
    expect(error).toMatchObject({ code: 'CIRCUIT_OPEN', policyName: 'payments', retryAfterMs: 1000 });
    expect((error as Error).message).toBe('circuit-breaker "payments": circuit is open');
    expect(events.at(-1)).toMatchObject({
      type: 'call.rejected',
      policyName: 'payments',
      policyKind: 'circuit-breaker',
    });
  });

  it('a throwing listener changes no outcome', async () => {
    const clock = new FakeClock();
    const breaker = consecutiveBreaker(clock);
    breaker.onEvent(() => {
      throw new Error('listener bug');
    });
    await expect(breaker.execute(() => 'ok')).resolves.toBe('ok');
    await expect(breaker.execute(failing)).rejects.toThrow('boom');
    expect(breaker.state).toBe('open');
  });

  it('disabled mode runs every call and records nothing', async () => {
    const clock = new FakeClock();
    const breaker = consecutiveBreaker(clock, { mode: 'disabled' });
    for (let call = 0; call < 5; call++) await expect(breaker.execute(failing)).rejects.toThrow('boom');
    await expect(breaker.execute(() => 'ran')).resolves.toBe('ran');
    expect(await breaker.getMetrics()).toMatchObject({ state: 'closed', calls: 0 });
  });

  it('works with a state that answers with promises', async () => {
    const clock = new FakeClock();
    const asyncState = (settings: CircuitBreakerSettings): CircuitBreakerState => {
      const inner = memoryCircuitBreakerState()(settings, { clock });
      return {
        admit: async (...args) => inner.admit(...args),
        record: async (...args) => inner.record(...args),
        inspect: async (...args) => inner.inspect(...args),
        isolate: async (...args) => inner.isolate(...args),
        releaseIsolation: async (...args) => inner.releaseIsolation(...args),
        reset: async (...args) => inner.reset(...args),
        snapshot: async (...args) => inner.snapshot(...args),
        restore: async (...args) => inner.restore(...args),
      };
    };
    const breaker = consecutiveBreaker(clock, { state: asyncState });
    await expect(breaker.execute(failing)).rejects.toThrow('boom');
    expect(breaker.state).toBe('open');
    await expect(breaker.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('hands the slot back and runs nothing when the caller aborts while an async state decides', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const recorded: string[] = [];
    const breaker = consecutiveBreaker(clock, {
      state: (settings, context) => {
        const inner = memoryCircuitBreakerState()(settings, context);
        return {
          ...inner,
          // Interleaving: the caller aborts after asking for admission, before the answer arrives.
          admit: async (...args) => {
            controller.abort(new Error('gone'));
            await Promise.resolve();
            return inner.admit(...args);
          },
          record: (key, outcome, admission, nowMs) => {
            recorded.push(outcome.kind);
            return inner.record(key, outcome, admission, nowMs);
          },
          inspect: (...args) => inner.inspect(...args),
          isolate: (...args) => inner.isolate(...args),
          releaseIsolation: (...args) => inner.releaseIsolation(...args),
          reset: (...args) => inner.reset(...args),
          snapshot: (...args) => inner.snapshot(...args),
          restore: (...args) => inner.restore(...args),
        };
      },
    });
    let ran = false;
    await expect(
      breaker.execute(
        () => {
          ran = true;
        },
        { signal: controller.signal },
      ),
    ).rejects.toThrow('gone');
    expect(ran).toBe(false);
    expect(recorded).toEqual(['ignored']);
  });

  it('reads no clock for calls of a closed breaker unless slow calls matter or somebody listens', async () => {
    let reads = 0;
    const clock = new FakeClock();
    const countingClock = {
      now: () => {
        reads++;
        return clock.now();
      },
      setTimeout: clock.setTimeout.bind(clock),
      clearTimeout: clock.clearTimeout.bind(clock),
    };
    const breaker = circuitBreaker({ clock: countingClock });
    await breaker.execute(() => 'ok');
    // The first call creates the circuit, which notes when it began.
    expect(reads).toBe(1);
    await breaker.execute(() => 'ok');
    await expect(breaker.execute(failing)).rejects.toThrow('boom');
    expect(reads).toBe(1);
    breaker.onEvent(() => {});
    await breaker.execute(() => 'ok');
    expect(reads).toBe(3);
  });

  describe('health check planning', () => {
    it('plans a check when a call is refused by a circuit another breaker opened', async () => {
      const clock = new FakeClock();
      let shared: CircuitBreakerState | undefined;
      const sharedState: CircuitBreakerStateProvider = (settings, context) =>
        (shared ??= memoryCircuitBreakerState()(settings, context));
      let checks = 0;
      const opener = consecutiveBreaker(clock, { state: sharedState });
      const checker = consecutiveBreaker(clock, {
        state: sharedState,
        healthCheck: () => {
          checks++;
        },
      });
      await expect(opener.execute(failing)).rejects.toThrow('boom');
      // The checker saw no transition itself; its refused call is what tells it.
      await expect(checker.execute(() => 1)).rejects.toBeInstanceOf(CircuitOpenError);
      expect(clock.pendingTimers).toBe(1);
      await clock.advance(1000);
      expect(checks).toBe(1);
      expect(await checker.getState()).toBe('closed');
      expect(clock.pendingTimers).toBe(0);
    });

    it('re-plans the check for the open time of a restored snapshot', async () => {
      const clock = new FakeClock();
      const source = consecutiveBreaker(clock, { halfOpenAfterMs: 5000 });
      await expect(source.execute(failing)).rejects.toThrow('boom');
      const snapshot = await source.snapshot();
      await clock.advance(1000);
      let checks = 0;
      const restored = consecutiveBreaker(clock, {
        halfOpenAfterMs: 5000,
        healthCheck: () => {
          checks++;
        },
      });
      await restored.restore(snapshot);
      await clock.advance(3999);
      expect(checks).toBe(0);
      await clock.advance(1);
      expect(checks).toBe(1);
      expect(restored.state).toBe('closed');
    });
  });

  it('wrap keeps the arguments and the return type', async () => {
    const breaker = circuitBreaker();
    const double = breaker.wrap((value: number) => value * 2);
    await expect(double(21)).resolves.toBe(42);
    expectTypeOf(double).toEqualTypeOf<(value: number) => Promise<number>>();
  });

  describe('options', () => {
    it.each([
      [{ failureRate: 1.5 }, RangeError, 'failureRate must be <= 1, got 1.5'],
      [{ failureRate: 0 }, RangeError, 'failureRate must be > 0, got 0'],
      [{ failureRate: Number.NaN }, RangeError, 'failureRate must be a finite number, got NaN'],
      [{ failureRate: '0.5' }, TypeError, 'failureRate must be a finite number, got "0.5"'],
      [{ slowCallRate: 2 }, RangeError, 'slowCallRate must be <= 1, got 2'],
      [{ failureCount: 2.5 }, RangeError, 'failureCount must be an integer, got 2.5'],
      [{ failureCount: -1 }, RangeError, 'failureCount must be >= 1, got -1'],
      [{ minimumCalls: 0 }, RangeError, 'minimumCalls must be >= 1, got 0'],
      [{ permittedHalfOpenCalls: 1.5 }, RangeError, 'permittedHalfOpenCalls must be an integer, got 1.5'],
      [{ slowCallDurationMs: -5 }, RangeError, 'slowCallDurationMs must be > 0, got -5'],
      [
        { maxHalfOpenWaitMs: Infinity },
        RangeError,
        'maxHalfOpenWaitMs must be a finite number, got Infinity',
      ],
      [
        { halfOpenAfterMs: -1 },
        RangeError,
        'halfOpenAfterMs must be a duration in ms (0 to 2147483647) or a function of the opens in a row, got -1',
      ],
      [
        { halfOpenAfterMs: 'soon' },
        TypeError,
        'halfOpenAfterMs must be a duration in ms (0 to 2147483647) or a function of the opens in a row, got "soon"',
      ],
      [
        { halfOpenAfterMs: (opens: number) => (opens > 2 ? Number.NaN : 10) },
        RangeError,
        'halfOpenAfterMs(3) must return a duration in ms (0 to 2147483647), got NaN',
      ],
      [
        { window: { kind: 'sliding' } },
        TypeError,
        'window.kind must be one of "consecutive", "countWindow", "timeWindow", got "sliding"',
      ],
      [{ window: 'consecutive' }, TypeError, 'window must be of type object, got "consecutive"'],
      [{ window: { kind: 'countWindow', size: 0 } }, RangeError, 'window.size must be >= 1, got 0'],
      [{ window: { kind: 'countWindow' } }, TypeError, 'window.size is required'],
      [{ window: { kind: 'consecutive', size: 3 } }, TypeError, 'window.size is not a known option'],
      [
        { window: { kind: 'timeWindow', durationMs: 1000, buckets: 3 } },
        RangeError,
        'window.durationMs must be a multiple of window.buckets (3), got 1000',
      ],
      [
        { window: { kind: 'consecutive' }, failureRate: 0.5 },
        RangeError,
        'failureRate does not apply to a consecutive window, got 0.5',
      ],
      [
        { window: { kind: 'countWindow', size: 5 }, minimumCalls: 10 },
        RangeError,
        'minimumCalls must be <= window.size (5), got 10',
      ],
      [{ mode: 'off' }, TypeError, 'mode must be one of "normal", "metricsOnly", "disabled", got "off"'],
      [{ shouldHandle: 5 }, TypeError, 'shouldHandle must be a function, got 5'],
      [{ healthCheck: 'ping' }, TypeError, 'healthCheck must be a function, got "ping"'],
      [{ state: {} }, TypeError, 'state must be a function, got an object'],
      [{ failurerate: 0.5 }, TypeError, 'failurerate is not a known option'],
    ])('rejects %j with a named error', (options, errorClass, message) => {
      const build = () => circuitBreaker({ name: 'payments', ...options } as never);
      expect(build).toThrow(errorClass);
      expect(build).toThrow(`circuitBreaker "payments": ${message}`);
    });

    it('rejects options that are not an object', () => {
      expect(() => circuitBreaker(5 as never)).toThrow(
        'circuitBreaker "circuit-breaker": options must be an object, got 5',
      );
    });

    it('treats an undefined option as absent', () => {
      const { settings } = resolveCircuitBreakerOptions({
        window: undefined,
        failureRate: undefined,
        halfOpenAfterMs: undefined,
        mode: undefined,
      });
      expect(settings.window).toEqual(CIRCUIT_BREAKER_DEFAULTS.window);
      expect(settings.failureRate).toBe(CIRCUIT_BREAKER_DEFAULTS.failureRate);
      expect(settings.openDurationsMs).toEqual([CIRCUIT_BREAKER_DEFAULTS.halfOpenAfterMs]);
    });

    it('fills in defaults that depend on the window', () => {
      expect(resolveCircuitBreakerOptions({ window: { kind: 'consecutive' } }).settings).toMatchObject({
        failureCount: 5,
        failureRate: undefined,
        minimumCalls: 1,
      });
      expect(
        resolveCircuitBreakerOptions({ window: { kind: 'countWindow', size: 4 } }).settings,
      ).toMatchObject({
        failureRate: 0.5,
        minimumCalls: 4,
      });
      // A threshold given means no default failure rate is added.
      expect(resolveCircuitBreakerOptions({ failureCount: 3 }).settings.failureRate).toBeUndefined();
    });

    it('turns a halfOpenAfterMs function into a schedule with the repeated tail trimmed', () => {
      const { settings } = resolveCircuitBreakerOptions({
        halfOpenAfterMs: (opens) => Math.min(1000 * 2 ** (opens - 1), 8000),
      });
      expect(settings.openDurationsMs).toEqual([1000, 2000, 4000, 8000]);
    });

    it('ignores healthCheck outside normal mode', () => {
      const resolved = resolveCircuitBreakerOptions({ healthCheck: () => true, mode: 'metricsOnly' });
      expect(resolved.healthCheck).toBeUndefined();
      expect(resolved.settings.usesHealthCheck).toBe(false);
    });
  });
});

describe('circuitBreaker and the caller’s abort', () => {
  it('does not count work that the caller aborted as a failure, whatever error the work rejects with', async () => {
    const breaker = circuitBreaker({
      window: { kind: 'consecutive' },
      failureCount: 2,
      halfOpenAfterMs: 1000,
    });
    for (let call = 0; call < 4; call++) {
      const controller = new AbortController();
      const pending = breaker.execute(
        ({ signal }) =>
          new Promise((_, reject) => {
            // Like node:timers/promises: an AbortError of its own, not signal.reason.
            signal.addEventListener('abort', () => {
              reject(new DOMException('The operation was aborted', 'AbortError'));
            });
          }),
        { signal: controller.signal },
      );
      const reason = new Error('caller stopped');
      controller.abort(reason);
      // The caller gets its own reason back, not the work's AbortError.
      await expect(pending).rejects.toBe(reason);
    }
    expect(breaker.state).toBe('closed');
  });
});
