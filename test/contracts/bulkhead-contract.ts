import { afterEach, describe, expect, it } from 'vitest';

import {
  BulkheadFullError,
  bulkhead,
  type BulkheadState,
  type BulkheadSettings,
  type Lease,
} from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

/**
 * Builds a fresh state for one test from the bulkhead's settings; may be async (a Redis state
 * connects first).
 *
 * @example
 * ```ts
 * import { MemoryBulkheadState } from '@hyx/local';
 * const makeState: MakeBulkheadState = (settings) => new MemoryBulkheadState(settings);
 * ```
 */
export type MakeBulkheadState = (settings: BulkheadSettings) => BulkheadState | Promise<BulkheadState>;

/**
 * Optional hooks around each test.
 *
 * @example
 * ```ts
 * const hooks: BulkheadContractHooks = { afterEach: () => undefined };
 * ```
 */
export interface BulkheadContractHooks {
  /** Runs after each test, e.g. to close a connection the factory opened. */
  readonly afterEach?: (() => void | Promise<void>) | undefined;
  /**
   * Waits until the state has answered every request in flight and the bulkhead has reacted, without
   * moving `clock`. Default `clock.flush()`: enough for states that answer within a turn of the event
   * loop; a state behind a network (Redis) waits for its replies.
   */
  readonly settle?: ((clock: FakeClock) => Promise<void>) | undefined;
}

interface Gate {
  readonly promise: Promise<string>;
  open(value: string): void;
}

