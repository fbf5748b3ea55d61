import { afterEach, describe, expect, it } from 'vitest';

import { compose } from '../compose/compose.js';
import { TimeoutError } from '../errors/errors.js';
import type { ResilienceEvent } from '../events/resilience-event.js';
import type { ExecutionContext } from '../policy/policy.js';
import { FakeClock } from '../testing/fake-clock.js';
import { timeout } from '../timeout/timeout.js';
import { cache, type CachePolicy } from './cache.js';
import type { CacheOptions } from './cache-options.js';

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

/** Settles `promise` into a value or the error, so a rejection is never left unhandled. */
function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

let clock: FakeClock;

function setUp(options: Partial<CacheOptions> = {}): {
  policy: CachePolicy;
  events: ResilienceEvent[];
  /** Work that counts its runs and answers `${key}#${run}`. */
  load: (key: string | undefined, signal?: AbortSignal) => Promise<string>;
  runs: () => number;
} {
  clock = new FakeClock();
  const policy = cache({ ttlMs: 100, clock, ...options });
  const events: ResilienceEvent[] = [];
  policy.onEvent((event) => events.push(event));
  let runs = 0;
  const load = (key: string | undefined, signal?: AbortSignal): Promise<string> =>
    policy.execute(() => `${key ?? 'none'}#${++runs}`, {
      ...(key === undefined ? {} : { key }),
      ...(signal === undefined ? {} : { signal }),
    });
  return { policy, events, load, runs: () => runs };
}

afterEach(() => {
  // Expiry is computed when an entry is read: the cache never arms a timer.
  expect(clock.pendingTimers).toBe(0);
});

