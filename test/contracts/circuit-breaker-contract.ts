/**
 * The behaviour every circuit breaker state must give, written once and driven through the public
 * `circuitBreaker({ state, clock })` shell. Run it with a factory for the state under test:
 *
 * ```ts
 * describeCircuitBreakerContract('memory', () => memoryCircuitBreakerState());
 * ```
 *
 * Time comes from a `FakeClock` that the shell reads and passes as `nowMs` to every state call, so
 * a remote state must honour `nowMs` when tested (the factory receives the clock for that). Every
 * breaker gets a name of its own, so states that share a server never see each other's keys.
 * Assertions that wait on the breaker's own health-check timer poll (`eventually`), so a state
 * that answers over the network has time to answer.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  CircuitOpenError,
  circuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerPolicy,
  type CircuitBreakerSnapshot,
  type CircuitBreakerStateProvider,
  type ResilienceEvent,
} from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

/** What the suite hands to the state factory. */
export interface CircuitBreakerContractContext {
  /** The clock every breaker of the test reads; its time is the `nowMs` the state receives. */
  readonly clock: FakeClock;
}

/** Optional hooks around each test. */
export interface CircuitBreakerContractHooks {
  /** Runs after each test, e.g. to close a connection the factory opened. */
  readonly afterEach?: () => void | Promise<void>;
}

/** A realistic epoch time, a multiple of every bucket size the suite uses. */
const START_MS = 1_700_000_000_000;

type BreakerOptions = Omit<CircuitBreakerOptions, 'state' | 'clock' | 'name'>;

/** A call that has started running and waits for the test to settle it. */
interface HeldCall {
  /** Resolves once the work is running (the call was admitted). */
  readonly started: Promise<void>;
  readonly result: Promise<unknown>;
  succeed(): void;
  fail(): void;
}

const boom = (): Error => new Error('boom');

/** Lets promise jobs and I/O callbacks run, without moving the fake clock. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Retries `assertion` until it passes (at most ~2000 turns of the event loop). */
async function eventually(assertion: () => Promise<void> | void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (attempt >= 2000) throw error;
      await turn();
    }
  }
}

/**
 * Defines the circuit breaker contract suite for one state implementation.
 *
 * @param label - names the suite, e.g. `'memory'` or `'redis'`
 * @param makeState - builds a fresh state provider for each test; may be async
 * @param hooks - optional cleanup after each test
 */
