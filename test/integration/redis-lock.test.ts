import { setTimeout as delay } from 'node:timers/promises';
import {
  LUA_SCRIPTS,
  LockUnavailableError,
  LuaScript,
  RedisKeyspace,
  arrayReply,
  integerReply,
  redisLock,
  type LockHandle,
  type LockLostError,
} from '@hyx/distributed';
import { isResilienceError } from '@hyx/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startCluster,
  startRedis,
  type RedisClusterHandle,
  type RedisServer,
} from '../support/redis-harness.js';

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    signal.addEventListener(
      'abort',
      () => {
        resolve();
      },
      { once: true },
    );
  });
}

const raw = (name: 'lease/acquire' | 'lease/renew' | 'lease/release') =>
  new LuaScript({ ...LUA_SCRIPTS[name], decode: (reply) => reply });
const acquire = raw('lease/acquire');
const renew = raw('lease/renew');
const release = raw('lease/release');
const leases = new RedisKeyspace({ pattern: 'lock', name: 'scripts', parts: ['owner', 'fence'] });

describe('lease scripts on a single Redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('grant a growing token, refuse a second holder, and let only the owner renew and release', async () => {
    const redis = server.connect();
    const keys = leases.keysFor('a');
    const [first, token1] = arrayReply(await acquire.run(redis, keys, ['holder-1', 5_000, 60_000]), 3);
    expect(integerReply(first)).toBe(1);
    const [second, , retryAfterMs] = arrayReply(
      await acquire.run(redis, keys, ['holder-2', 5_000, 60_000]),
      3,
    );
    expect(integerReply(second)).toBe(0);
    expect(integerReply(retryAfterMs)).toBeGreaterThan(4_000);

    // The same holder asking again (a resent call) gets its own lease and token back.
    const again = arrayReply(await acquire.run(redis, keys, ['holder-1', 5_000, 60_000]), 3);
    expect(again[1]).toBe(token1);

    expect(await renew.run(redis, [keys[0] ?? ''], ['holder-2', String(token1), 5_000])).toBe(0);
    expect(await release.run(redis, [keys[0] ?? ''], ['holder-2', String(token1)])).toBe(0);
    expect(await renew.run(redis, [keys[0] ?? ''], ['holder-1', String(token1), 5_000])).toBe(1);
    expect(await release.run(redis, [keys[0] ?? ''], ['holder-1', String(token1)])).toBe(1);
    expect(await release.run(redis, [keys[0] ?? ''], ['holder-1', String(token1)])).toBe(0);

    const [, token2] = arrayReply(await acquire.run(redis, keys, ['holder-2', 5_000, 60_000]), 3);
    expect(BigInt(String(token2))).toBeGreaterThan(BigInt(String(token1)));
  });

  it('report an expired lease lost on renew instead of taking it again', async () => {
    const redis = server.connect();
    const keys = leases.keysFor('expired');
    const [, token] = arrayReply(await acquire.run(redis, keys, ['holder-1', 30, 60_000]), 3);
    await delay(80);
    expect(await renew.run(redis, [keys[0] ?? ''], ['holder-1', String(token), 5_000])).toBe(0);
    expect(await server.command('EXISTS', keys[0] ?? '')).toBe(0);
  });

  it('keep the token growing when the fencing counter is gone (expired or lost in a failover)', async () => {
    const redis = server.connect();
    const keys = leases.keysFor('counter-lost');
    const [, token1] = arrayReply(await acquire.run(redis, keys, ['holder-1', 5_000, 60_000]), 3);
    await server.command('DEL', keys[0] ?? '', keys[1] ?? '');
    const [, token2] = arrayReply(await acquire.run(redis, keys, ['holder-2', 5_000, 60_000]), 3);
    expect(BigInt(String(token2))).toBeGreaterThan(BigInt(String(token1)));
  });

  it('give every key a TTL', async () => {
    const redis = server.connect();
    const keys = leases.keysFor('ttl');
    await acquire.run(redis, keys, ['holder-1', 5_000, 60_000]);
    for (const key of keys) expect(Number(await server.command('PTTL', key))).toBeGreaterThan(0);
  });
});