describe('cache', () => {
  it('answers from the stored result until ttlMs after the execution finished', async () => {
    const { load, events } = setUp({ ttlMs: 100, name: 'users' });
    await expect(load('u1')).resolves.toBe('u1#1');
    await clock.advance(99);
    await expect(load('u1')).resolves.toBe('u1#1');
    await clock.advance(1);
    await expect(load('u1')).resolves.toBe('u1#2');
    expect(events.filter((event) => event.type.startsWith('cache.'))).toEqual([
      { type: 'cache.miss', policyKind: 'cache', policyName: 'users' },
      { type: 'cache.hit', policyKind: 'cache', policyName: 'users' },
      { type: 'cache.miss', policyKind: 'cache', policyName: 'users' },
    ]);
  });

  it('counts freshness from when the work finished, not when it started: starts at 0, ends at 50 → fresh until 150', async () => {
    const { policy } = setUp({ ttlMs: 100 });
    const work = gate();
    const first = policy.execute(() => work.promise, { key: 'k' });
    await clock.advance(50);
    work.open('v1');
    await first;
    await clock.advance(99);
    await expect(policy.execute(() => 'v2', { key: 'k' })).resolves.toBe('v1');
    await clock.advance(1);
    await expect(policy.execute(() => 'v2', { key: 'k' })).resolves.toBe('v2');
  });

  it('keeps results of different keys apart', async () => {
    const { load } = setUp();
    await expect(load('a')).resolves.toBe('a#1');
    await expect(load('b')).resolves.toBe('b#2');
    await expect(load('a')).resolves.toBe('a#1');
  });

  it('runs calls without a key every time, with no cache events', async () => {
    const { load, events, policy } = setUp();
    await expect(load(undefined)).resolves.toBe('none#1');
    await expect(load(undefined)).resolves.toBe('none#2');
    expect(events.map((event) => event.type)).toEqual(['execution.succeeded', 'execution.succeeded']);
    expect(policy.size).toBe(0);
  });

  it('coalesces concurrent calls with one key: A starts, B and C join → one execution, three answers', async () => {
    const { policy, events } = setUp();
    const work = gate();
    let runs = 0;
    const call = (): Promise<string> =>
      policy.execute(
        () => {
          runs++;
          return work.promise;
        },
        { key: 'k' },
      );
    const calls = [call(), call(), call()];
    work.open('shared');
    await expect(Promise.all(calls)).resolves.toEqual(['shared', 'shared', 'shared']);
    expect(runs).toBe(1);
    expect(events.filter((event) => event.type.startsWith('cache.')).map((event) => event.type)).toEqual([
      'cache.miss',
      'cache.coalesced',
      'cache.coalesced',
    ]);
  });

  it('never stores a failure, and shares it with the calls that joined: A fails, B joined → both reject, C runs again', async () => {
    const { policy } = setUp();
    const work = gate();
    const failure = new Error('down');
    const a = settle(policy.execute(() => work.promise, { key: 'k' }));
    const b = settle(policy.execute(() => 'never', { key: 'k' }));
    work.fail(failure);
    await expect(Promise.all([a, b])).resolves.toEqual([{ error: failure }, { error: failure }]);
    expect(policy.size).toBe(0);
    await expect(policy.execute(() => 'fresh', { key: 'k' })).resolves.toBe('fresh');
  });

  it('turns a synchronous throw into a rejection and stores nothing', async () => {
    const { policy } = setUp();
    await expect(
      policy.execute(
        (): string => {
          throw new Error('sync');
        },
        { key: 'k' },
      ),
    ).rejects.toThrow('sync');
    expect(policy.size).toBe(0);
  });

  it('stores only the results shouldCache accepts, and still coalesces the others', async () => {
    const { policy } = setUp({ shouldCache: (result) => result !== 'empty' });
    const work = gate();
    let runs = 0;
    const call = (): Promise<string> =>
      policy.execute(
        () => {
          runs++;
          return work.promise;
        },
        { key: 'k' },
      );
    const calls = [call(), call()];
    work.open('empty');
    await Promise.all(calls);
    expect(runs).toBe(1);
    expect(policy.size).toBe(0);
    await expect(policy.execute(() => 'full', { key: 'k' })).resolves.toBe('full');
    await expect(policy.execute(() => 'other', { key: 'k' })).resolves.toBe('full');
  });

  it('lets a caller that aborts leave alone: A starts, B joins, A aborts → A rejects with its reason, B gets the result, which is stored', async () => {
    const { policy } = setUp();
    const work = gate();
    let workSignal: AbortSignal | undefined;
    const controllerA = new AbortController();
    const reasonA = new Error('A gave up');
    const a = settle(
      policy.execute(
        ({ signal }: ExecutionContext) => {
          workSignal = signal;
          return work.promise;
        },
        { key: 'k', signal: controllerA.signal },
      ),
    );
    const b = policy.execute(() => 'never', { key: 'k', signal: new AbortController().signal });
    controllerA.abort(reasonA);
    await expect(a).resolves.toEqual({ error: reasonA });
    expect(workSignal?.aborted).toBe(false);
    work.open('value');
    await expect(b).resolves.toBe('value');
    await expect(policy.execute(() => 'later', { key: 'k' })).resolves.toBe('value');
  });

  it('aborts the shared work when every caller left: A starts, B joins, A aborts, B aborts → the work signal aborts with B reason, nothing is stored, C starts afresh', async () => {
    const { policy } = setUp();
    let workSignal: AbortSignal | undefined;
    const controllerA = new AbortController();
    const controllerB = new AbortController();
    const reasonB = new Error('B gave up');
    const work = gate();
    const a = settle(
      policy.execute(
        ({ signal }: ExecutionContext) => {
          workSignal = signal;
          return work.promise;
        },
        { key: 'k', signal: controllerA.signal },
      ),
    );
    const b = settle(policy.execute(() => 'never', { key: 'k', signal: controllerB.signal }));
    controllerA.abort(new Error('A gave up'));
    expect(workSignal?.aborted).toBe(false);
    controllerB.abort(reasonB);
    expect(workSignal?.aborted).toBe(true);
    expect(workSignal?.reason).toBe(reasonB);
    await expect(b).resolves.toEqual({ error: reasonB });
    await a;

    // C must not join the abandoned execution, and its late result must not be stored.
    const c = policy.execute(() => 'fresh', { key: 'k' });
    work.open('late');
    await expect(c).resolves.toBe('fresh');
    await clock.flush();
    await expect(policy.execute(() => 'other', { key: 'k' })).resolves.toBe('fresh');
  });

  it('keeps the shared work running for a caller that cannot abort: A (signal) starts, B (no signal) joins, A aborts', async () => {
    const { policy } = setUp();
    let workSignal: AbortSignal | undefined;
    const controllerA = new AbortController();
    const work = gate();
    const a = settle(
      policy.execute(
        ({ signal }: ExecutionContext) => {
          workSignal = signal;
          return work.promise;
        },
        { key: 'k', signal: controllerA.signal },
      ),
    );
    const b = policy.execute(() => 'never', { key: 'k' });
    controllerA.abort(new Error('A gave up'));
    await a;
    expect(workSignal?.aborted).toBe(false);
    work.open('value');
    await expect(b).resolves.toBe('value');
  });

  it('inside compose(timeout, cache), lets the timeout end a lone caller and abort its work: A starts, 50 ms pass → A times out, the work signal aborts', async () => {
    const { policy } = setUp();
    const pipeline = compose(timeout({ timeoutMs: 50, clock }), policy);
    let workSignal: AbortSignal | undefined;
    const a = settle(
      pipeline.execute(
        ({ signal }: ExecutionContext) => {
          workSignal = signal;
          return new Promise<string>(() => undefined);
        },
        { key: 'k' },
      ),
    );
    await clock.advance(50);
    expect((await a).error).toBeInstanceOf(TimeoutError);
    expect(workSignal?.aborted).toBe(true);
    await expect(policy.execute(() => 'fresh', { key: 'k' })).resolves.toBe('fresh');
  });

  it('runs a nested call with the same key on its own instead of waiting for itself', async () => {
    const { policy } = setUp();
    const outer = policy.execute(
      async () => {
        const inner = await policy.execute(() => 'inner', { key: 'k' });
        return `outer(${inner})`;
      },
      { key: 'k' },
    );
    await expect(outer).resolves.toBe('outer(inner)');
  });

  it('rejects at once with the reason when the signal is already aborted, running nothing', async () => {
    const { load, runs } = setUp();
    const controller = new AbortController();
    controller.abort(new Error('early'));
    await expect(load('k', controller.signal)).rejects.toThrow('early');
    expect(runs()).toBe(0);
  });

  it('evicts the least recently used result beyond maxEntries: store a, b; read a; store c → b goes', async () => {
    const { load, policy } = setUp({ maxEntries: 2, ttlMs: Infinity });
    await load('a');
    await load('b');
    await expect(load('a')).resolves.toBe('a#1');
    await load('c');
    expect(policy.size).toBe(2);
    await expect(load('a')).resolves.toBe('a#1');
    await expect(load('c')).resolves.toBe('c#3');
    await expect(load('b')).resolves.toBe('b#4');
  });

  it('keeps results forever with ttlMs Infinity', async () => {
    const { load } = setUp({ ttlMs: Infinity });
    await load('k');
    await clock.advance(10 ** 12);
    await expect(load('k')).resolves.toBe('k#1');
  });

  it('only coalesces with ttlMs 0', async () => {
    const { policy } = setUp({ ttlMs: 0 });
    const work = gate();
    let runs = 0;
    const call = (): Promise<string> =>
      policy.execute(
        () => {
          runs++;
          return work.promise;
        },
        { key: 'k' },
      );
    const calls = [call(), call()];
    work.open('v');
    await Promise.all(calls);
    expect([runs, policy.size]).toEqual([1, 0]);
    await call();
    expect(runs).toBe(2);
  });

  it('delete forgets a result, and a running execution answers its callers without being stored', async () => {
    const { policy, load } = setUp();
    await load('k');
    expect(policy.delete('k')).toBe(true);
    expect(policy.delete('k')).toBe(false);
    await expect(load('k')).resolves.toBe('k#2');

    const work = gate();
    const running = policy.execute(() => work.promise, { key: 'w' });
    expect(policy.delete('w')).toBe(true);
    // A call after the delete must not get the result of an execution that began before it.
    const after = policy.execute(() => 'after', { key: 'w' });
    work.open('before');
    await expect(running).resolves.toBe('before');
    await expect(after).resolves.toBe('after');
    await expect(policy.execute(() => 'again', { key: 'w' })).resolves.toBe('after');
  });

  it('clear forgets every result', async () => {
    const { policy, load } = setUp();
    await load('a');
    await load('b');
    policy.clear();
    expect(policy.size).toBe(0);
    await expect(load('a')).resolves.toBe('a#3');
  });

  it('emits a cache event and the outcome for every keyed call', async () => {
    const { load, events, policy } = setUp({ name: 'c' });
    await load('k');
    await load('k');
    await expect(policy.execute(() => Promise.reject(new Error('x')), { key: 'other' })).rejects.toThrow('x');
    expect(events.map((event) => event.type)).toEqual([
      'cache.miss',
      'execution.succeeded',
      'cache.hit',
      'execution.succeeded',
      'cache.miss',
      'execution.failed',
    ]);
  });

  it('hands the shared work attempt 1 and a signal of its own', async () => {
    const { policy } = setUp();
    const controller = new AbortController();
    const context = await policy.execute(({ signal, attempt }) => ({ signal, attempt }), {
      key: 'k',
      signal: controller.signal,
    });
    expect(context.attempt).toBe(1);
    expect(context.signal).not.toBe(controller.signal);
    expect(context.signal.aborted).toBe(false);
  });

  it.each([
    [{}, TypeError, 'cache "cache": ttlMs is required'],
    [{ ttlMs: -1 }, RangeError, 'cache "cache": ttlMs must be a number of ms >= 0 or Infinity, got -1'],
    [
      { ttlMs: Number.NaN },
      RangeError,
      'cache "cache": ttlMs must be a number of ms >= 0 or Infinity, got NaN',
    ],
    [{ ttlMs: '5' }, TypeError, 'cache "cache": ttlMs must be a number of ms >= 0 or Infinity, got "5"'],
    [{ ttlMs: 1, maxEntries: 0 }, RangeError, 'cache "cache": maxEntries must be >= 1, got 0'],
    [{ ttlMs: 1, shouldCache: true }, TypeError, 'cache "cache": shouldCache must be a function, got true'],
    [{ ttlMs: 1, name: '' }, TypeError, 'cache "": name must be a non-empty string, got ""'],
    [{ ttlMs: 1, ttl: 5 }, TypeError, 'cache "cache": ttl is not a known option'],
  ])('rejects bad options %j with a named error', (options, errorClass, message) => {
    clock = new FakeClock();
    expect(() => cache(options as never)).toThrow(errorClass);
    expect(() => cache(options as never)).toThrow(message);
  });

  it('treats an undefined option as absent', async () => {
    clock = new FakeClock();
    const policy = cache({ ttlMs: 10, maxEntries: undefined, shouldCache: undefined, clock });
    await expect(policy.execute(() => 'ok', { key: 'k' })).resolves.toBe('ok');
    expect(policy.size).toBe(1);
  });
});