function gate(): Gate {
  let open!: (value: string) => void;
  const promise = new Promise<string>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/**
 * The rules every {@link BulkheadState} keeps, memory or Redis: at most `maxConcurrent` leases of
 * a key at once, a lease frees its permit at most once, keys are separate pools, fencing tokens
 * only grow. Then the same rules seen through a bulkhead built on the state. Each test uses keys
 * of its own, so a backend shared by all tests (one Redis server) needs no cleanup between them.
 *
 * @example
 * ```ts
 * import { MemoryBulkheadState } from '@hyx/local';
 * import { describeBulkheadContract } from './bulkhead-contract.js';
 * describeBulkheadContract('memory', (settings) => new MemoryBulkheadState(settings));
 * ```
 */
export function describeBulkheadContract(
  label: string,
  makeState: MakeBulkheadState,
  hooks: BulkheadContractHooks = {},
): void {
  describe(`BulkheadState contract: ${label}`, () => {
    let keyCount = 0;
    const runId = Math.random().toString(36).slice(2, 10);
    const newKey = (): string => `contract:${runId}:${++keyCount}`;

    async function stateWith(maxConcurrent: number): Promise<BulkheadState> {
      return makeState({ maxConcurrent });
    }

    async function acquireAll(state: BulkheadState, key: string, count: number): Promise<Lease[]> {
      const leases: Lease[] = [];
      for (let index = 0; index < count; index++) {
        const lease = await state.acquire(key);
        if (lease === undefined) throw new Error(`grant ${index + 1} of ${count} was refused`);
        leases.push(lease);
      }
      return leases;
    }

    afterEach(async () => {
      await hooks.afterEach?.();
    });

    const settle = async (clock: FakeClock): Promise<void> => {
      await (hooks.settle ?? ((fake: FakeClock) => fake.flush()))(clock);
    };

    it('grants maxConcurrent leases of a key, then refuses', async () => {
      const state = await stateWith(3);
      const key = newKey();
      await acquireAll(state, key, 3);
      expect(await state.acquire(key)).toBeUndefined();
    });

    it('frees one permit per release: 2 held of 2, one released → one more grant, then refused', async () => {
      const state = await stateWith(2);
      const key = newKey();
      const [first] = await acquireAll(state, key, 2);
      await state.release(first!);
      expect(await state.acquire(key)).toBeDefined();
      expect(await state.acquire(key)).toBeUndefined();
    });

    it('frees a permit at most once: A and B held of 2, A released twice → C granted, D refused', async () => {
      const state = await stateWith(2);
      const key = newKey();
      const [a] = await acquireAll(state, key, 2);
      await state.release(a!);
      await state.release(a!);
      expect(await state.acquire(key)).toBeDefined();
      expect(await state.acquire(key)).toBeUndefined();
    });

    it("never frees a newer holder's permit with an old lease: A granted and released, B granted, A released again → C refused", async () => {
      const state = await stateWith(1);
      const key = newKey();
      const [a] = await acquireAll(state, key, 1);
      await state.release(a!);
      const [b] = await acquireAll(state, key, 1);
      await state.release(a!);
      expect(await state.acquire(key)).toBeUndefined();
      await state.release(b!);
      expect(await state.acquire(key)).toBeDefined();
    });

    it('keeps keys as separate pools', async () => {
      const state = await stateWith(1);
      const [one, two] = [newKey(), newKey()];
      await acquireAll(state, one, 1);
      expect(await state.acquire(one)).toBeUndefined();
      const [lease] = await acquireAll(state, two, 1);
      expect(lease!.key).toBe(two);
    });

    it('gives every grant of a key a larger fencing token, across releases', async () => {
      const state = await stateWith(2);
      const key = newKey();
      const tokens: number[] = [];
      for (let round = 0; round < 3; round++) {
        const leases = await acquireAll(state, key, 2);
        tokens.push(...leases.map((lease) => lease.fencingToken));
        for (const lease of leases) await state.release(lease);
      }
      expect(tokens.every((token) => Number.isSafeInteger(token))).toBe(true);
      for (let index = 1; index < tokens.length; index++) {
        expect(tokens[index]).toBeGreaterThan(tokens[index - 1]!);
      }
    });

    it('gives each lease a unique id and its key, and accepts an explicit nowMs', async () => {
      const state = await stateWith(3);
      const key = newKey();
      const leases: Lease[] = [];
      for (let index = 0; index < 3; index++) {
        const lease = await state.acquire(key, 1_000_000 + index);
        expect(lease).toBeDefined();
        leases.push(lease!);
      }
      expect(new Set(leases.map((lease) => lease.id)).size).toBe(3);
      expect(leases.every((lease) => typeof lease.id === 'string' && lease.key === key)).toBe(true);
      for (const lease of leases) {
        expect(lease.expiresAtMs === undefined || Number.isFinite(lease.expiresAtMs)).toBe(true);
      }
    });

    describe('under a bulkhead', () => {
      it('runs maxConcurrent calls: A and B run, C queues, A ends → C runs', async () => {
        const state = await stateWith(2);
        const clock = new FakeClock();
        const policy = bulkhead({
          name: newKey(),
          maxConcurrent: 2,
          maxQueue: 1,
          clock,
          state: () => state,
        });
        const started: string[] = [];
        const works = { A: gate(), B: gate(), C: gate() };
        const calls = Object.entries(works).map(([name, work]) =>
          policy.execute(() => {
            started.push(name);
            return work.promise;
          }),
        );
        await settle(clock);
        expect(started).toEqual(['A', 'B']);
        expect(policy.queued).toBe(1);
        works.A.open('a');
        await calls[0];
        await settle(clock);
        expect(started).toEqual(['A', 'B', 'C']);
        works.B.open('b');
        works.C.open('c');
        await expect(Promise.all(calls)).resolves.toEqual(['a', 'b', 'c']);
      });

      it('refuses a call when permits and queue are full', async () => {
        const state = await stateWith(1);
        const clock = new FakeClock();
        const policy = bulkhead({ name: newKey(), maxConcurrent: 1, clock, state: () => state });
        const a = gate();
        const callA = policy.execute(() => a.promise);
        await settle(clock);
        await expect(policy.execute(() => 'b')).rejects.toBeInstanceOf(BulkheadFullError);
        a.open('a');
        await callA;
      });

      it('leaves every permit free: A and B run, C and D queue, D aborts, B fails → C runs and throws, A succeeds', async () => {
        const state = await stateWith(2);
        const clock = new FakeClock();
        const name = newKey();
        const policy = bulkhead({ name, maxConcurrent: 2, maxQueue: 2, clock, state: () => state });
        const controller = new AbortController();
        const a = gate();
        const b = gate();
        const outcomes = Promise.allSettled([
          policy.execute(() => a.promise),
          policy.execute(() => b.promise.then(() => Promise.reject(new Error('B fails')))),
          policy.execute((): string => {
            throw new Error('C throws');
          }),
          policy.execute(() => 'D never runs', { signal: controller.signal }),
        ]);
        await settle(clock);
        expect([policy.inFlight, policy.queued]).toEqual([2, 2]);
        controller.abort(new Error('D stops'));
        b.open('b');
        await settle(clock);
        a.open('a');
        const settled = await outcomes;
        expect(
          settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : String(outcome.reason))),
        ).toEqual(['a', 'Error: B fails', 'Error: C throws', 'Error: D stops']);
        await settle(clock);
        expect([policy.inFlight, policy.queued]).toEqual([0, 0]);
        await acquireAll(state, name, 2);
        expect(await state.acquire(name)).toBeUndefined();
      });
    });
  });
}
