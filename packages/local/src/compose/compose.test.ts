import { describe, expect, expectTypeOf, it } from 'vitest';

import { compose } from './compose.js';
import { fallback } from '../fallback/fallback.js';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { cache } from '../cache/cache.js';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { rateLimiter } from '../rate-limiter/rate-limiter.js';
import { timeout } from '../timeout/timeout.js';
import { retry } from '../retry/retry.js';
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