export function describeCircuitBreakerContract(
  label: string,
  makeState: (
    context: CircuitBreakerContractContext,
  ) => CircuitBreakerStateProvider | Promise<CircuitBreakerStateProvider>,
  hooks: CircuitBreakerContractHooks = {},
): void {
  describe(`circuit breaker contract: ${label}`, () => {
    let clock: FakeClock;
    let state: CircuitBreakerStateProvider;
    let sequence = 0;
    const namePrefix = `contract-${label.replace(/[^\w-]/g, '-')}-${process.pid}`;

    beforeEach(async () => {
      clock = new FakeClock(START_MS);
      state = await makeState({ clock });
    });

    afterEach(async () => {
      await hooks.afterEach?.();
    });

    function makeBreaker(options: BreakerOptions = {}, provider = state): CircuitBreakerPolicy {
      sequence++;
      return circuitBreaker({ ...options, name: `${namePrefix}-${sequence}`, state: provider, clock });
    }

    function keyed(key: string | undefined): { key: string } | undefined {
      return key === undefined ? undefined : { key };
    }

    async function succeed(breaker: CircuitBreakerPolicy, key?: string): Promise<void> {
      await expect(breaker.execute(() => 'ok', keyed(key))).resolves.toBe('ok');
    }

    async function fail(breaker: CircuitBreakerPolicy, key?: string): Promise<void> {
      await expect(
        breaker.execute(() => {
          throw boom();
        }, keyed(key)),
      ).rejects.toThrow('boom');
    }

    /** Asserts the call is refused without running, and returns the error. */
    async function refused(breaker: CircuitBreakerPolicy, key?: string): Promise<CircuitOpenError> {
      let ran = false;
      const error: unknown = await breaker
        .execute(() => {
          ran = true;
        }, keyed(key))
        .then(
          () => undefined,
          (reason: unknown) => reason,
        );
      expect(ran).toBe(false);
      expect(error).toBeInstanceOf(CircuitOpenError);
      return error as CircuitOpenError;
    }

    /** Runs a call that takes `durationMs` on the fake clock. */
    async function lasting(breaker: CircuitBreakerPolicy, durationMs: number): Promise<void> {
      const call = breaker.execute(
        () =>
          new Promise<string>((resolve) => {
            clock.setTimeout(() => {
              resolve('done');
            }, durationMs);
          }),
      );
      await clock.advance(durationMs);
      await expect(call).resolves.toBe('done');
    }

    function hold(breaker: CircuitBreakerPolicy, options?: { signal?: AbortSignal }): HeldCall {
      let markStarted = (): void => {};
      const started = new Promise<void>((resolve) => {
        markStarted = resolve;
      });
      let settle: { resolve: (value: string) => void; reject: (error: Error) => void } | undefined;
      const result = breaker.execute(({ signal }) => {
        markStarted();
        return new Promise<string>((resolve, reject) => {
          settle = { resolve, reject };
          signal.addEventListener('abort', () => {
            reject(signal.reason as Error);
          });
        });
      }, options);
      result.catch(() => {});
      return {
        started,
        result,
        succeed: () => settle?.resolve('late'),
        fail: () => settle?.reject(boom()),
      };
    }

    function recordTransitions(breaker: CircuitBreakerPolicy): string[] {
      const seen: string[] = [];
      breaker.onEvent((event) => {
        if (event.type === 'circuit.transitioned') seen.push(`${event.from}>${event.to}:${event.reason}`);
      });
      return seen;
    }

    async function tripped(options: BreakerOptions): Promise<CircuitBreakerPolicy> {
      const breaker = makeBreaker({ window: { kind: 'consecutive' }, failureCount: 1, ...options });
      await fail(breaker);
      expect(breaker.state).toBe('open');
      return breaker;
    }

    describe('consecutive window', () => {
      it('opens after failureCount failures in a row, and a success restarts the run', async () => {
        const breaker = makeBreaker({ window: { kind: 'consecutive' }, failureCount: 3 });
        await fail(breaker);
        await fail(breaker);
        await succeed(breaker);
        await fail(breaker);
        await fail(breaker);
        expect(await breaker.getState()).toBe('closed');
        await fail(breaker);
        expect(await breaker.getState()).toBe('open');
        expect(breaker.state).toBe('open');
      });

      it('refuses calls while open with a CircuitOpenError carrying the remaining open time', async () => {
        const breaker = await tripped({ halfOpenAfterMs: 1000 });
        await clock.advance(400);
        const error = await refused(breaker);
        expect(error.retryAfterMs).toBe(600);
        expect(error.code).toBe('CIRCUIT_OPEN');
      });

      it('closes only after permittedHalfOpenCalls successful probes', async () => {
        const breaker = await tripped({ halfOpenAfterMs: 1000, permittedHalfOpenCalls: 2 });
        await clock.advance(1000);
        await succeed(breaker);
        expect(await breaker.getState()).toBe('half-open');
        await succeed(breaker);
        expect(await breaker.getState()).toBe('closed');
      });

      it('re-opens on a failed probe, and the open time grows with the opens in a row', async () => {
        const breaker = await tripped({ halfOpenAfterMs: (opens) => 1000 * opens });
        const transitions = recordTransitions(breaker);
        await clock.advance(1000);
        await fail(breaker);
        expect((await refused(breaker)).retryAfterMs).toBe(2000);
        await clock.advance(1999);
        expect((await refused(breaker)).retryAfterMs).toBe(1);
        await clock.advance(1);
        await succeed(breaker);
        expect(breaker.state).toBe('closed');
        // Closing resets the count of opens: the next open waits the first duration again.
        await fail(breaker);
        expect((await refused(breaker)).retryAfterMs).toBe(1000);
        expect(transitions).toEqual([
          'open>half-open:open-elapsed',
          'half-open>open:probe-failed',
          'open>half-open:open-elapsed',
          'half-open>closed:probes-succeeded',
          'closed>open:failure-count',
        ]);
      });
    });

    describe('count window', () => {
      it('opens when the failure rate reaches the threshold (>=) once minimumCalls are in the window', async () => {
        const breaker = makeBreaker({
          window: { kind: 'countWindow', size: 4 },
          failureRate: 0.5,
          minimumCalls: 4,
        });
        const transitions = recordTransitions(breaker);
        await succeed(breaker);
        await fail(breaker);
        await fail(breaker);
        // 2 of 3 failed, but fewer than minimumCalls calls decide nothing.
        expect(await breaker.getMetrics()).toMatchObject({ state: 'closed', calls: 3, failures: 2 });
        await succeed(breaker);
        // 2 of 4 = 0.5 >= 0.5.
        expect(transitions).toEqual(['closed>open:failure-rate']);
      });

      it('stays closed while the rate is below the threshold', async () => {
        const breaker = makeBreaker({
          window: { kind: 'countWindow', size: 4 },
          failureRate: 0.5,
          minimumCalls: 4,
        });
        for (let round = 0; round < 2; round++) {
          await succeed(breaker);
          await succeed(breaker);
          await succeed(breaker);
          await fail(breaker);
        }
        // Every window of 4 held 1 failure: 0.25 is below 0.5.
        expect(await breaker.getMetrics()).toMatchObject({ state: 'closed', calls: 4, failures: 1 });
      });

      it('counts only the last N calls', async () => {
        const breaker = makeBreaker({
          window: { kind: 'countWindow', size: 3 },
          failureCount: 2,
          minimumCalls: 3,
        });
        const transitions = recordTransitions(breaker);
        await fail(breaker);
        await succeed(breaker);
        await succeed(breaker);
        await succeed(breaker);
        await fail(breaker);
        // The first failure fell out of the window: [success, success, failure].
        expect(await breaker.getMetrics()).toMatchObject({ state: 'closed', calls: 3, failures: 1 });
        await fail(breaker);
        expect(transitions).toEqual(['closed>open:failure-count']);
      });

      it('opens when the share of slow calls (>= slowCallDurationMs) reaches slowCallRate', async () => {
        const breaker = makeBreaker({
          window: { kind: 'countWindow', size: 2 },
          slowCallRate: 0.5,
          slowCallDurationMs: 100,
          minimumCalls: 2,
        });
        const transitions = recordTransitions(breaker);
        await lasting(breaker, 99);
        await lasting(breaker, 99);
        expect(await breaker.getMetrics()).toMatchObject({ state: 'closed', calls: 2, slowCalls: 0 });
        await lasting(breaker, 100);
        expect(transitions).toEqual(['closed>open:slow-call-rate']);
      });
    });

    describe('time window', () => {
      it('counts only the calls of the last durationMs, dropping whole buckets', async () => {
        const breaker = makeBreaker({
          window: { kind: 'timeWindow', durationMs: 1000, buckets: 10 },
          failureCount: 3,
          minimumCalls: 1,
        });
        await fail(breaker);
        await clock.advance(500);
        await fail(breaker);
        await clock.advance(500);
        // The first failure's bucket is a whole window old now.
        await fail(breaker);
        expect(await breaker.getMetrics()).toMatchObject({ state: 'closed', calls: 2, failures: 2 });
        await fail(breaker);
        expect(breaker.state).toBe('open');
      });

      it('forgets everything after an idle gap longer than the window', async () => {
        const breaker = makeBreaker({
          window: { kind: 'timeWindow', durationMs: 1000, buckets: 4 },
          failureRate: 0.5,
          minimumCalls: 3,
        });
        await fail(breaker);
        await fail(breaker);
        await clock.advance(5000);
        expect(await breaker.getMetrics()).toMatchObject({ calls: 0, failures: 0 });
        await fail(breaker);
        expect(await breaker.getMetrics()).toMatchObject({ state: 'closed', calls: 1, failures: 1 });
      });
    });

    describe('half-open', () => {
      it('admits exactly permittedHalfOpenCalls probes and refuses the rest with retryAfterMs', async () => {
        const breaker = await tripped({
          halfOpenAfterMs: 1000,
          permittedHalfOpenCalls: 2,
          maxHalfOpenWaitMs: 5000,
        });
        await clock.advance(1000);
        // Interleaving: probe A is admitted and holds, probe B is admitted and holds, then C
        // arrives while both are in flight.
        const probeA = hold(breaker);
        await probeA.started;
        const probeB = hold(breaker);
        await probeB.started;
        const error = await refused(breaker);
        expect(error.retryAfterMs).toBe(5000);
        expect(breaker.state).toBe('half-open');
        probeA.succeed();
        probeB.succeed();
        await expect(probeA.result).resolves.toBe('late');
        await expect(probeB.result).resolves.toBe('late');
        expect(await breaker.getState()).toBe('closed');
      });

      it('judges the probes of a rate window together once all have settled', async () => {
        const breaker = makeBreaker({
          window: { kind: 'countWindow', size: 10 },
          failureRate: 0.5,
          minimumCalls: 2,
          permittedHalfOpenCalls: 4,
          halfOpenAfterMs: 1000,
        });
        const transitions = recordTransitions(breaker);
        await fail(breaker);
        await fail(breaker);
        await clock.advance(1000);
        await fail(breaker);
        await succeed(breaker);
        await succeed(breaker);
        expect(await breaker.getState()).toBe('half-open');
        await succeed(breaker);
        // 1 of 4 probes failed: below 0.5.
        expect(await breaker.getState()).toBe('closed');
        await fail(breaker);
        await fail(breaker);
        await clock.advance(1000);
        await fail(breaker);
        await succeed(breaker);
        await fail(breaker);
        await succeed(breaker);
        // 2 of 4 probes failed: 0.5 >= 0.5.
        expect(transitions).toEqual([
          'closed>open:failure-rate',
          'open>half-open:open-elapsed',
          'half-open>closed:probes-succeeded',
          'closed>open:failure-rate',
          'open>half-open:open-elapsed',
          'half-open>open:failure-rate',
        ]);
      });

      it('re-opens after maxHalfOpenWaitMs when a probe never settles, and ignores its late result', async () => {
        const breaker = await tripped({ halfOpenAfterMs: 1000, maxHalfOpenWaitMs: 3000 });
        const transitions = recordTransitions(breaker);
        await clock.advance(1000);
        const stranded = hold(breaker);
        await stranded.started;
        await clock.advance(2999);
        expect((await refused(breaker)).retryAfterMs).toBe(1);
        await clock.advance(1);
        // The half-open ended at its deadline; the open time counts from there.
        expect(await breaker.getState()).toBe('open');
        expect((await refused(breaker)).retryAfterMs).toBe(1000);
        await clock.advance(1000);
        await succeed(breaker);
        expect(breaker.state).toBe('closed');
        stranded.fail();
        await expect(stranded.result).rejects.toThrow('boom');
        expect(await breaker.getState()).toBe('closed');
        expect(transitions).toEqual([
          'open>half-open:open-elapsed',
          'half-open>open:half-open-timeout',
          'open>half-open:open-elapsed',
          'half-open>closed:probes-succeeded',
        ]);
      });

      it('frees the slot of a probe that ends in an error shouldHandle declines', async () => {
        const breaker = await tripped({
          halfOpenAfterMs: 1000,
          shouldHandle: (error) => !(error instanceof TypeError),
        });
        await clock.advance(1000);
        await expect(breaker.execute(() => Promise.reject(new TypeError('not counted')))).rejects.toThrow(
          TypeError,
        );
        expect(await breaker.getState()).toBe('half-open');
        await succeed(breaker);
        expect(breaker.state).toBe('closed');
      });

      it("frees the slot of a probe the caller aborts, and rejects with the caller's reason", async () => {
        const breaker = await tripped({ halfOpenAfterMs: 1000 });
        await clock.advance(1000);
        const controller = new AbortController();
        const probe = hold(breaker, { signal: controller.signal });
        await probe.started;
        const reason = new Error('caller left');
        controller.abort(reason);
        await expect(probe.result).rejects.toBe(reason);
        expect(await breaker.getState()).toBe('half-open');
        await succeed(breaker);
        expect(breaker.state).toBe('closed');
      });

      it('frees the slot of a probe that throws an ignored error synchronously', async () => {
        const breaker = await tripped({
          halfOpenAfterMs: 1000,
          shouldHandle: (error) => !(error instanceof TypeError),
        });
        await clock.advance(1000);
        await expect(
          breaker.execute(() => {
            throw new TypeError('sync');
          }),
        ).rejects.toThrow('sync');
        await succeed(breaker);
        expect(breaker.state).toBe('closed');
      });

      it('counts a handled synchronous throw of a probe as a failed probe', async () => {
        const breaker = await tripped({ halfOpenAfterMs: 1000 });
        await clock.advance(1000);
        await fail(breaker);
        expect(breaker.state).toBe('open');
      });
    });

    describe('generations', () => {
      it('ignores the late failure of a call admitted before the breaker opened', async () => {
        const breaker = makeBreaker({
          window: { kind: 'consecutive' },
          failureCount: 2,
          halfOpenAfterMs: 1000,
        });
        // Interleaving: A is admitted while closed and holds; two failures open the breaker; a
        // probe closes it; only then does A fail.
        const early = hold(breaker);
        await early.started;
        await fail(breaker);
        await fail(breaker);
        await clock.advance(1000);
        await succeed(breaker);
        early.fail();
        await expect(early.result).rejects.toThrow('boom');
        await fail(breaker);
        // Had A counted, this would be the second failure in a row.
        expect(await breaker.getMetrics()).toMatchObject({ state: 'closed', failures: 1 });
      });

      it('ignores the late success of a probe from an earlier half-open', async () => {
        const breaker = await tripped({ halfOpenAfterMs: 1000, maxHalfOpenWaitMs: 2000 });
        await clock.advance(1000);
        const stale = hold(breaker);
        await stale.started;
        await clock.advance(2000);
        await clock.advance(1000);
        // Interleaving: a new half-open admits probe B; the stale probe A succeeds; B fails.
        const current = hold(breaker);
        await current.started;
        stale.succeed();
        await expect(stale.result).resolves.toBe('late');
        expect(await breaker.getState()).toBe('half-open');
        current.fail();
        await expect(current.result).rejects.toThrow('boom');
        expect(await breaker.getState()).toBe('open');
      });
    });

    describe('manual control', () => {
      it('isolate refuses every call until the last handle is disposed', async () => {
        const breaker = makeBreaker();
        const transitions = recordTransitions(breaker);
        const first = await breaker.isolate();
        const second = await breaker.isolate();
        const error = await refused(breaker);
        expect(error.retryAfterMs).toBeUndefined();
        expect(breaker.state).toBe('isolated');
        await first.dispose();
        await first.dispose();
        expect(await breaker.getState()).toBe('isolated');
        await second.dispose();
        expect(await breaker.getState()).toBe('closed');
        await succeed(breaker);
        expect(transitions).toEqual(['closed>isolated:isolate', 'isolated>closed:isolation-released']);
      });

      it('reset closes an open breaker with an empty window and a fresh open schedule', async () => {
        const breaker = await tripped({ halfOpenAfterMs: (opens) => 1000 * opens });
        const transitions = recordTransitions(breaker);
        await breaker.reset();
        expect(breaker.state).toBe('closed');
        expect(await breaker.getMetrics()).toMatchObject({ state: 'closed', calls: 0, consecutiveOpens: 0 });
        await fail(breaker);
        expect((await refused(breaker)).retryAfterMs).toBe(1000);
        expect(transitions).toEqual(['open>closed:reset', 'closed>open:failure-count']);
      });

      it('reset drops isolations; a handle from before the reset cannot release a later isolation', async () => {
        const breaker = makeBreaker();
        const before = await breaker.isolate();
        await breaker.reset();
        await succeed(breaker);
        const after = await breaker.isolate();
        await before.dispose();
        expect(await breaker.getState()).toBe('isolated');
        await after.dispose();
        expect(await breaker.getState()).toBe('closed');
      });

      it('metricsOnly measures every call but never opens', async () => {
        const breaker = makeBreaker({
          window: { kind: 'countWindow', size: 4 },
          failureRate: 0.5,
          minimumCalls: 1,
          mode: 'metricsOnly',
        });
        for (let call = 0; call < 5; call++) await fail(breaker);
        expect(await breaker.getMetrics()).toMatchObject({
          state: 'closed',
          calls: 4,
          failures: 4,
          failureRate: 1,
        });
      });

      it('keeps a separate circuit per key', async () => {
        const breaker = makeBreaker({ window: { kind: 'consecutive' }, failureCount: 1 });
        await fail(breaker, 'a');
        await refused(breaker, 'a');
        await succeed(breaker, 'b');
        await succeed(breaker);
        expect(await breaker.getState('a')).toBe('open');
        expect(await breaker.getState('b')).toBe('closed');
        expect(await breaker.getState()).toBe('closed');
      });
    });

    describe('snapshot and restore', () => {
      async function restarted(
        options: BreakerOptions,
        snapshot: CircuitBreakerSnapshot,
      ): Promise<CircuitBreakerPolicy> {
        // A fresh state and breaker stand for the process after a restart.
        const breaker = makeBreaker(options, await makeState({ clock }));
        await breaker.restore(JSON.parse(JSON.stringify(snapshot)) as CircuitBreakerSnapshot);
        return breaker;
      }

      it('an open breaker stays open for the rest of its open time after a restart', async () => {
        const options: BreakerOptions = {
          window: { kind: 'consecutive' },
          failureCount: 1,
          halfOpenAfterMs: 1000,
        };
        const before = makeBreaker(options);
        await fail(before);
        await clock.advance(300);
        const after = await restarted(options, await before.snapshot());
        expect(after.state).toBe('open');
        expect((await refused(after)).retryAfterMs).toBe(700);
        await clock.advance(700);
        await succeed(after);
        expect(after.state).toBe('closed');
      });

      it('a restored window keeps counting', async () => {
        const options: BreakerOptions = {
          window: { kind: 'countWindow', size: 4 },
          failureCount: 2,
          minimumCalls: 1,
        };
        const before = makeBreaker(options);
        await succeed(before);
        await fail(before);
        const after = await restarted(options, await before.snapshot());
        expect(await after.getMetrics()).toMatchObject({ calls: 2, failures: 1 });
        await fail(after);
        expect(after.state).toBe('open');
      });

      it('a restored time window keeps its buckets and their ages', async () => {
        const options: BreakerOptions = {
          window: { kind: 'timeWindow', durationMs: 1000, buckets: 10 },
          failureCount: 2,
          minimumCalls: 1,
        };
        const before = makeBreaker(options);
        await fail(before);
        await clock.advance(999);
        const after = await restarted(options, await before.snapshot());
        expect(await after.getMetrics()).toMatchObject({ calls: 1, failures: 1 });
        await clock.advance(1);
        expect(await after.getMetrics()).toMatchObject({ calls: 0, failures: 0 });
      });

      it('keeps the state but starts an empty window when the window options changed', async () => {
        const before = makeBreaker({
          window: { kind: 'countWindow', size: 4 },
          failureCount: 1,
          minimumCalls: 1,
        });
        await fail(before);
        const after = await restarted({ window: { kind: 'countWindow', size: 8 } }, await before.snapshot());
        expect(await after.getMetrics()).toMatchObject({ state: 'open', calls: 0 });
      });

      it('restore refuses a malformed snapshot with a TypeError', async () => {
        const breaker = makeBreaker();
        const good = await breaker.snapshot();
        await expect(breaker.restore({ ...good, version: 2 } as never)).rejects.toThrow(TypeError);
        await expect(breaker.restore({ ...good, consecutiveOpens: -1 })).rejects.toThrow(
          /restore got a malformed snapshot: snapshot\.consecutiveOpens/,
        );
        expect(await breaker.getState()).toBe('closed');
      });
    });

    describe('health check', () => {
      it('probes by itself after the open time while live calls stay refused', async () => {
        let isHealthy = false;
        let checks = 0;
        const breaker = await tripped({
          halfOpenAfterMs: 1000,
          healthCheck: () => {
            checks++;
            if (!isHealthy) throw boom();
          },
        });
        await clock.advance(999);
        expect(checks).toBe(0);
        await clock.advance(1);
        await eventually(() => {
          expect(checks).toBe(1);
        });
        await eventually(async () => {
          expect(await breaker.getMetrics()).toMatchObject({ state: 'open', consecutiveOpens: 2 });
        });
        // Live calls never probe while a health check is configured, even after the open time.
        await clock.advance(999);
        await refused(breaker);
        isHealthy = true;
        await clock.advance(1);
        await eventually(async () => {
          expect(await breaker.getState()).toBe('closed');
        });
        expect(checks).toBe(2);
        await succeed(breaker);
        expect(clock.pendingTimers).toBe(0);
      });

      it('abandons a health check that outlives maxHalfOpenWaitMs and re-opens', async () => {
        const breaker = await tripped({
          halfOpenAfterMs: 1000,
          maxHalfOpenWaitMs: 500,
          healthCheck: () => new Promise(() => {}),
        });
        const transitions = recordTransitions(breaker);
        await clock.advance(1000);
        await eventually(() => {
          expect(transitions).toEqual(['open>half-open:open-elapsed']);
        });
        await clock.advance(500);
        await eventually(() => {
          expect(transitions).toEqual(['open>half-open:open-elapsed', 'half-open>open:half-open-timeout']);
        });
        await breaker.reset();
        expect(clock.pendingTimers).toBe(0);
      });
    });

    describe('events', () => {
      it('emits circuit.transitioned for every change and call.rejected with retryAfterMs', async () => {
        const events: ResilienceEvent[] = [];
        const breaker = makeBreaker({
          window: { kind: 'consecutive' },
          failureCount: 1,
          halfOpenAfterMs: 1000,
        });
        breaker.onEvent((event) => events.push(event));
        await fail(breaker);
        await clock.advance(250);
        await refused(breaker);
        await clock.advance(750);
        await succeed(breaker);
        expect(events.map((event) => event.type)).toEqual([
          'circuit.transitioned',
          'execution.failed',
          'call.rejected',
          'circuit.transitioned',
          'circuit.transitioned',
          'execution.succeeded',
        ]);
        expect(events[0]).toMatchObject({ from: 'closed', to: 'open', reason: 'failure-count' });
        expect(events[2]).toMatchObject({
          reason: 'circuit-open',
          retryAfterMs: 750,
          policyKind: 'circuit-breaker',
        });
        expect(events[3]).toMatchObject({ from: 'open', to: 'half-open', reason: 'open-elapsed' });
        expect(events[4]).toMatchObject({ from: 'half-open', to: 'closed', reason: 'probes-succeeded' });
      });

      it('reports a half-open that outlived its deadline as open when asked, with no call', async () => {
        const breaker = await tripped({ halfOpenAfterMs: 1000, maxHalfOpenWaitMs: 100 });
        await clock.advance(1000);
        const probe = hold(breaker);
        await probe.started;
        await clock.advance(100);
        expect(breaker.state).toBe('half-open');
        expect(await breaker.getState()).toBe('open');
        expect(breaker.state).toBe('open');
      });
    });
  });
}
