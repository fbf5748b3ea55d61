import { setTimeout as delay } from 'node:timers/promises';
import { LockUnavailableError, redlockLock, type Lock } from '@hyx/distributed';
import { isResilienceError } from '@hyx/local';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis-harness.js';

describe('redlockLock over 3 independent masters', () => {
  let masters: RedisServer[];
  beforeAll(async () => {
    masters = await Promise.all([startRedis(), startRedis(), startRedis()]);
  });
  afterAll(async () => {
    await Promise.all(masters.map((master) => master.stop()));
  });

  /** Clients that fail at once on a dead master instead of queueing, so a vote against comes quickly. */
  const clientsOf = (servers: readonly RedisServer[]): Redis[] =>
    servers.map((server) => {
      const client = server.connect({
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        retryStrategy: () => 50,
      });
      client.on('error', () => undefined); // the dead masters' refused connections are expected
      return client;
    });
  const lockOn = (name: string, leaseMs = 1_000): Lock =>
    redlockLock(clientsOf(masters), { name, leaseMs, renewMs: Math.floor(leaseMs / 4), waitMs: 300 });

  it('excludes a second holder, renews past leaseMs, and grows the fencing token', async () => {
    const lock = lockOn('exclusive', 200);
    const first = await lock.acquire();
    expect(await lock.tryAcquire()).toBeUndefined();
    await expect(lock.acquire({ waitMs: 50 })).rejects.toBeInstanceOf(LockUnavailableError);
    await delay(500); // more than two leases: the renewals keep it
    expect(first.isHeld).toBe(true);
    expect(await lock.tryAcquire()).toBeUndefined();
    expect(await first.release()).toBe(true);
    expect(await first.release()).toBe(true);

    const second = await lock.acquire();
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(await second.release()).toBe(true);
  });

  it('still acquires with one master killed, on the remaining quorum', async () => {
    const lock = lockOn('one-down');
    const before = await lock.acquire();
    await before.release();
    await masters[0]?.kill();
    const handle = await lock.acquire();
    expect(handle.isHeld).toBe(true);
    expect(handle.fencingToken).toBeGreaterThan(before.fencingToken);
    expect(await lock.tryAcquire()).toBeUndefined();
    expect(await handle.release()).toBe(true);
  });

  it('fails with BackendUnavailableError when two of three masters are down', async () => {
    await masters[1]?.kill();
    const error: unknown = await lockOn('two-down')
      .acquire({ waitMs: 200 })
      .catch((caught: unknown) => caught);
    expect(isResilienceError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/redlockLock|lock "two-down"/);
  });
});
