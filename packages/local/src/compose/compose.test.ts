import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';

import { compose } from './compose.js';
import { fallback } from '../fallback/fallback.js';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { cache } from '../cache/cache.js';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { rateLimiter } from '../rate-limiter/rate-limiter.js';
import { timeout } from '../timeout/timeout.js';
import { retry } from '../retry/retry.js';
import { backoff } from '../backoff/backoff.js';
import { FakeClock } from '../testing/fake-clock.js';
import type { ResilienceEvent } from '../events/resilience-event.js';
import type { ExecuteOptions, ExecutionContext, Policy, Work } from '../policy/policy.js';

/** A pass-through policy that records the order in which layers run. */
function recordingPolicy(name: string, log: string[]): Policy {
  const policy: Policy = {
    kind: 'retry',
    name,
    async execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
      log.push(`enter ${name}`);
      try {
        return await fn({ signal: options?.signal ?? new AbortController().signal, attempt: 2 });
      } finally {
        log.push(`leave ${name}`);
      }
    },
    wrap:
      (fn) =>
      (...args) =>
        policy.execute(() => fn(...args)),
    onEvent: () => () => {},
  };
  return policy;
}

describe('compose', () => {
  it('runs the first policy outermost', async () => {
    const log: string[] = [];
    const pipeline = compose(recordingPolicy('outer', log), recordingPolicy('inner', log));
    await pipeline.execute(() => log.push('work'));
    expect(log).toEqual(['enter outer', 'enter inner', 'work', 'leave inner', 'leave outer']);
  });

  it('lets an outer fallback replace what an inner layer failed with', async () => {
    const pipeline = compose(
      fallback({ value: 'outer' }),
      fallback({ value: 'inner', shouldHandle: (error) => error instanceof TypeError }),
    );
    await expect(pipeline.execute(() => Promise.reject(new RangeError('x')))).resolves.toBe('outer');
    await expect(pipeline.execute(() => Promise.reject(new TypeError('x')))).resolves.toBe('inner');
  });

  it('hands the key down to every layer', async () => {
    const seen: { key?: string; attempt?: number }[] = [];
    const keyReader: Policy = {
      ...recordingPolicy('reader', []),
      execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
        seen.push(options?.key === undefined ? {} : { key: options.key });
        return Promise.resolve(fn({ signal: new AbortController().signal, attempt: 1 }));
      },
    };
    const pipeline = compose(recordingPolicy('retry-like', []), fallback({ value: 0 }), keyReader);
    await pipeline.execute(
      ({ attempt }: ExecutionContext) => {
        seen.push({ attempt });
      },
      { key: 'user-1' },
    );
    expect(seen).toEqual([{ key: 'user-1' }, { attempt: 1 }]);
    expect(seen[0]).toEqual({ key: 'user-1' });
  });

  it("passes the caller's abort through every layer", async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const pipeline = compose(fallback({ value: 'alt' }), fallback({ value: 'alt2' }));
    const call = pipeline.execute(
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
  });

  it('subscribes to every part and unsubscribes from all at once', async () => {
    const events: ResilienceEvent[] = [];
    const pipeline = compose(fallback({ value: 1, name: 'a' }), fallback({ value: 2, name: 'b' }));
    const unsubscribe = pipeline.onEvent((event) => events.push(event));
    await pipeline.execute(() => Promise.reject(new Error('x')));
    expect(events.map((event) => `${event.policyName} ${event.type}`)).toEqual([
      'b fallback.used',
      'b execution.succeeded',
      'a execution.succeeded',
    ]);
    unsubscribe();
    await pipeline.execute(() => Promise.reject(new Error('x')));
    expect(events).toHaveLength(3);
  });

  it('names itself after its parts and has kind pipeline', () => {
    const pipeline = compose(fallback({ value: 1, name: 'a' }), fallback({ value: 2, name: 'b' }));
    expect(pipeline.kind).toBe('pipeline');
    expect(pipeline.name).toBe('a>b');
  });

  it('types the result as the union of the alternatives', async () => {
    const pipeline = compose(fallback({ value: 0 }), fallback({ value: 'none' as const }));
    const result = await pipeline.execute(() => true);
    expectTypeOf(result).toEqualTypeOf<boolean | number | 'none'>();
    const guarded = compose(
      fallback({ value: 0 }),
      circuitBreaker({ window: { kind: 'consecutive' }, failureCount: 3, halfOpenAfterMs: 1000 }),
      bulkhead({ maxConcurrent: 2 }),
      rateLimiter({ limit: 10, intervalMs: 1000 }),
      cache({ ttlMs: 1000 }),
      timeout({ timeoutMs: 100 }),
    );
    expectTypeOf(await guarded.execute(() => 'v', { key: 'k' })).toEqualTypeOf<string | number>();
    const plain = compose(recordingPolicy('x', []));
    expectTypeOf(await plain.execute(() => 'v')).toEqualTypeOf<string>();
  });

  it('rejects a call without policies or with a non-policy', () => {
    expect(() => (compose as (...policies: unknown[]) => unknown)()).toThrow(
      'compose: needs at least one policy, got none',
    );
    expect(() => (compose as (...policies: unknown[]) => unknown)(fallback({ value: 1 }), 42)).toThrow(
      'compose: argument 2 must be a policy, got number',
    );
  });
});