describe('redisLock on a single Redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('excludes a second holder until the first releases, and the token grows', async () => {
    const redis = server.connect();
    const lock = redisLock(redis, { name: 'exclusive', leaseMs: 2_000 });
    const first = await lock.acquire();
    expect(await lock.tryAcquire()).toBeUndefined();
    await expect(lock.acquire({ waitMs: 50 })).rejects.toBeInstanceOf(LockUnavailableError);
    expect(first.isHeld).toBe(true);

    const waiting = lock.acquire({ waitMs: 5_000 });
    await delay(30);
    expect(await first.release()).toBe(true);
    const second = await waiting;
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(first.signal.aborted).toBe(true);
    expect((first.signal.reason as LockLostError).reason).toBe('released');
    // Released twice: the same answer, no second deletion.
    expect(await first.release()).toBe(true);
    expect(await second.release()).toBe(true);
  });

  it('renews a held lease past leaseMs and keeps it', async () => {
    const redis = server.connect();
    const lock = redisLock(redis, { name: 'renewed', leaseMs: 150, renewMs: 40 });
    const handle = await lock.acquire();
    await delay(450); // three leases
    expect(handle.isHeld).toBe(true);
    expect(await lock.tryAcquire()).toBeUndefined();
    expect(await handle.release()).toBe(true);
  });

  it('aborts the signal with not-owner when the lease was taken while the holder could not renew', async () => {
    const redis = server.connect();
    const lock = redisLock(redis, { name: 'taken', leaseMs: 1_000, renewMs: 100 });
    const handle = await lock.acquire();
    // Another party deletes the lease (as an expiry during a network partition would).
    await server.command(
      'DEL',
      new RedisKeyspace({ pattern: 'lock', name: 'taken', parts: ['owner'] }).keyFor('', 'owner'),
    );
    const other = await lock.acquire();
    await untilAborted(handle.signal);
    expect((handle.signal.reason as LockLostError).reason).toBe('not-owner');
    expect(await handle.release()).toBe(false); // "not owner", and the other lease stays
    expect(other.isHeld).toBe(true);
    expect(await other.release()).toBe(true);
  });

  it('steps down by itself when Redis cannot be reached before the lease ends', async () => {
    const local = await startRedis();
    const redis = local.connect({ maxRetriesPerRequest: 0, enableOfflineQueue: false });
    const leaseMs = 300;
    const lock = redisLock(redis, { name: 'unreachable', leaseMs, renewMs: 50 });
    const handle = await lock.acquire();
    local.pause();
    const pausedAt = Date.now();
    await untilAborted(handle.signal);
    local.resume();
    expect((handle.signal.reason as LockLostError).reason).toBe('renewal-deadline');
    expect(Date.now() - pausedAt).toBeLessThan(leaseMs);
    expect(handle.isHeld).toBe(false);
    await local.stop();
  });

  it('rejects with the caller’s reason on abort, and with BackendUnavailableError when Redis is down', async () => {
    const redis = server.connect();
    const lock = redisLock(redis, { name: 'aborted', leaseMs: 2_000 });
    const held = await lock.acquire();
    const controller = new AbortController();
    const waiting = lock.acquire({ signal: controller.signal, waitMs: 10_000 });
    controller.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
    await held.release();

    const down = await startRedis();
    const client = down.connect({ maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    client.on('error', () => undefined); // the refused connections are the point of this test
    await down.kill();
    const error: unknown = await redisLock(client, { name: 'down', leaseMs: 1_000 })
      .acquire({ waitMs: 100 })
      .catch((caught: unknown) => caught);
    expect(isResilienceError(error, 'BACKEND_UNAVAILABLE')).toBe(true);
    await down.stop();
  });

  it('validates its options naming the lock, the option and the value', () => {
    const redis = server.connect({ lazyConnect: true });
    expect(() => redisLock(redis, { name: 'bad', leaseMs: 1_000, renewMs: 1_000 })).toThrow(
      'redisLock "bad": renewMs must be < leaseMs - safetyMs (988), got 1000',
    );
    expect(() => redisLock(redis, { name: '', leaseMs: 1_000 })).toThrow(TypeError);
    expect(() => redisLock(redis, { name: 'bad', leaseMs: Number.NaN })).toThrow(TypeError);
    expect(() => redisLock(redis, { name: 'bad', leaseMs: 1_000, waitMs: -1 })).toThrow(RangeError);
  });
});

describe('redisLock on a 3-master Cluster', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('takes, excludes, renews and releases locks whose keys live on different masters', async () => {
    const client = cluster.connect();
    const handles: LockHandle[] = [];
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const lock = redisLock(client, { name, leaseMs: 200, renewMs: 50 });
      handles.push(await lock.acquire());
      expect(await lock.tryAcquire()).toBeUndefined();
    }
    await delay(300);
    for (const handle of handles) {
      expect(handle.isHeld).toBe(true);
      expect(await handle.release()).toBe(true);
    }
  });
});
