import { afterEach, describe, expect, it } from 'vitest';

import { compose } from '../compose/compose.js';
import { BulkheadFullError, TimeoutError } from '../errors/errors.js';
import { isResilienceError } from '../errors/is-resilience-error.js';
import type { ResilienceEvent } from '../events/resilience-event.js';
import { CallScope, nestedExecuteOptions } from '../internal/call-scope.js';
import type { ExecutionContext } from '../policy/policy.js';
import { FakeClock } from '../testing/fake-clock.js';
import { timeout } from '../timeout/timeout.js';
import { bulkhead, type BulkheadPolicy } from './bulkhead.js';
import type { BulkheadOptions } from './bulkhead-options.js';
import type { BulkheadState, BulkheadSettings, Lease } from './bulkhead-state.js';
import { MemoryBulkheadState, memoryBulkheadState } from './memory-bulkhead-state.js';

interface Gate<T = string> {
  readonly promise: Promise<T>;
  open(value: T): void;
  fail(error: unknown): void;
}

function gate<T = string>(): Gate<T> {
  let open!: (value: T) => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

/** A memory state that counts what the bulkhead asks of it. */
class CountingState implements BulkheadState {
  acquires = 0;
  grants = 0;
  releases = 0;
  readonly #inner: MemoryBulkheadState;

  constructor(settings: BulkheadSettings) {
    this.#inner = new MemoryBulkheadState(settings);
  }

  acquire(key: string): Lease | undefined {
    this.acquires++;
    const lease = this.#inner.acquire(key);
    if (lease !== undefined) this.grants++;
    return lease;
  }

  release(lease: Lease): void {
    this.releases++;
    this.#inner.release(lease);
  }
}

let clock: FakeClock;

function setUp(options: Partial<BulkheadOptions> = {}): {
  policy: BulkheadPolicy;
  state: () => CountingState;
  events: ResilienceEvent[];
  started: string[];
  run: (label: string, work: Gate, signal?: AbortSignal) => Promise<string>;
} {
  clock = new FakeClock();
  let state: CountingState | undefined;
  const policy = bulkhead({
    maxConcurrent: 1,
    clock,
    state: (settings) => (state = new CountingState(settings)),
    ...options,
  });
  const events: ResilienceEvent[] = [];
  policy.onEvent((event) => events.push(event));
  const started: string[] = [];
  const run = (label: string, work: Gate, signal?: AbortSignal): Promise<string> =>
    policy.execute(
      () => {
        started.push(label);
        return work.promise;
      },
      signal === undefined ? undefined : { signal },
    );
  return { policy, state: () => state!, events, started, run };
}

/** Settles `promise` into a value or the error, so a rejection is never left unhandled. */
function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

afterEach(() => {
  // Every test leaves nothing armed: the bulkhead clears its queue timer when the queue empties.
  expect(clock.pendingTimers).toBe(0);
});

describe('bulkhead', () => {
  it('runs up to maxConcurrent calls at once and refuses the next when there is no queue', async () => {
    const { policy, run, events } = setUp({ maxConcurrent: 2, name: 'db' });
    const a = gate();
    const b = gate();
    const callA = run('A', a);
    const callB = run('B', b);
    expect(policy.inFlight).toBe(2);

    const refused = await settle(run('C', gate()));
    expect(refused.error).toBeInstanceOf(BulkheadFullError);
    expect(isResilienceError(refused.error, 'BULKHEAD_FULL')).toBe(true);
    expect((refused.error as Error).message).toBe(
      'bulkhead "db": all 2 permits are in use and the queue is full (maxQueue 0)',
    );
    expect(events.filter((event) => event.type === 'call.rejected')).toEqual([
      { type: 'call.rejected', policyKind: 'bulkhead', policyName: 'db', reason: 'bulkhead-full' },
    ]);

    a.open('a');
    b.open('b');
    await expect(Promise.all([callA, callB])).resolves.toEqual(['a', 'b']);
    expect(policy.inFlight).toBe(0);
  });

  it('serves the queue in arrival order: A holds, B, C, D queue, each release starts the oldest', async () => {
    const { policy, run, started } = setUp({ maxQueue: 3 });
    const works = { A: gate(), B: gate(), C: gate(), D: gate() };
    const calls = Object.entries(works).map(([label, work]) => run(label, work));
    await clock.flush();
    expect(started).toEqual(['A']);
    expect([policy.inFlight, policy.queued]).toEqual([1, 3]);

    works.A.open('a');
    await clock.flush();
    expect(started).toEqual(['A', 'B']);
    works.B.open('b');
    await clock.flush();
    expect(started).toEqual(['A', 'B', 'C']);
    works.C.open('c');
    works.D.open('d');
    await expect(Promise.all(calls)).resolves.toEqual(['a', 'b', 'c', 'd']);
    expect([policy.inFlight, policy.queued]).toEqual([0, 0]);
  });

  it('puts a newcomer behind the waiters: A holds, B queues, A releases and E arrives in the same tick → B runs, E waits', async () => {
    const { run, started } = setUp({ maxQueue: 2 });
    const a = gate();
    const b = gate();
    const e = gate();
    const callA = run('A', a);
    const callB = run('B', b);
    await clock.flush();
    a.open('a');
    await callA;
    // A's permit went to B when A released, before E could ask for it.
    const callE = run('E', e);
    await clock.flush();
    expect(started).toEqual(['A', 'B']);
    b.open('b');
    e.open('e');
    await expect(Promise.all([callB, callE])).resolves.toEqual(['b', 'e']);
    expect(started).toEqual(['A', 'B', 'E']);
  });

  it('lets a queued caller that aborts leave at once: A holds, B queues, C queues, B aborts, A releases → C runs', async () => {
    const { policy, run, started, state } = setUp({ maxQueue: 2 });
    const a = gate();
    const c = gate();
    const controllerB = new AbortController();
    const callA = run('A', a);
    const callB = settle(run('B', gate(), controllerB.signal));
    const callC = run('C', c);
    expect(policy.queued).toBe(2);

    const reason = new Error('B gave up');
    controllerB.abort(reason);
    // B rejects with its own reason before A releases, and its queue place is free.
    await expect(callB).resolves.toEqual({ error: reason });
    expect(policy.queued).toBe(1);

    a.open('a');
    c.open('c');
    await expect(Promise.all([callA, callC])).resolves.toEqual(['a', 'c']);
    expect(started).toEqual(['A', 'C']);
    expect([state().grants, state().releases]).toEqual([2, 2]);
  });

  it('frees the queue slot of an aborted caller: A holds, B queues, C is refused, B aborts, D queues', async () => {
    const { policy, run } = setUp({ maxQueue: 1 });
    const a = gate();
    const d = gate();
    const controllerB = new AbortController();
    const callA = run('A', a);
    const callB = settle(run('B', gate(), controllerB.signal));
    await expect(run('C', gate())).rejects.toBeInstanceOf(BulkheadFullError);
    controllerB.abort(new Error('stop'));
    await callB;
    const callD = run('D', d);
    expect(policy.queued).toBe(1);
    a.open('a');
    d.open('d');
    await expect(Promise.all([callA, callD])).resolves.toEqual(['a', 'd']);
  });

  it('refuses a caller whose queue wait runs out, with a message naming queueTimeoutMs', async () => {
    const { policy, run, events, started } = setUp({ maxQueue: 1, queueTimeoutMs: 100, name: 'db' });
    const a = gate();
    const callA = run('A', a);
    const callB = settle(run('B', gate()));
    expect(clock.pendingTimers).toBe(1);

    await clock.advance(99);
    expect(policy.queued).toBe(1);
    await clock.advance(1);
    const { error } = await callB;
    expect(error).toBeInstanceOf(BulkheadFullError);
    expect((error as Error).message).toBe(
      'bulkhead "db": no permit came free within queueTimeoutMs (100 ms) while queued',
    );
    expect(events.filter((event) => event.type === 'call.rejected')).toEqual([
      { type: 'call.rejected', policyKind: 'bulkhead', policyName: 'db', reason: 'queue-timeout' },
    ]);
    expect(policy.queued).toBe(0);
    expect(clock.pendingTimers).toBe(0);

    a.open('a');
    await callA;
    expect(started).toEqual(['A']);
  });

  it('times out staggered waiters with one timer: B queues at 0, C at 50, timeout 100 → B out at 100, C at 150', async () => {
    const { run } = setUp({ maxQueue: 2, queueTimeoutMs: 100 });
    const a = gate();
    const callA = run('A', a);
    const callB = settle(run('B', gate()));
    await clock.advance(50);
    const callC = settle(run('C', gate()));
    expect(clock.pendingTimers).toBe(1);

    let isCSettled = false;
    void callC.then(() => (isCSettled = true));
    await clock.advance(50);
    expect((await callB).error).toBeInstanceOf(BulkheadFullError);
    expect(isCSettled).toBe(false);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(50);
    expect((await callC).error).toBeInstanceOf(BulkheadFullError);
    a.open('a');
    await callA;
  });

  it('re-arms the queue timer for the next waiter: B queues at 0, C at 50, A releases at 60 → B runs, C times out at 150', async () => {
    const { run, started } = setUp({ maxQueue: 2, queueTimeoutMs: 100 });
    const a = gate();
    const b = gate();
    const callA = run('A', a);
    const callB = run('B', b);
    await clock.advance(50);
    const callC = settle(run('C', gate()));
    await clock.advance(10);
    a.open('a');
    await callA;
    await clock.flush();
    expect(started).toEqual(['A', 'B']);
    await clock.advance(89);
    let isCSettled = false;
    void callC.then(() => (isCSettled = true));
    await clock.advance(1); // t = 150: the timer armed for B (due 100) fired early and re-armed for C.
    expect(isCSettled).toBe(true);
    expect((await callC).error).toBeInstanceOf(BulkheadFullError);
    b.open('b');
    await callB;
  });

  describe('gives the permit back exactly once', () => {
    it.each([
      ['success', () => Promise.resolve('ok')],
      ['a rejected promise', () => Promise.reject(new Error('boom'))],
      [
        'a synchronous throw',
        (): string => {
          throw new Error('sync');
        },
      ],
    ])('on %s, and the next waiter runs', async (_way, work) => {
      const { policy, state, started } = setUp({ maxQueue: 1 });
      const next = gate();
      const first = settle(policy.execute(work));
      const second = policy.execute(() => {
        started.push('next');
        return next.promise;
      });
      await first;
      expect(started).toEqual(['next']);
      next.open('n');
      await second;
      expect([state().grants, state().releases, policy.inFlight]).toEqual([2, 2, 0]);
    });

    it('when the caller aborts a running call whose work follows its signal', async () => {
      const { policy, state } = setUp();
      const controller = new AbortController();
      const reason = new Error('caller stopped');
      const call = policy.execute(
        ({ signal }) =>
          new Promise((_, reject) => {
            signal.addEventListener('abort', () => {
              reject(signal.reason as Error);
            });
          }),
        { signal: controller.signal },
      );
      await clock.flush();
      controller.abort(reason);
      await expect(call).rejects.toBe(reason);
      expect([state().grants, state().releases, policy.inFlight]).toEqual([1, 1, 0]);
    });

    it('when an enclosing timeout aborts the running work (A runs, the timeout fires, B runs)', async () => {
      const { policy, state, started } = setUp({ maxQueue: 1 });
      // An enclosing policy hands its scope down the way `compose` does; aborting it is the timeout firing.
      const enclosing = CallScope.abortable(undefined, 1);
      const callA = policy.execute(
        ({ signal }: ExecutionContext) =>
          new Promise<string>((_, reject) => {
            started.push('A');
            signal.addEventListener('abort', () => {
              reject(signal.reason as Error);
            });
          }),
        nestedExecuteOptions(enclosing, undefined),
      );
      const b = gate();
      const callB = policy.execute(() => {
        started.push('B');
        return b.promise;
      });
      await clock.flush();
      const timeoutError = new TimeoutError({ policyKind: 'timeout', policyName: 'outer' }, 50);
      enclosing.abort(timeoutError);
      await expect(callA).rejects.toBe(timeoutError);
      expect(started).toEqual(['A', 'B']);
      b.open('b');
      await callB;
      expect([state().grants, state().releases]).toEqual([2, 2]);
    });

    it('when an enclosing timeout fires while the call waits in the queue (it never runs)', async () => {
      const { policy, run, started, state } = setUp({ maxQueue: 1 });
      const a = gate();
      const callA = run('A', a);
      const enclosing = CallScope.abortable(undefined, 1);
      const callB = policy.execute(() => started.push('B'), nestedExecuteOptions(enclosing, undefined));
      const timeoutError = new TimeoutError({ policyKind: 'timeout', policyName: 'outer' }, 50);
      enclosing.abort(timeoutError);
      await expect(callB).rejects.toBe(timeoutError);
      expect(policy.queued).toBe(0);
      a.open('a');
      await callA;
      expect(started).toEqual(['A']);
      expect([state().grants, state().releases]).toEqual([1, 1]);
    });

    it('when the caller aborts just as its permit is granted (it never runs)', async () => {
      const { policy, run, started, state } = setUp({ maxQueue: 1 });
      const a = gate();
      const controllerB = new AbortController();
      const reason = new Error('too late');
      const callA = run('A', a);
      const callB = settle(run('B', gate(), controllerB.signal));
      // The grant emits `bulkhead.acquired` before B's continuation runs: abort right there.
      policy.onEvent((event) => {
        if (event.type === 'bulkhead.acquired' && event.waitedMs >= 0 && policy.queued === 0) {
          controllerB.abort(reason);
        }
      });
      a.open('a');
      await callA;
      await expect(callB).resolves.toEqual({ error: reason });
      expect(started).toEqual(['A']);
      expect([state().grants, state().releases, policy.inFlight]).toEqual([2, 2, 0]);
    });
  });

  describe('inside compose(timeout, bulkhead)', () => {
    it('gives the permit back when the timeout aborts running work: A runs, B queues, 50 ms pass → A times out, B runs', async () => {
      const { policy, state, started } = setUp({ maxQueue: 1 });
      const pipeline = compose(timeout({ timeoutMs: 50, clock }), policy);
      const callA = settle(
        pipeline.execute(
          ({ signal }) =>
            new Promise<string>((_, reject) => {
              started.push('A');
              signal.addEventListener('abort', () => {
                reject(signal.reason as Error);
              });
            }),
        ),
      );
      const b = gate();
      const callB = policy.execute(() => {
        started.push('B');
        return b.promise;
      });
      await clock.advance(50);
      expect((await callA).error).toBeInstanceOf(TimeoutError);
      expect(started).toEqual(['A', 'B']);
      b.open('b');
      await callB;
      expect([state().grants, state().releases, policy.inFlight]).toEqual([2, 2, 0]);
    });

    it('takes a waiter out of the queue when the timeout fires first: A holds, B queues, 50 ms pass → B times out, never runs', async () => {
      const { policy, run, state, started } = setUp({ maxQueue: 1 });
      const pipeline = compose(timeout({ timeoutMs: 50, clock }), policy);
      const a = gate();
      const callA = run('A', a);
      const callB = settle(pipeline.execute(() => started.push('B')));
      await clock.advance(50);
      expect((await callB).error).toBeInstanceOf(TimeoutError);
      expect(policy.queued).toBe(0);
      a.open('a');
      await callA;
      expect(started).toEqual(['A']);
      expect([state().grants, state().releases]).toEqual([1, 1]);
    });
  });

  it('keeps the permit while work that ignores its signal still runs after the caller aborted', async () => {
    const { policy, run } = setUp();
    const a = gate();
    const controller = new AbortController();
    const callA = settle(run('A', a, controller.signal));
    controller.abort(new Error('stop'));
    await clock.flush();
    // The work is still running, so it still occupies the resource the bulkhead protects.
    expect(policy.inFlight).toBe(1);
    a.open('late');
    await expect(callA).resolves.toEqual({ value: 'late' });
    expect(policy.inFlight).toBe(0);
  });

  it('rejects at once with the reason when the signal is already aborted, taking no permit', async () => {
    const { policy, state } = setUp();
    const controller = new AbortController();
    controller.abort(new Error('early'));
    await expect(policy.execute(() => 'never', { signal: controller.signal })).rejects.toThrow('early');
    expect(state().acquires).toBe(0);
  });

  it('emits acquired (with the queue wait), released and the outcome, in that order', async () => {
    const { run, events } = setUp({ maxQueue: 1, name: 'db' });
    const a = gate();
    const b = gate();
    const callA = run('A', a);
    const callB = run('B', b);
    await clock.advance(30);
    a.open('a');
    await callA;
    b.open('b');
    await callB;
    expect(events).toEqual([
      {
        type: 'bulkhead.acquired',
        policyKind: 'bulkhead',
        policyName: 'db',
        inFlight: 1,
        queued: 0,
        waitedMs: 0,
      },
      { type: 'bulkhead.released', policyKind: 'bulkhead', policyName: 'db', inFlight: 0, queued: 1 },
      {
        type: 'bulkhead.acquired',
        policyKind: 'bulkhead',
        policyName: 'db',
        inFlight: 1,
        queued: 0,
        waitedMs: 30,
      },
      { type: 'execution.succeeded', policyKind: 'bulkhead', policyName: 'db', durationMs: 30 },
      { type: 'bulkhead.released', policyKind: 'bulkhead', policyName: 'db', inFlight: 0, queued: 0 },
      { type: 'execution.succeeded', policyKind: 'bulkhead', policyName: 'db', durationMs: 30 },
    ]);
  });

  it('reports a failed run as execution.failed and a throwing listener changes nothing', async () => {
    const { policy, events } = setUp();
    policy.onEvent(() => {
      throw new Error('listener bug');
    });
    const failure = new Error('boom');
    await expect(policy.execute(() => Promise.reject(failure))).rejects.toBe(failure);
    expect(events.map((event) => event.type)).toEqual([
      'bulkhead.acquired',
      'bulkhead.released',
      'execution.failed',
    ]);
    expect(policy.inFlight).toBe(0);
  });

  it('never reads the clock for an uncontended call when nobody listens', async () => {
    clock = new FakeClock();
    let reads = 0;
    const countingClock = {
      now: () => {
        reads++;
        return clock.now();
      },
      setTimeout: clock.setTimeout.bind(clock),
      clearTimeout: clock.clearTimeout.bind(clock),
    };
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 1000, clock: countingClock });
    await policy.execute(() => 'ok');
    expect(reads).toBe(0);
  });

  it('hands the work the caller signal and the inherited attempt', async () => {
    const { policy } = setUp();
    const controller = new AbortController();
    const seen = await policy.execute(({ signal, attempt }) => ({ signal, attempt }), {
      signal: controller.signal,
    });
    expect(seen).toEqual({ signal: controller.signal, attempt: 1 });
  });

  it('keeps the outcome when the state fails to release', async () => {
    clock = new FakeClock();
    const memory = new MemoryBulkheadState({ maxConcurrent: 1 });
    const policy = bulkhead({
      maxConcurrent: 1,
      clock,
      state: () => ({
        acquire: (key) => memory.acquire(key),
        release: () => {
          throw new Error('backend down');
        },
      }),
    });
    await expect(policy.execute(() => 'ok')).resolves.toBe('ok');
    expect(policy.inFlight).toBe(0);
  });

  it('builds its state once from maxConcurrent', () => {
    const allSettings: BulkheadSettings[] = [];
    bulkhead({
      maxConcurrent: 3,
      state: (settings) => {
        allSettings.push(settings);
        return new MemoryBulkheadState(settings);
      },
    });
    clock = new FakeClock();
    expect(allSettings).toEqual([{ maxConcurrent: 3 }]);
  });

  it('wrap keeps the arguments and the return type', async () => {
    const { policy } = setUp();
    const add = policy.wrap((x: number, y: number) => x + y);
    await expect(add(2, 3)).resolves.toBe(5);
  });

  it('watches the state while callers wait, and asks again when it reports a permit freed elsewhere: X holds, B and C queue, X releases → B runs, then C; the watch stops', async () => {
    clock = new FakeClock();
    const memory = new MemoryBulkheadState({ maxConcurrent: 1 });
    const watches: string[] = [];
    let onFree: (() => void) | undefined;
    let unwatches = 0;
    const policy = bulkhead({
      maxConcurrent: 1,
      maxQueue: 2,
      clock,
      state: () => ({
        acquire: (key) => memory.acquire(key),
        release: (lease) => {
          memory.release(lease);
        },
        watch: (key, listener) => {
          watches.push(key);
          onFree = listener;
          return () => {
            unwatches++;
          };
        },
      }),
    });
    const outsider = memory.acquire('bulkhead')!; // another process holds the only permit
    const started: string[] = [];
    const [b, c] = [gate(), gate()];
    const callB = policy.execute(() => {
      started.push('B');
      return b.promise;
    });
    const callC = policy.execute(() => {
      started.push('C');
      return c.promise;
    });
    expect([watches, policy.queued]).toEqual([['bulkhead'], 2]);

    memory.release(outsider);
    onFree!();
    await clock.flush();
    expect(started).toEqual(['B']);
    expect(unwatches).toBe(0);
    b.open('b');
    await callB;
    await clock.flush();
    expect(started).toEqual(['B', 'C']);
    expect([watches.length, unwatches]).toEqual([1, 1]);
    c.open('c');
    await callC;
  });

  describe('with a state that answers asynchronously', () => {
    /** The memory state behind a promise, like a Redis state: every answer arrives a tick later. */
    function asyncState(
      settings: BulkheadSettings,
    ): BulkheadState & { readonly memory: MemoryBulkheadState } {
      const memory = new MemoryBulkheadState(settings);
      return {
        memory,
        acquire: (key) => Promise.resolve().then(() => memory.acquire(key)),
        release: (lease) =>
          Promise.resolve().then(() => {
            memory.release(lease);
          }),
      };
    }

    /**
     * The memory state behind a slow network: an acquire is decided when asked, a release is
     * applied when delivered, and each answer arrives only when the test says.
     */
    function heldBackState(settings: BulkheadSettings): BulkheadState & {
      readonly memory: MemoryBulkheadState;
      deliverAcquire(): Promise<void>;
      deliverRelease(): Promise<void>;
      readonly pendingAcquires: number;
    } {
      const memory = new MemoryBulkheadState(settings);
      const acquires: (() => void)[] = [];
      const releases: (() => void)[] = [];
      return {
        memory,
        get pendingAcquires() {
          return acquires.length;
        },
        acquire: (key) => {
          const answer = memory.acquire(key);
          return new Promise<Lease | undefined>((resolve) => {
            acquires.push(() => {
              resolve(answer);
            });
          });
        },
        release: (lease) =>
          new Promise<void>((resolve) => {
            releases.push(() => {
              memory.release(lease);
              resolve();
            });
          }),
        async deliverAcquire() {
          acquires.shift()!();
          await clock.flush();
        },
        async deliverRelease() {
          releases.shift()!();
          await clock.flush();
        },
      };
    }

    it('queues and serves in order: A holds, B and C queue, A releases → B, then C', async () => {
      const { run, started, policy } = setUp({ maxQueue: 2, state: asyncState });
      const works = { A: gate(), B: gate(), C: gate() };
      const calls = Object.entries(works).map(([label, work]) => run(label, work));
      await clock.flush();
      expect([started, policy.queued]).toEqual([['A'], 2]);
      works.A.open('a');
      await clock.flush();
      expect(started).toEqual(['A', 'B']);
      works.B.open('b');
      works.C.open('c');
      await expect(Promise.all(calls)).resolves.toEqual(['a', 'b', 'c']);
    });

    it('gives back a lease that arrives after the caller aborted: B asks, B aborts, the grant arrives → released', async () => {
      clock = new FakeClock();
      let state: ReturnType<typeof asyncState> | undefined;
      const policy = bulkhead({
        maxConcurrent: 1,
        clock,
        state: (settings) => (state = asyncState(settings)),
      });
      const controller = new AbortController();
      const reason = new Error('stop');
      const call = policy.execute(() => 'never', { signal: controller.signal });
      controller.abort(reason);
      await expect(call).rejects.toBe(reason);
      await clock.flush();
      expect(state!.memory.heldCount('bulkhead')).toBe(0);
      expect(policy.inFlight).toBe(0);
    });

    it('gives back a lease granted to a caller that aborts as it arrives (it never runs)', async () => {
      let state: ReturnType<typeof asyncState> | undefined;
      const { policy, started } = setUp({ state: (settings) => (state = asyncState(settings)) });
      const controller = new AbortController();
      const reason = new Error('too late');
      policy.onEvent((event) => {
        if (event.type === 'bulkhead.acquired') controller.abort(reason);
      });
      const call = settle(policy.execute(() => started.push('A'), { signal: controller.signal }));
      await expect(call).resolves.toEqual({ error: reason });
      await clock.flush();
      expect(started).toEqual([]);
      expect(policy.inFlight).toBe(0);
      expect(state!.memory.heldCount('bulkhead')).toBe(0);
    });

    it('does not lose a release that lands while a refused acquire is out: B asks (refused), A releases, the refusal arrives → B queues and runs', async () => {
      let state: ReturnType<typeof heldBackState> | undefined;
      const { run, started } = setUp({ maxQueue: 1, state: (settings) => (state = heldBackState(settings)) });
      const a = gate();
      const b = gate();
      const callA = run('A', a);
      await state!.deliverAcquire();
      expect(started).toEqual(['A']);

      const callB = run('B', b); // refused: A holds the only permit; the answer is still out
      a.open('a');
      await callA;
      await state!.deliverRelease(); // A's permit is back; the queue was empty, so nobody was woken
      await state!.deliverAcquire(); // B learns it was refused and queues; it must ask again at once
      expect(state!.pendingAcquires).toBe(1);
      await state!.deliverAcquire();
      expect(started).toEqual(['A', 'B']);
      b.open('b');
      await callB;
      await state!.deliverRelease();
    });

    it('gives back a permit that arrives for a waiter who left: A releases, the ask for B is out, B aborts, the grant arrives → released', async () => {
      let state: ReturnType<typeof heldBackState> | undefined;
      const { run, policy } = setUp({ maxQueue: 1, state: (settings) => (state = heldBackState(settings)) });
      const a = gate();
      const controllerB = new AbortController();
      const callA = run('A', a);
      await state!.deliverAcquire();
      const callB = settle(run('B', gate(), controllerB.signal));
      await state!.deliverAcquire(); // refused: B queues
      a.open('a');
      await callA;
      await state!.deliverRelease(); // the shell asks for B
      expect(state!.pendingAcquires).toBe(1);
      controllerB.abort(new Error('B left'));
      await callB;
      await state!.deliverAcquire(); // granted, but nobody waits any more
      await state!.deliverRelease();
      expect(state!.memory.heldCount('bulkhead')).toBe(0);
      expect([policy.inFlight, policy.queued]).toEqual([0, 0]);
    });

    it('asks again when a release lands while the head waits for a refusal: A1 releases, X takes that permit, A2 releases, the refusal arrives → B runs', async () => {
      let state: ReturnType<typeof heldBackState> | undefined;
      const { run, started } = setUp({
        maxConcurrent: 2,
        maxQueue: 1,
        state: (settings) => (state = heldBackState(settings)),
      });
      const [a1, a2, b] = [gate(), gate(), gate()];
      const callA1 = run('A1', a1);
      const callA2 = run('A2', a2);
      await state!.deliverAcquire();
      await state!.deliverAcquire();
      const callB = run('B', b);
      await state!.deliverAcquire(); // refused: B queues
      a1.open('a1');
      await callA1;
      // A1's permit comes back, and someone outside this bulkhead takes it before B's shell asks.
      const deliverA1 = state!.deliverRelease();
      const outsider = state!.memory.acquire('bulkhead');
      await deliverA1;
      expect(state!.pendingAcquires).toBe(1); // the ask for B, answered "none"
      a2.open('a2');
      await callA2;
      await state!.deliverRelease(); // A2's permit is back while the ask for B is out
      await state!.deliverAcquire(); // the refusal arrives: the shell must ask again
      expect(state!.pendingAcquires).toBe(1);
      await state!.deliverAcquire();
      expect(started).toEqual(['A1', 'A2', 'B']);
      b.open('b');
      await callB;
      await state!.deliverRelease();
      state!.memory.release(outsider!);
    });
  });

  it.each([
    [{}, TypeError, 'bulkhead "bulkhead": maxConcurrent is required'],
    [{ maxConcurrent: 0 }, RangeError, 'bulkhead "bulkhead": maxConcurrent must be >= 1, got 0'],
    [{ maxConcurrent: 1.5 }, RangeError, 'bulkhead "bulkhead": maxConcurrent must be an integer, got 1.5'],
    [
      { maxConcurrent: '2' },
      TypeError,
      'bulkhead "bulkhead": maxConcurrent must be a finite number, got "2"',
    ],
    [
      { maxConcurrent: 1, maxQueue: -1 },
      RangeError,
      'bulkhead "bulkhead": maxQueue must be an integer >= 0 or Infinity, got -1',
    ],
    [
      { maxConcurrent: 1, queueTimeoutMs: 0 },
      RangeError,
      'bulkhead "bulkhead": queueTimeoutMs must be a number of ms > 0 or Infinity, got 0',
    ],
    [
      { maxConcurrent: 1, queueTimeoutMs: Number.NaN },
      RangeError,
      'bulkhead "bulkhead": queueTimeoutMs must be a number of ms > 0 or Infinity, got NaN',
    ],
    [
      { maxConcurrent: 1, state: {} },
      TypeError,
      'bulkhead "bulkhead": state must be a function, got an object',
    ],
    [{ maxConcurrent: 1, name: ' db' }, TypeError, 'bulkhead " db": name must not have surrounding spaces'],
    [{ maxConcurrent: 1, queue: 3 }, TypeError, 'bulkhead "bulkhead": queue is not a known option'],
  ])('rejects bad options %j with a named error', (options, errorClass, message) => {
    clock = new FakeClock();
    expect(() => bulkhead(options as never)).toThrow(errorClass);
    expect(() => bulkhead(options as never)).toThrow(message);
  });

  it('treats an undefined option as absent', async () => {
    clock = new FakeClock();
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: undefined, queueTimeoutMs: undefined, clock });
    await expect(policy.execute(() => 'ok')).resolves.toBe('ok');
  });
});

