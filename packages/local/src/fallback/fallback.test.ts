import { describe, expect, expectTypeOf, it } from 'vitest';

import { fallback } from './fallback.js';
import type { ResilienceEvent } from '../events/resilience-event.js';

describe('fallback', () => {
  it('passes a successful result through untouched', async () => {
    const policy = fallback({ value: 'alt' });
    await expect(policy.execute(() => 'real')).resolves.toBe('real');
  });

  it('replaces an error with the value', async () => {
    const policy = fallback({ value: 'alt' });
    await expect(
      policy.execute(() => {
        throw new Error('boom');
      }),
    ).resolves.toBe('alt');
  });

  it('hands the error to a function value', async () => {
    const seen: unknown[] = [];
    const failure = new Error('boom');
    const policy = fallback({
      value: (reason) => {
        seen.push(reason);
        return 'alt';
      },
    });
    await policy.execute(() => Promise.reject(failure));
    expect(seen).toEqual([{ kind: 'error', error: failure }]);
  });

  it('replaces a result that shouldHandleResult rejects, and passes others', async () => {
    const policy = fallback({
      value: { status: 200 },
      shouldHandleResult: (r) => (r as { status: number }).status >= 500,
    });
    await expect(policy.execute(() => ({ status: 503 }))).resolves.toEqual({ status: 200 });
    await expect(policy.execute(() => ({ status: 404 }))).resolves.toEqual({ status: 404 });
  });

  it('rethrows errors that shouldHandle declines', async () => {
    const policy = fallback({ value: 'alt', shouldHandle: (error) => error instanceof TypeError });
    await expect(policy.execute(() => Promise.reject(new RangeError('nope')))).rejects.toThrow(RangeError);
    await expect(policy.execute(() => Promise.reject(new TypeError('yes')))).resolves.toBe('alt');
  });

  it("never replaces the caller's own abort", async () => {
    const controller = new AbortController();
    const reason = new Error('caller stopped');
    const policy = fallback({ value: 'alt' });
    const call = policy.execute(
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

  it('rejects at once with the reason when the caller signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('early'));
    let ran = false;
    await expect(
      fallback({ value: 'alt' }).execute(
        () => {
          ran = true;
        },
        { signal: controller.signal },
      ),
    ).rejects.toThrow('early');
    expect(ran).toBe(false);
  });

  it('turns a synchronous throw into a fallback', async () => {
    const policy = fallback({ value: 0 });
    await expect(
      policy.execute((): number => {
        throw new Error('sync');
      }),
    ).resolves.toBe(0);
  });

  it('does not call a throwing handler twice and rejects with its error', async () => {
    let calls = 0;
    const policy = fallback({
      value: () => {
        calls++;
        throw new Error('handler broke');
      },
    });
    await expect(policy.execute(() => Promise.reject(new Error('boom')))).rejects.toThrow('handler broke');
    expect(calls).toBe(1);
  });

  it('emits fallback.used with the reason, and a throwing listener changes nothing', async () => {
    const events: ResilienceEvent[] = [];
    const policy = fallback({ value: 'alt', name: 'orders' });
    policy.onEvent(() => {
      throw new Error('listener bug');
    });
    policy.onEvent((event) => events.push(event));
    await expect(policy.execute(() => Promise.reject(new Error('boom')))).resolves.toBe('alt');
    expect(events.map((event) => event.type)).toEqual(['fallback.used', 'execution.succeeded']);
    expect(events[0]).toMatchObject({ policyKind: 'fallback', policyName: 'orders', reason: 'error' });
  });

  it('widens the result type to T | TAlt', async () => {
    const policy = fallback({ value: 'alt' as const });
    const result = await policy.execute(() => 42);
    expectTypeOf(result).toEqualTypeOf<number | 'alt'>();
  });

  it('wrap keeps the arguments and widens the return type', async () => {
    const policy = fallback({ value: null });
    const parse = policy.wrap((text: string) => JSON.parse(text) as { a: number });
    await expect(parse('{"a":1}')).resolves.toEqual({ a: 1 });
    await expect(parse('not json')).resolves.toBeNull();
    expectTypeOf(parse).toEqualTypeOf<(text: string) => Promise<{ a: number } | null>>();
  });

  it.each([
    [
      { value: 1, shouldHandle: 'yes' },
      TypeError,
      'fallback "fallback": shouldHandle must be a function, got "yes"',
    ],
    [{ value: 1, name: '' }, TypeError, 'fallback "": name must be a non-empty string, got ""'],
    [{ value: 1, extra: true }, TypeError, 'fallback "fallback": extra is not a known option'],
  ])('rejects bad options %j with a named error', (options, errorClass, message) => {
    expect(() => fallback(options as never)).toThrow(errorClass);
    expect(() => fallback(options as never)).toThrow(message);
  });

  it('treats an undefined option as absent', async () => {
    const policy = fallback({ value: 'alt', shouldHandle: undefined });
    await expect(policy.execute(() => Promise.reject(new Error('x')))).resolves.toBe('alt');
  });
});
