/**
 * The Redis bulkhead beyond the shared contract: leases that lapse, renewal, TTLs, and waiters of
 * one instance woken by another instance's release or by a dead holder's lease lapsing. Two
 * connections stand for two processes; test/faults/ runs real ones. Then the bulkhead against a Redis
 * that hangs (SIGSTOP) instead of refusing: each `onBackendFailure` mode answers within
 * commandTimeoutMs plus a margin of one more commandTimeoutMs, reports the outage once, and
 * recovers after SIGCONT.
 */
import { setTimeout as delay } from 'node:timers/promises';

import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { RedisBulkheadState, RedisKeyspace, redisBulkhead, type BackendFailureMode } from '@hyx/distributed';
import { BackendUnavailableError, type BulkheadPolicy, type Lease, type ResilienceEvent } from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { waitUntil } from '../support/wait-until.js';

const RUN_ID = Math.random().toString(36).slice(2, 8);
let server: RedisServer;
let first: Redis;
let second: Redis;
let nameCount = 0;
const states: RedisBulkheadState[] = [];

beforeAll(async () => {
  server = await startRedis();
  first = server.connect();
  second = server.connect();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  await Promise.all(states.splice(0).map((state) => state.close()));
});

const newName = (): string => `bulkhead-${RUN_ID}-${++nameCount}`;

/**
 * These tests are about permits, not outages: a round-trip counts as failed only after 5 s (the
 * default 100 ms was exceeded now and then on a loaded 2-core machine, and a loop of hundreds of
 * calls meets that sooner or later). The hang tests at the end set their own.
 */
const PATIENT_MS = 5_000;

function keysOf(name: string): { leases: string; token: string; waiting: string } {
  const [leases, token, , waiting] = new RedisKeyspace({
    pattern: 'bulkhead',
    name,
    parts: ['leases', 'token', 'released', 'waiting', 'waiting-until'],
  }).keysFor(name) as [string, string, string, string, string];
  return { leases, token, waiting };
}

function stateOf(
  client: Redis,
  options: Partial<ConstructorParameters<typeof RedisBulkheadState>[1]> & { name: string },
): RedisBulkheadState {
  const state = new RedisBulkheadState(client, {
    maxConcurrent: 1,
    leaseMs: 60_000,
    commandTimeoutMs: PATIENT_MS,
    ...options,
  });
  states.push(state);
  return state;
}

interface Gate {
  readonly promise: Promise<string>;
  open(value: string): void;
}

/**
 * Races `busyLoops` callers of `busy`, each calling again as soon as its call ends, against
 * `otherLoops` callers of `other` that make `otherCalls` calls each; the busy callers stop when
 * `other` is done, or after `cap` calls (the sign of a starved `other`). Resolves with how many
 * calls `busy` made.
 */
async function race(
  busy: BulkheadPolicy,
  other: BulkheadPolicy,
  shape: { busyLoops: number; otherLoops: number; otherCalls: number; cap: number },
): Promise<number> {
  let busyCalls = 0;
  let isOtherDone = false;
  const busyLoop = async (): Promise<void> => {
    while (!isOtherDone && busyCalls < shape.cap) {
      await busy.execute(async () => undefined);
      busyCalls++;
    }
  };
  const otherLoop = async (): Promise<void> => {
    for (let call = 0; call < shape.otherCalls; call++) await other.execute(async () => undefined);
  };
  const otherLoops = Array.from({ length: shape.otherLoops }, otherLoop);
  await Promise.all([
    ...Array.from({ length: shape.busyLoops }, busyLoop),
    Promise.all(otherLoops).then(() => {
      isOtherDone = true;
    }),
  ]);
  return busyCalls;
}