describe('bulkhead on a memory state: uncontended calls counted on the state, without a lease', () => {
  it("shares one limit with the state's leases: a counted call and a direct lease fill 2 permits, the next call queues until the lease goes back", async () => {
    const state = new MemoryBulkheadState({ maxConcurrent: 2 });
    const db = bulkhead({ name: 'db', maxConcurrent: 2, maxQueue: 1, state: () => state });
    const a = gate();
    const first = db.execute(() => a.promise);
    expect(state.heldCount('db')).toBe(1);
    const lease = state.acquire('db');
    expect(lease).toBeDefined();
    expect(state.acquire('db')).toBeUndefined();
    let ranSecond = false;
    const second = db.execute(() => {
      ranSecond = true;
      return 'b';
    });
    await Promise.resolve();
    expect(db.queued).toBe(1);
    expect(ranSecond).toBe(false);
    // A memory state has no watch: the queue moves on the bulkhead's own release, as before.
    state.release(lease!);
    a.open('a');
    await expect(first).resolves.toBe('a');
    await expect(second).resolves.toBe('b');
    expect(state.heldCount('db')).toBe(0);
    expect(db.inFlight).toBe(0);
  });

  it('keeps counting on its own pool after 2,000 other keys of the shared state were used and idle pools swept', async () => {
    const state = new MemoryBulkheadState({ maxConcurrent: 1 });
    const db = bulkhead({ name: 'db', maxConcurrent: 1, state: () => state });
    // The bulkhead's pool is idle while the sweep runs; it must not be dropped and replaced.
    for (let index = 0; index < 2_000; index++) {
      const other = state.acquire(`key-${index}`);
      if (other !== undefined) state.release(other);
    }
    const a = gate();
    const held = db.execute(() => a.promise);
    // The pool the running call counted on is the key's: the state refuses, and so does the bulkhead.
    expect(state.acquire('db')).toBeUndefined();
    await expect(db.execute(() => 'b')).rejects.toBeInstanceOf(BulkheadFullError);
    a.open('a');
    await held;
    expect(state.heldCount('db')).toBe(0);
    const after = state.acquire('db');
    expect(after).toBeDefined();
    state.release(after!);
  });

  it('gives the permit back once when the work throws synchronously, rejects, or the caller aborts', async () => {
    const state = new MemoryBulkheadState({ maxConcurrent: 1 });
    const db = bulkhead({ name: 'db', maxConcurrent: 1, state: () => state });
    await expect(
      db.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(db.execute(() => Promise.reject(new Error('async')))).rejects.toThrow('async');
    const controller = new AbortController();
    const aborted = db.execute(
      ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            reject(new Error('stopped'));
          });
        }),
      { signal: controller.signal },
    );
    controller.abort(new Error('caller left'));
    await expect(aborted).rejects.toThrow('caller left');
    expect(state.heldCount('db')).toBe(0);
    expect(db.inFlight).toBe(0);
    await expect(db.execute(() => 'ok')).resolves.toBe('ok');
  });

  it('asks a subclass of MemoryBulkheadState on every call: its acquire may do more than count', async () => {
    let acquires = 0;
    class LoggedState extends MemoryBulkheadState {
      override acquire(key: string, nowMs?: number): Lease | undefined {
        acquires++;
        return super.acquire(key, nowMs);
      }
    }
    const db = bulkhead({ name: 'db', maxConcurrent: 1, state: (settings) => new LoggedState(settings) });
    await db.execute(() => 'a');
    await db.execute(() => 'b');
    expect(acquires).toBe(2);
  });
});