describe('compose with a long-lived caller signal', () => {
  it('leaves no listener on the caller signal after each call', async () => {
    const controller = new AbortController();
    let listeners = 0;
    const signal = controller.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = (...args: Parameters<AbortSignal['addEventListener']>) => {
      listeners++;
      add(...args);
    };
    signal.removeEventListener = (...args: Parameters<AbortSignal['removeEventListener']>) => {
      listeners--;
      remove(...args);
    };
    const pipeline = compose(
      fallback({ value: 0 }),
      retry({ maxAttempts: 2 }),
      bulkhead({ maxConcurrent: 4 }),
      timeout({ timeoutMs: 1000 }),
    );
    for (let call = 0; call < 50; call++) await pipeline.execute(() => call, { signal });
    expect(listeners).toBe(0);
  });
});

describe('compose: one clock reading for the starts of its layers', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** The benchmark's pipeline, listened: each layer reports its duration. */
  function listenedPipeline(clock?: FakeClock): { pipeline: Policy; events: ResilienceEvent[] } {
    const events: ResilienceEvent[] = [];
    const pipeline = compose(
      retry({ name: 'api', maxAttempts: 2, backoff: backoff.constant({ delayMs: 100 }), clock }),
      circuitBreaker({ name: 'payments', clock }),
      timeout({ name: 'db', timeoutMs: 1000, clock }),
      bulkhead({ name: 'pool', maxConcurrent: 4, clock }),
    );
    pipeline.onEvent((event) => events.push(event));
    return { pipeline, events };
  }

  it('reads the clock 5 times per listened call of 4 layers (one start, four ends), default clocks included', async () => {
    const { pipeline } = listenedPipeline();
    await pipeline.execute(async () => 1);
    const now = vi.spyOn(Date, 'now');
    await pipeline.execute(async () => 1);
    expect(now).toHaveBeenCalledTimes(5);
  });

  it('still gives each layer its own duration, and a later attempt its own start', async () => {
    const clock = new FakeClock();
    const { pipeline, events } = listenedPipeline(clock);
    let attempt = 0;
    const call = pipeline.execute(async () => {
      attempt++;
      // The first attempt fails at once; the second (100 ms of backoff later) takes 50 ms.
      if (attempt === 1) throw new Error('first');
      await new Promise<void>((resolve) => {
        clock.setTimeout(resolve, 50);
      });
      return 'ok';
    });
    await clock.advance(100);
    await clock.advance(50);
    await expect(call).resolves.toBe('ok');
    const durations = events
      .filter((event) => event.type === 'execution.succeeded' || event.type === 'execution.failed')
      .map((event) => `${event.policyName} ${event.type} ${'durationMs' in event ? event.durationMs : ''}`);
    expect(durations).toEqual([
      'pool execution.failed 0',
      'db execution.failed 0',
      'payments execution.failed 0',
      'pool execution.succeeded 50',
      'db execution.succeeded 50',
      'payments execution.succeeded 50',
      'api execution.succeeded 150',
    ]);
  });
});