function gate(): Gate {
  let open!: (value: string) => void;
  const promise = new Promise<string>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('RedisBulkheadState', () => {
  it('gives one holder asking five times of three permits three distinct leases, then refuses', async () => {
    const name = newName();
    const state = stateOf(first, { name, maxConcurrent: 3 });
    const leases = [];
    for (let index = 0; index < 5; index++) leases.push(await state.acquire(name));
    const granted = leases.filter((lease) => lease !== undefined);
    expect(granted).toHaveLength(3);
    expect(new Set(granted.map((lease) => lease.id)).size).toBe(3);
    expect(Number(await server.command('ZCARD', keysOf(name).leases))).toBe(3);
    expect(state.heldCount).toBe(3);
  });

  it('lets a lease lapse leaseMs after its grant: refused at T + leaseMs - 1, granted at T + leaseMs', async () => {
    const name = newName();
    const state = stateOf(first, { name, leaseMs: 1000 });
    const t = 1_700_000_000_000;
    const old = await state.acquire(name, t);
    expect(old?.expiresAtMs).toBe(t + 1000);
    expect(await state.acquire(name, t + 999)).toBeUndefined();
    const next = await state.acquire(name, t + 1000);
    expect(next).toBeDefined();
    expect(next!.fencingToken).toBeGreaterThan(old!.fencingToken);
    // The lapsed lease's release frees nothing: the new holder keeps its permit.
    await state.release(old!);
    expect(await state.acquire(name, t + 1001)).toBeUndefined();
  });

  it('gives grants in the same instant growing fencing tokens (the counter, not the clock, decides)', async () => {
    const name = newName();
    const state = stateOf(first, { name, maxConcurrent: 4 });
    const t = 1_700_000_000_000;
    const tokens = [];
    for (let index = 0; index < 3; index++) tokens.push((await state.acquire(name, t))!.fencingToken);
    expect(tokens[0]).toBe(t * 1000);
    expect(tokens).toEqual([t * 1000, t * 1000 + 1, t * 1000 + 2]);
    // A later instant goes back to the clock: tokens still grow after the counter key expired.
    await server.command('DEL', keysOf(name).token);
    expect((await state.acquire(name, t + 1))!.fencingToken).toBe((t + 1) * 1000);
  });

  it('counts lapsed leases until the set is full, then drops them: never more than the limit live', async () => {
    const name = newName();
    const state = stateOf(first, { name, maxConcurrent: 2, leaseMs: 1000 });
    const t = 1_700_000_000_000;
    const old = (await state.acquire(name, t))!;
    // The lapsed lease is still a member, so one more grant fills the set...
    const live = (await state.acquire(name, t + 1000))!;
    expect(Number(await server.command('ZCARD', keysOf(name).leases))).toBe(2);
    // ...and the next acquire drops it and takes its place.
    const next = (await state.acquire(name, t + 1001))!;
    expect(next).toBeDefined();
    expect(await state.acquire(name, t + 1002)).toBeUndefined();
    const members = await server.command('ZRANGE', keysOf(name).leases, '0', '-1');
    expect(members).toEqual([live.id, next.id]);
    expect(old.id).not.toBe(next.id);
  });

  it("keeps the leases key alive past another holder's longer lease", async () => {
    const name = newName();
    const long = stateOf(first, { name, maxConcurrent: 2, leaseMs: 60_000 });
    const short = stateOf(second, { name, maxConcurrent: 2, leaseMs: 1000 });
    await long.acquire(name);
    await short.acquire(name);
    expect(Number(await server.command('PTTL', keysOf(name).leases))).toBeGreaterThan(60_000);
  });

  it('gives every key a TTL of at most twice leaseMs', async () => {
    const name = newName();
    const state = stateOf(first, { name, leaseMs: 5000 });
    await state.acquire(name);
    const { leases, token } = keysOf(name);
    for (const key of [leases, token]) {
      const ttl = Number(await server.command('PTTL', key));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(10_000);
    }
  });

  it('renews held leases every renewMs, all of a key in one round-trip, and stops once released', async () => {
    const name = newName();
    const clock = new FakeClock();
    const state = stateOf(first, { name, maxConcurrent: 2, leaseMs: 60_000, renewMs: 1000, clock });
    const a = (await state.acquire(name))!;
    const b = (await state.acquire(name))!;
    const before = a.expiresAtMs!;
    await delay(5);
    await clock.advance(1000);
    await waitUntil('the renewal moved the expiry on', () => a.expiresAtMs! > before);
    const score = Number(await server.command('ZSCORE', keysOf(name).leases, a.id));
    expect(score).toBe(a.expiresAtMs);
    expect(b.expiresAtMs).toBe(a.expiresAtMs);
    await state.release(a);
    await state.release(b);
    expect(clock.pendingTimers).toBe(0);
  });

  it('reports a lease a renewal finds gone, and stops renewing it', async () => {
    const name = newName();
    const clock = new FakeClock();
    const lost: string[] = [];
    const state = stateOf(first, { name, renewMs: 1000, clock, onLeaseLost: (id) => lost.push(id) });
    const lease = (await state.acquire(name))!;
    await server.command('ZREM', keysOf(name).leases, lease.id);
    await clock.advance(1000);
    await waitUntil('the loss is reported', () => lost.length === 1);
    expect(lost).toEqual([lease.id]);
    expect(state.heldCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('RedisBulkheadState waiting set (fairness across processes)', () => {
  const T = 1_700_000_000_000;
  const pollIntervalMs = 100;
  /** A waiter keeps its place 3 poll intervals (below leaseMs) without asking again. */
  const waiterTtlMs = 3 * pollIntervalMs;

  /** A holder of the only permit, and a second state whose callers wait (refused at T). */
  async function waitingBehind(name: string): Promise<{
    holder: RedisBulkheadState;
    waiter: RedisBulkheadState;
    stopWaiting: () => void;
  }> {
    const holder = stateOf(first, { name, pollIntervalMs });
    const waiter = stateOf(second, { name, pollIntervalMs });
    const lease = await holder.acquire(name, T);
    expect(lease).toBeDefined();
    const stopWaiting = waiter.watch(name, () => undefined);
    expect(await waiter.acquire(name, T)).toBeUndefined();
    await holder.release(lease!);
    return { holder, waiter, stopWaiting };
  }

  it('owes a freed permit to the waiting process: a newcomer that asks first is refused, the waiter is granted', async () => {
    const name = newName();
    const { holder, waiter } = await waitingBehind(name);
    expect(Number(await server.command('ZCARD', keysOf(name).waiting))).toBe(1);
    expect(await holder.acquire(name, T + 1)).toBeUndefined();
    expect(await waiter.acquire(name, T + 2)).toBeDefined();
    // Granted, the waiter leaves the set (its next refusal queues it behind the others); the
    // refused newcomer took a place behind it and leaves at the next turn, as no caller of its
    // queued.
    await waitUntil(
      'the set is empty',
      async () => Number(await server.command('ZCARD', keysOf(name).waiting)) === 0,
    );
  });

  it('gives a refused caller its place at the refusal itself, kept when it then queues (before it asks again)', async () => {
    const name = newName();
    const holder = stateOf(first, { name, pollIntervalMs });
    const early = stateOf(second, { name, pollIntervalMs });
    const late = stateOf(first, { name, pollIntervalMs });
    const lease = await holder.acquire(name, T);
    // Refused, `early` queues its caller at once (the bulkhead watches the key in the same turn).
    expect(await early.acquire(name, T)).toBeUndefined();
    early.watch(name, () => undefined);
    // Refused later, `late` never queues: it leaves at the next turn.
    expect(await late.acquire(name, T + 1)).toBeUndefined();
    await holder.release(lease!);
    await waitUntil(
      'only the early place is left',
      async () => Number(await server.command('ZCARD', keysOf(name).waiting)) === 1,
    );
    // The permit is owed to `early`, although it never asked as a waiter.
    expect(await late.acquire(name, T + 2)).toBeUndefined();
    expect(await early.acquire(name, T + 3)).toBeDefined();
  });

  it('drops a waiter that stopped asking after 3 poll intervals: refused at T + ttl - 1, the newcomer granted at T + ttl', async () => {
    const name = newName();
    const { holder } = await waitingBehind(name);
    expect(await holder.acquire(name, T + waiterTtlMs - 1)).toBeUndefined();
    expect(await holder.acquire(name, T + waiterTtlMs)).toBeDefined();
  });

  it('takes the process out of the set once nobody waits there, and the permit goes to a newcomer at once', async () => {
    const name = newName();
    const { holder, stopWaiting } = await waitingBehind(name);
    stopWaiting();
    await waitUntil(
      'the waiter left',
      async () => Number(await server.command('ZCARD', keysOf(name).waiting)) === 0,
    );
    expect(await holder.acquire(name, T + 1)).toBeDefined();
  });

  /**
   * Places that outlive the test (leaseMs 60 s, pollIntervalMs 10 min: 60 s) and the waiter's
   * connection drained: every script it sent is done, including one sent by a reply's handler.
   */
  const longPlaces = { pollIntervalMs: 600_000 };
  async function settled(client: Redis): Promise<void> {
    await client.ping();
    await delay(0);
    await client.ping();
  }

  it('takes the process out of the set when its callers stopped waiting while its refused ask was on its way: a newcomer is granted at once', async () => {
    const name = newName();
    const holder = stateOf(first, { name, ...longPlaces });
    const waiter = stateOf(second, { name, ...longPlaces });
    const lease = await holder.acquire(name, T);
    const stopWaiting = waiter.watch(name, () => undefined);
    const asking = waiter.acquire(name, T);
    // The only caller waiting there times out (or aborts) before the refusal comes back.
    stopWaiting();
    expect(await asking).toBeUndefined();
    await holder.release(lease!);
    await settled(second);
    expect(Number(await server.command('ZCARD', keysOf(name).waiting))).toBe(0);
    expect(await holder.acquire(name, T + 1)).toBeDefined();
  });

  it('takes the process out of the set when a refusal that put it there comes after commandTimeoutMs and nobody waits there any more', async () => {
    const name = newName();
    const clock = new FakeClock();
    const holder = stateOf(first, { name, ...longPlaces });
    const waiter = stateOf(second, { name, ...longPlaces, clock, commandTimeoutMs: 50 });
    const lease = await holder.acquire(name, T);
    const stopWaiting = waiter.watch(name, () => undefined);
    const asking = Promise.resolve(waiter.acquire(name, T)).catch((error: unknown) => error);
    await clock.advance(50);
    expect(await asking).toBeInstanceOf(Error);
    stopWaiting();
    await holder.release(lease!);
    await settled(second);
    expect(Number(await server.command('ZCARD', keysOf(name).waiting))).toBe(0);
    expect(await holder.acquire(name, T + 1)).toBeDefined();
  });

  it("keeps the waiting set as long as the longest place: a waiter with a shorter place (its pollIntervalMs) does not cut another's short", async () => {
    const name = newName();
    const holder = stateOf(first, { name, ...longPlaces });
    // Places of 60 s (leaseMs) and of 300 ms (3 x 100 ms), as two differently configured processes.
    const patient = stateOf(second, { name, ...longPlaces });
    const hasty = stateOf(first, { name, pollIntervalMs });
    await holder.acquire(name, T);
    patient.watch(name, () => undefined);
    hasty.watch(name, () => undefined);
    expect(await patient.acquire(name, T)).toBeUndefined();
    expect(await hasty.acquire(name, T + 1)).toBeUndefined();
    const { waiting } = keysOf(name);
    for (const key of [waiting, `${waiting}-until`]) {
      // The patient waiter's place lasts until T + 60 s; it must not vanish after 300 ms.
      expect(Number(await server.command('PTTL', key))).toBeGreaterThan(waiterTtlMs);
    }
  });

  it('tells a process refused behind a waiter when that waiter loses its place, so it asks again then', async () => {
    const name = newName();
    const clock = new FakeClock();
    const { waiter } = await waitingBehind(name);
    const newcomer = stateOf(first, { name, pollIntervalMs: 600_000, clock });
    let asked = 0;
    newcomer.watch(name, () => asked++);
    await waitUntil('the subscription landed', () => asked === 1);
    // Refused at T + 100: the waiter ahead (asked at T) keeps its place until T + 300.
    expect(await newcomer.acquire(name, T + 100)).toBeUndefined();
    await clock.advance(200);
    expect(asked).toBe(1);
    await clock.advance(1);
    expect(asked).toBe(2);
    await waiter.close();
  });
});

describe('RedisBulkheadState hand-over', () => {
  it('passes a permit released while callers of its key wait here to the next acquire, as a new lease in one script sent at the release', async () => {
    const name = newName();
    const state = stateOf(first, { name, maxConcurrent: 1 });
    const other = stateOf(second, { name, maxConcurrent: 1 });
    const old = (await state.acquire(name))!;
    const stop = state.watch(name, () => undefined);
    await state.release(old);
    // Never free in between: no other process can take it.
    expect(await other.acquire(name)).toBeUndefined();
    const next = (await state.acquire(name))!;
    expect(next.id).not.toBe(old.id);
    expect(next.fencingToken).toBeGreaterThan(old.fencingToken);
    expect(await server.command('ZRANGE', keysOf(name).leases, '0', '-1')).toEqual([next.id]);
    // A second release of the old lease frees nothing.
    await state.release(old);
    expect(await other.acquire(name)).toBeUndefined();
    stop();
    await state.release(next);
    expect(Number(await server.command('ZCARD', keysOf(name).leases))).toBe(0);
  });

  it('gives a permit held for a hand-over back to Redis once nobody waits', async () => {
    const name = newName();
    const state = stateOf(first, { name, maxConcurrent: 1 });
    const lease = (await state.acquire(name))!;
    const stop = state.watch(name, () => undefined);
    await state.release(lease);
    stop();
    await waitUntil('the permit is back in Redis', async () => {
      return Number(await server.command('ZCARD', keysOf(name).leases)) === 0;
    });
    expect(await stateOf(second, { name, maxConcurrent: 1 }).acquire(name)).toBeDefined();
  });

  it('gives the permit back to Redis after 8 hand-overs in a row, and lets the others hear of it first', async () => {
    const name = newName();
    const state = stateOf(first, { name, maxConcurrent: 1 });
    const other = stateOf(second, { name, maxConcurrent: 1 });
    const stop = state.watch(name, () => undefined);
    let lease = (await state.acquire(name))!;
    for (let handOver = 1; handOver <= 8; handOver++) {
      await state.release(lease);
      lease = (await state.acquire(name))!;
      expect(lease).toBeDefined();
    }
    await state.release(lease);
    expect(Number(await server.command('ZCARD', keysOf(name).leases))).toBe(0);
    // This process's next acquire waits for the notification every process gets...
    expect(await state.acquire(name)).toBeUndefined();
    // ...so another process can take the permit meanwhile.
    const taken = (await other.acquire(name))!;
    expect(taken).toBeDefined();
    expect(await state.acquire(name)).toBeUndefined();
    await other.release(taken);
    expect(await state.acquire(name)).toBeDefined();
    stop();
  });
});

/** How many times Redis has run each of our scripts: `EVALSHA` calls, from INFO commandstats. */
async function evalshaCalls(): Promise<number> {
  const info = String(await server.command('INFO', 'commandstats'));
  const match = /cmdstat_evalsha:calls=(\d+)/.exec(info);
  return match === null ? 0 : Number(match[1]);
}

describe('RedisBulkheadState with usesPerLease', () => {
  it('gives a kept lease back on close, before the client quits, so no permit waits for leaseMs', async () => {
    const name = newName();
    const client = server.connect();
    const db = redisBulkhead(client, { name, maxConcurrent: 1, usesPerLease: 4, leaseMs: 60_000 });
    await expect(db.execute(() => 'ok')).resolves.toBe('ok');
    await db.close();
    await client.quit();
    expect(Number(await server.command('ZCARD', keysOf(name).leases))).toBe(0);
    const other = stateOf(second, { name });
    expect(await other.acquire(name)).toBeDefined();
  });

  it('serves usesPerLease calls in a row with one lease in Redis, each use with its own id, then takes a new lease', async () => {
    const name = newName();
    // A fake clock: a kept lease stays kept until the test moves time (no linger timer fires).
    const state = stateOf(first, { name, usesPerLease: 3, clock: new FakeClock() });
    const other = stateOf(second, { name });
    const a = (await state.acquire(name))!;
    expect(state.release(a)).toBeUndefined(); // kept here, nothing sent
    const b = state.acquire(name);
    // Answered at once, without a round-trip: not a promise.
    expect(b).not.toBeInstanceOf(Promise);
    const b2 = b as Lease;
    expect(b2.id).toBe(`${a.id}/2`);
    expect(b2.fencingToken).toBe(a.fencingToken);
    expect(await server.command('ZRANGE', keysOf(name).leases, '0', '-1')).toEqual([a.id]);
    // The permit never came free: another process is refused, and a stale release frees nothing.
    expect(await other.acquire(name)).toBeUndefined();
    expect(state.release(a)).toBeUndefined();
    expect(await other.acquire(name)).toBeUndefined();
    await state.release(b2);
    const third = state.acquire(name) as Lease;
    expect(third.id).toBe(`${a.id}/3`);
    // The third use was the last: its release goes to Redis.
    await state.release(third);
    expect(Number(await server.command('ZCARD', keysOf(name).leases))).toBe(0);
    // `other`'s refusals gave it a place among the waiters; nobody queued there, so it leaves.
    await waitUntil(
      'the refused process left the waiting set',
      async () => Number(await server.command('ZCARD', keysOf(name).waiting)) === 0,
    );
    const fresh = (await state.acquire(name))!;
    expect(fresh.fencingToken).toBeGreaterThan(a.fencingToken);
    expect(fresh.id).not.toContain(a.id);
  });

  it('gives a kept lease back to Redis at the next turn of the event loop when nobody here takes it', async () => {
    const name = newName();
    const clock = new FakeClock();
    const state = stateOf(first, { name, usesPerLease: 10, clock });
    const other = stateOf(second, { name });
    await state.release((await state.acquire(name))!);
    expect(await other.acquire(name)).toBeUndefined();
    expect(clock.pendingTimers).toBeGreaterThan(0);
    await clock.advance(0);
    await waitUntil('the kept lease is back in Redis', async () => {
      return Number(await server.command('ZCARD', keysOf(name).leases)) === 0;
    });
    expect(state.heldCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(await other.acquire(name)).toBeDefined();
  });

  it('hands a kept lease nobody took to the callers waiting here as a new lease, and tells the bulkhead to ask for it', async () => {
    const name = newName();
    const clock = new FakeClock();
    const state = stateOf(first, { name, usesPerLease: 10, clock, pollIntervalMs: 600_000 });
    let wakes = 0;
    const stop = state.watch(name, () => wakes++);
    await waitUntil('subscribed', () => wakes >= 1);
    const kept = (await state.acquire(name))!;
    await state.release(kept);
    const wakesBefore = wakes;
    await clock.advance(0);
    // Swapped in one script for a new lease (no other process could take the permit meanwhile),
    // and the bulkhead is woken to take it: nothing else would make it ask before pollIntervalMs.
    await waitUntil('the bulkhead is told to ask', () => wakes > wakesBefore);
    const next = (await state.acquire(name))!;
    expect(next.id).not.toContain(kept.id);
    expect(next.fencingToken).toBeGreaterThan(kept.fencingToken);
    expect(await server.command('ZRANGE', keysOf(name).leases, '0', '-1')).toEqual([next.id]);
    stop();
  });

  it('renews the use that holds a kept lease, and never keeps a lease a renewal found gone', async () => {
    const name = newName();
    const clock = new FakeClock();
    const lost: string[] = [];
    const state = stateOf(first, {
      name,
      usesPerLease: 10,
      renewMs: 1000,
      clock,
      onLeaseLost: (id) => lost.push(id),
    });
    const a = (await state.acquire(name))!;
    await state.release(a);
    const b = state.acquire(name) as Lease;
    const before = b.expiresAtMs!;
    await delay(5);
    await clock.advance(1000);
    await waitUntil('the renewal moved the expiry of the use that holds it', () => b.expiresAtMs! > before);
    // The member vanishes (a failover lost it): the renewal reports it, and it is not used again.
    await server.command('ZREM', keysOf(name).leases, a.id);
    await clock.advance(1000);
    await waitUntil('the loss is reported', () => lost.length === 1);
    expect(lost).toEqual([a.id]);
    await state.release(b);
    const next = await state.acquire(name);
    expect(next!.fencingToken).toBeGreaterThan(a.fencingToken);
  });

  it('gives the permit back after usesPerLease uses while callers wait here, and lets the others hear of it first', async () => {
    const name = newName();
    const state = stateOf(first, { name, usesPerLease: 4, clock: new FakeClock() });
    const other = stateOf(second, { name });
    const stop = state.watch(name, () => undefined);
    let lease = (await state.acquire(name))!;
    for (let use = 2; use <= 4; use++) {
      await state.release(lease);
      lease = state.acquire(name) as Lease;
      expect(lease.id).toMatch(new RegExp(`/${use}$`));
    }
    await state.release(lease);
    expect(Number(await server.command('ZCARD', keysOf(name).leases))).toBe(0);
    // No hand-over: this process waits for the notification every process gets...
    expect(await state.acquire(name)).toBeUndefined();
    // ...so another process can take the permit meanwhile.
    expect(await other.acquire(name)).toBeDefined();
    stop();
  });

  it('sends one acquire and one release per usesPerLease calls of a loop (INFO commandstats)', async () => {
    const name = newName();
    const db = redisBulkhead(first, {
      name,
      maxConcurrent: 1,
      usesPerLease: 5,
      commandTimeoutMs: PATIENT_MS,
    });
    const scriptsBefore = await evalshaCalls();
    for (let call = 0; call < 20; call++) await db.execute(async () => call);
    // 20 calls, 5 per lease: 4 leases, each one acquire and one release.
    await waitUntil('the last lease is back in Redis', async () => {
      return Number(await server.command('ZCARD', keysOf(name).leases)) === 0;
    });
    expect((await evalshaCalls()) - scriptsBefore).toBe(8);
  });

  it('yields after usesPerLease uses: another instance racing one that keeps both permits busy gets turns (2 permits, 2 + 2 loops)', async () => {
    const name = newName();
    const options = {
      name,
      maxConcurrent: 2,
      maxQueue: Infinity,
      usesPerLease: 8,
      commandTimeoutMs: PATIENT_MS,
    };
    const busy = redisBulkhead(first, options);
    const other = redisBulkhead(second, options);
    // Two loops of `busy` can each keep a permit for 8 calls, then race `other` for it. A fair race
    // lets `other` finish its 40 calls after some 5 wins; a cap of 5,000 busy calls is 625 races
    // won by `busy`. Before the fix `other` won about 1 race in 700 and never got there.
    const CAP = 5_000;
    const busyCalls = await race(busy, other, { busyLoops: 2, otherLoops: 2, otherCalls: 20, cap: CAP });
    expect(busyCalls).toBeLessThan(CAP);
  });

  it('never lets two instances hold more than maxConcurrent permits between them while both loop', async () => {
    const name = newName();
    const options = {
      name,
      maxConcurrent: 2,
      maxQueue: Infinity,
      usesPerLease: 8,
      pollIntervalMs: 50,
      commandTimeoutMs: PATIENT_MS,
    };
    const instances = [redisBulkhead(first, options), redisBulkhead(second, options)];
    let inside = 0;
    let mostInside = 0;
    const callsOf = [0, 0];
    const loop = async (index: number): Promise<void> => {
      const instance = instances[index % 2]!;
      for (let call = 0; call < 40; call++) {
        await instance.execute(async () => {
          inside++;
          mostInside = Math.max(mostInside, inside);
          await delay(0);
          inside--;
        });
        callsOf[index % 2]!++;
      }
    };
    // 3 callers per instance, 6 in all, contend for 2 permits.
    await Promise.all([0, 1, 2, 3, 4, 5].map(loop));
    expect(mostInside).toBe(2);
    expect(callsOf).toEqual([120, 120]);
  });
});

describe('RedisBulkheadState after taking the last permit', () => {
  it('refuses further acquires of a watched key without asking Redis until a release is heard', async () => {
    const name = newName();
    const state = stateOf(first, { name, maxConcurrent: 1, pollIntervalMs: 600_000 });
    let wakes = 0;
    const stop = state.watch(name, () => wakes++);
    await waitUntil('subscribed', () => wakes >= 1);
    const lease = (await state.acquire(name))!;
    expect(lease).toBeDefined();
    // The permit comes free without a notification: this state cannot know, and does not ask.
    await server.command('ZREM', keysOf(name).leases, lease.id);
    expect(await state.acquire(name)).toBeUndefined();
    // A release notification (what bulkhead/release publishes) makes it ask again.
    const [, , channel] = new RedisKeyspace({
      pattern: 'bulkhead',
      name,
      parts: ['leases', 'token', 'released'],
    }).keysFor(name) as [string, string, string];
    const wakesBefore = wakes;
    await server.command('PUBLISH', channel, '1');
    await waitUntil('woken', () => wakes > wakesBefore);
    expect(await state.acquire(name)).toBeDefined();
    stop();
  });

  it('asks Redis as usual for a key nobody here waits on', async () => {
    const name = newName();
    const state = stateOf(first, { name, maxConcurrent: 1 });
    const lease = (await state.acquire(name))!;
    await server.command('ZREM', keysOf(name).leases, lease.id);
    expect(await state.acquire(name)).toBeDefined();
  });
});

describe('redisBulkhead across instances', () => {
  it.each([
    ['two connections', 1],
    ['two connections', 32],
    ['one connection', 1],
    ['one connection', 32],
  ])(
    'takes turns between two instances with one permit and one looping caller each (%s, usesPerLease %i)',
    async (shape, usesPerLease) => {
      const name = newName();
      const options = {
        name,
        maxConcurrent: 1,
        maxQueue: Infinity,
        usesPerLease,
        commandTimeoutMs: PATIENT_MS,
      };
      const busy = redisBulkhead(first, options);
      const other = redisBulkhead(shape === 'one connection' ? first : second, options);
      // The busy loop sends its next acquire right behind its release; before the waiting set it
      // won every race: `other` made 1 call while `busy` made thousands. Now a refused process
      // takes a place at once and is owed the next permit, so the two take turns: `busy` gets at
      // most one turn more than `other` at each end (a turn is one call, or usesPerLease calls
      // with a kept lease).
      const OTHER_CALLS = 64;
      const busyCalls = await race(busy, other, {
        busyLoops: 1,
        otherLoops: 1,
        otherCalls: OTHER_CALLS,
        cap: 5_000,
      });
      expect(busyCalls).toBeLessThanOrEqual(OTHER_CALLS + 2 * usesPerLease);
    },
  );

  it("wakes a waiter of instance 2 on instance 1's release (pub/sub), long before its poll interval", async () => {
    const name = newName();
    // A poll interval beyond waitUntil's bound: only the notification can wake the waiter in time.
    const options = {
      name,
      maxConcurrent: 1,
      maxQueue: 1,
      pollIntervalMs: 600_000,
      commandTimeoutMs: PATIENT_MS,
    };
    const one = redisBulkhead(first, options);
    const two = redisBulkhead(second, options);
    const work = gate();
    const started: string[] = [];
    const held = one.execute(() => {
      started.push('one');
      return work.promise;
    });
    await waitUntil('instance 1 holds the permit', () => started.length === 1);
    const waiting = two.execute(() => {
      started.push('two');
      return 'two';
    });
    await waitUntil('instance 2 waits', () => two.queued === 1);
    await delay(20); // let its subscription land; a release before it is caught by the re-check
    work.open('one');
    await expect(held).resolves.toBe('one');
    await expect(waiting).resolves.toBe('two');
    expect(started).toEqual(['one', 'two']);
  });

  it("serves a waiter when a dead holder's lease lapses, not one poll interval later", async () => {
    const name = newName();
    const leaseMs = 300;
    const dead = stateOf(first, { name, leaseMs });
    // Read before the grant is asked for: the lease lapses at least leaseMs after this.
    const askedAtMs = Date.now();
    expect(await dead.acquire(name)).toBeDefined();
    void dead.close(); // stops renewing, as a killed process would (it holds no kept lease)
    const survivor = redisBulkhead(second, {
      name,
      maxConcurrent: 1,
      maxQueue: 1,
      leaseMs,
      pollIntervalMs: 600_000,
      commandTimeoutMs: PATIENT_MS,
    });
    await expect(survivor.execute(() => 'ran')).resolves.toBe('ran');
    expect(Date.now() - askedAtMs).toBeGreaterThanOrEqual(leaseMs - 1);
  });
});

/** Each bound is commandTimeoutMs plus a margin of one more commandTimeoutMs, never a measured speed. */
const COMMAND_TIMEOUT_MS = 150;
const BOUND_MS = 2 * COMMAND_TIMEOUT_MS;

describe.each<BackendFailureMode>(['reject', 'allow', 'local'])(
  "redisBulkhead, onBackendFailure '%s', against a Redis that hangs",
  (mode) => {
    let hanging: RedisServer;
    let client: Redis;

    beforeAll(async () => {
      hanging = await startRedis();
    });
    afterAll(async () => {
      await hanging.stop();
    });
    afterEach(() => {
      hanging.resume();
      client.disconnect();
    });

    async function setUp(maxConcurrent: number): Promise<{
      db: BulkheadPolicy;
      name: string;
      events: ResilienceEvent[];
    }> {
      client = hanging.connect({ autoResendUnfulfilledCommands: false, retryStrategy: () => 20 });
      client.on('error', () => undefined);
      await client.ping();
      const name = newName();
      const db = redisBulkhead(client, {
        name,
        maxConcurrent,
        maxQueue: 20,
        leaseMs: 60_000,
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
        onBackendFailure: mode,
        localShare: 0.5,
      });
      const events: ResilienceEvent[] = [];
      db.onEvent((event) => {
        if (event.type.startsWith('backend.')) events.push(event);
      });
      return { db, name, events };
    }

    /** Runs one call, and says how it ended and how long it took to end. */
    async function timed(db: BulkheadPolicy): Promise<{ tookMs: number; ran: boolean; error?: unknown }> {
      const startedMs = performance.now();
      let ran = false;
      try {
        await db.execute(() => {
          ran = true;
        });
        return { tookMs: performance.now() - startedMs, ran, error: undefined };
      } catch (error) {
        return { tookMs: performance.now() - startedMs, ran, error };
      }
    }

    it('answers within commandTimeoutMs + margin while paused, reports once, recovers after SIGCONT', async () => {
      const { db, name, events } = await setUp(2);
      expect((await timed(db)).ran).toBe(true);
      hanging.pause();
      // The first call waits for Redis up to commandTimeoutMs; the next ones fall back at once.
      const results = [];
      for (let index = 0; index < 5; index++) results.push(await timed(db));
      for (const result of results) {
        expect(result.tookMs).toBeLessThan(BOUND_MS);
        if (mode === 'reject') {
          expect(result.ran).toBe(false);
          expect(result.error).toBeInstanceOf(BackendUnavailableError);
        } else {
          expect(result).toMatchObject({ ran: true, error: undefined });
        }
      }
      expect(events.map((event) => event.type)).toEqual(['backend.failed']);
      expect(events[0]).toMatchObject({ policyKind: 'bulkhead', policyName: name, fallback: mode });

      hanging.resume();
      await waitUntil('Redis answers the bulkhead again', async () => {
        await timed(db);
        return events.length === 2;
      });
      expect(events.map((event) => event.type)).toEqual(['backend.failed', 'backend.recovered']);
      expect(await timed(db)).toMatchObject({ ran: true, error: undefined });
      // The grant Redis made after the probe timed out was given back; nothing was left behind.
      await waitUntil(
        'no lease is left in Redis',
        async () => Number(await hanging.command('ZCARD', keysOf(name).leases)) === 0,
      );
    });

    it('answers within commandTimeoutMs + margin while killed, and recovers after a restart', async () => {
      const { db, events } = await setUp(2);
      expect((await timed(db)).ran).toBe(true);
      await hanging.kill();
      for (let index = 0; index < 3; index++) {
        const result = await timed(db);
        expect(result.tookMs).toBeLessThan(BOUND_MS);
        expect(result.ran).toBe(mode !== 'reject');
      }
      expect(events.map((event) => event.type)).toEqual(['backend.failed']);
      await hanging.restart();
      await waitUntil('Redis answers the bulkhead again', async () => {
        await timed(db);
        return events.length === 2;
      });
      expect(events.map((event) => event.type)).toEqual(['backend.failed', 'backend.recovered']);
    });

    it('settles a caller queued before the hang within commandTimeoutMs + margin of the release', async () => {
      const { db, events } = await setUp(1);
      const work = gate();
      const held = db.execute(() => work.promise);
      await waitUntil('the permit is held', () => db.inFlight === 1);
      const queued = timed(db);
      await waitUntil('the second caller waits', () => db.queued === 1);
      hanging.pause();
      const releasedMs = performance.now();
      work.open('held');
      await expect(held).resolves.toBe('held');
      const result = await queued;
      expect(performance.now() - releasedMs).toBeLessThan(BOUND_MS);
      if (mode === 'reject') expect(result.error).toBeInstanceOf(BackendUnavailableError);
      else expect(result).toMatchObject({ ran: true, error: undefined });
      expect(db.queued).toBe(0);
      expect(events.map((event) => event.type)).toEqual(['backend.failed']);
    });

    if (mode === 'local') {
      it('never runs more calls than localShare of maxConcurrent during the outage, and strands no waiter', async () => {
        const { db, name } = await setUp(4);
        const localCap = 2; // localShare 0.5 of maxConcurrent 4
        hanging.pause();
        let running = 0;
        let maxRunning = 0;
        const calls = Array.from({ length: 12 }, () =>
          db.execute(async () => {
            running++;
            maxRunning = Math.max(maxRunning, running);
            await delay(5);
            running--;
          }),
        );
        await Promise.all(calls);
        expect(maxRunning).toBe(localCap);
        expect(db.queued).toBe(0);
        hanging.resume();
        // Permits taken locally were released locally: Redis never heard of them.
        await waitUntil(
          'the probe answered',
          async () => Number(await hanging.command('ZCARD', keysOf(name).leases)) === 0,
        );
      });
    }
  },
);