describe('MemoryBulkheadState', () => {
  it('sweeps idle pools of many keys and keeps the held ones: "held" full, 2000 other keys used and released', () => {
    clock = new FakeClock();
    const state = new MemoryBulkheadState({ maxConcurrent: 1 });
    const held = state.acquire('held');
    let lastToken = held!.fencingToken;
    for (let index = 0; index < 2000; index++) {
      const lease = state.acquire(`key-${index}`)!;
      expect(lease.fencingToken).toBeGreaterThan(lastToken);
      lastToken = lease.fencingToken;
      state.release(lease);
    }
    expect(state.acquire('held')).toBeUndefined();
    expect(state.heldCount('held')).toBe(1);
    state.release(held!);
    expect(state.acquire('held')).toBeDefined();
  });

  it('is what memoryBulkheadState() builds, with the bulkhead limit', () => {
    clock = new FakeClock();
    const state = memoryBulkheadState()({ maxConcurrent: 2 });
    expect(state).toBeInstanceOf(MemoryBulkheadState);
    expect([state.acquire('k'), state.acquire('k'), state.acquire('k')].map(Boolean)).toEqual([
      true,
      true,
      false,
    ]);
  });

  it.each([
    [{ maxConcurrent: 0 }, RangeError, 'MemoryBulkheadState: maxConcurrent must be >= 1, got 0'],
    [{ maxConcurrent: 1.5 }, RangeError, 'MemoryBulkheadState: maxConcurrent must be an integer, got 1.5'],
    [{}, TypeError, 'MemoryBulkheadState: maxConcurrent is required'],
  ])('rejects bad settings %j with a named error', (config, errorClass, message) => {
    clock = new FakeClock();
    expect(() => new MemoryBulkheadState(config as never)).toThrow(errorClass);
    expect(() => new MemoryBulkheadState(config as never)).toThrow(message);
  });
});
