import { describe, expect, it } from 'vitest';

import { FakeClock } from '@hyx/local/testing';

import type { RedisLike } from '../redis-like.js';
import { redisBulkhead } from './redis-bulkhead.js';
import { RedisBulkheadState } from './redis-bulkhead-state.js';

/** A Redis that fails every command, as one that is down does. */
const downRedis: RedisLike = {
  evalsha: () => Promise.reject(new Error('connect ECONNREFUSED')),
  eval: () => Promise.reject(new Error('connect ECONNREFUSED')),
};

describe('redisBulkhead', () => {
  it.each([
    [{ maxConcurrent: 2, leaseMs: 5 }, RangeError, 'redisBulkhead "db": leaseMs must be in [10, '],
    [
      { maxConcurrent: 2, leaseMs: 1.5 },
      TypeError,
      'redisBulkhead "db": leaseMs must be an integer, got 1.5',
    ],
    [
      { maxConcurrent: 2, leaseMs: 1000, renewMs: 1000 },
      RangeError,
      'redisBulkhead "db": renewMs must be < leaseMs (1000), got 1000',
    ],
    [
      { maxConcurrent: 2, pollIntervalMs: 0 },
      RangeError,
      'redisBulkhead "db": pollIntervalMs must be in [1, ',
    ],
    [
      { maxConcurrent: 2, onLeaseLost: 'log' },
      TypeError,
      'redisBulkhead "db": onLeaseLost must be a function',
    ],
    [
      { maxConcurrent: 2, commandTimeoutMs: '100' },
      TypeError,
      'redisBulkhead "db": commandTimeoutMs must be a number, got "100"',
    ],
    [
      { maxConcurrent: 2, commandTimeoutMs: 0 },
      RangeError,
      'redisBulkhead "db": commandTimeoutMs must be in (0, ',
    ],
    [
      { maxConcurrent: 2, onBackendFailure: 'fail-open' },
      TypeError,
      'redisBulkhead "db": onBackendFailure must be one of "reject", "allow", "local", got "fail-open"',
    ],
    [
      { maxConcurrent: 2, usesPerLease: 0 },
      RangeError,
      'redisBulkhead "db": usesPerLease must be in [1, 1000000], got 0',
    ],
    [
      { maxConcurrent: 2, usesPerLease: 2.5 },
      TypeError,
      'redisBulkhead "db": usesPerLease must be an integer, got 2.5',
    ],
    [
      { maxConcurrent: 2, usesPerLease: '8' },
      TypeError,
      'redisBulkhead "db": usesPerLease must be an integer, got "8"',
    ],
    [
      { maxConcurrent: 2, localShare: '0.5' },
      TypeError,
      'redisBulkhead "db": localShare must be a number, got "0.5"',
    ],
    [
      { maxConcurrent: 2, localShare: 1.5 },
      RangeError,
      'redisBulkhead "db": localShare must be in (0, 1], got 1.5',
    ],
    [
      { maxConcurrent: 2, localShare: 0 },
      RangeError,
      'redisBulkhead "db": localShare must be in (0, 1], got 0',
    ],
  ])('rejects bad options at construction: %o', (options, type, message) => {
    const build = () => redisBulkhead(downRedis, { name: 'db', ...(options as { maxConcurrent: number }) });
    expect(build).toThrow(type);
    expect(build).toThrow(message);
  });

  it('names itself in the error of a bad local option, checked as the local bulkhead does', () => {
    expect(() => redisBulkhead(downRedis, { name: 'db', maxConcurrent: 0 })).toThrow(
      'redisBulkhead "db": maxConcurrent must be >= 1, got 0',
    );
  });

  it('rejects a call with BackendUnavailableError while Redis is down; the call never runs', async () => {
    const db = redisBulkhead(downRedis, { name: 'db', maxConcurrent: 2, clock: new FakeClock() });
    let runs = 0;
    await expect(db.execute(() => ++runs)).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect(runs).toBe(0);
    expect(db.inFlight).toBe(0);
  });

  it.each(['allow', 'local'] as const)(
    "runs the call without Redis under onBackendFailure '%s', and reports the outage once",
    async (mode) => {
      const db = redisBulkhead(downRedis, {
        name: 'db',
        maxConcurrent: 4,
        onBackendFailure: mode,
        localShare: 0.5,
        clock: new FakeClock(),
      });
      const events: string[] = [];
      db.onEvent((event) => {
        if (event.type.startsWith('backend.')) events.push(event.type);
      });
      let runs = 0;
      await db.execute(() => ++runs);
      await db.execute(() => ++runs);
      expect(runs).toBe(2);
      expect(db.inFlight).toBe(0);
      expect(events).toEqual(['backend.failed']);
    },
  );

  it("caps calls at localShare of maxConcurrent under onBackendFailure 'local'", async () => {
    const db = redisBulkhead(downRedis, {
      name: 'db',
      maxConcurrent: 5,
      maxQueue: 0,
      onBackendFailure: 'local',
      localShare: 0.5,
      clock: new FakeClock(),
    });
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = [db.execute(() => held), db.execute(() => held)];
    await expect(db.execute(() => 'third')).rejects.toMatchObject({ code: 'BULKHEAD_FULL' });
    release();
    await Promise.all(running);
    // Permits taken locally went back locally: the cap is free again.
    await expect(db.execute(() => 'again')).resolves.toBe('again');
  });

  it('holds no timer and no connection when nothing is held or waited for', async () => {
    const clock = new FakeClock();
    const state = new RedisBulkheadState(downRedis, { name: 'db', maxConcurrent: 1, clock });
    const stop = state.watch('db', () => undefined);
    expect(clock.pendingTimers).toBe(1); // the poll, while someone waits
    stop();
    expect(clock.pendingTimers).toBe(0);
    await state.close();
  });
});
