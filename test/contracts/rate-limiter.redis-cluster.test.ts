import { setImmediate as nextTurn } from 'node:timers/promises';

import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RedisKeyspace, RedisRateLimiterState, hashSlotOf, redisRateLimiter } from '@hyx/distributed';
import type { RateLimiterConfig, RateLimiterState } from '@hyx/local';

import { startCluster, type RedisClusterHandle, type RedisServer } from '../support/redis-harness.js';
import { describeRateLimiterContract } from './rate-limiter-contract.js';

/**
 * The rate limiter contract on a harness-started 3-master Redis Cluster through an ioredis
 * `Cluster` client. Every case's limiter has a name of its own, and the hash tag is
 * `{<name>:<key>}`, so the cases' keys land on all three masters (checked below).
 */
let cluster: RedisClusterHandle;
let client: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
  client = cluster.connect();
});
afterAll(async () => {
  await cluster.stop();
});

let inFlight = 0;

function tracked<T>(work: Promise<T>): Promise<T> {
  inFlight++;
  return work.finally(() => inFlight--);
}

async function settle(): Promise<void> {
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  await nextTurn();
}

describeRateLimiterContract(
  'redis cluster',
  (config: RateLimiterConfig): RateLimiterState => {
    const state = new RedisRateLimiterState(client, config, { time: 'clock', commandTimeoutMs: 60_000 });
    return {
      tryAcquire: (request) => tracked(state.tryAcquire(request)),
      refund: (request) => tracked(state.refund(request)),
    };
  },
  { settle },
);

describe('the Redis rate limiter on a 3-master Cluster', () => {
  it('spreads keys over every master, each decided on the node that owns it', async () => {
    const name = `cluster-${Math.random().toString(36).slice(2, 8)}`;
    const limiter = redisRateLimiter(client, { name, algorithm: 'fixed-window', limit: 2, windowMs: 60_000 });
    const keyspace = new RedisKeyspace({
      pattern: 'rate-limiter',
      name,
      parts: ['fixed-window', 'fixed-window-log'],
    });
    const owners = new Map<RedisServer, number>();
    for (let index = 0; index < 30; index++) {
      const key = `user-${index}`;
      const decisions = [];
      for (let call = 0; call < 3; call++) decisions.push(await limiter.tryAcquire({ key }));
      expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, false]);
      expect(decisions.every((decision) => decision.source === 'redis')).toBe(true);
      const stateKey = keyspace.keyFor(key, 'fixed-window');
      const owner = await cluster.nodeOwning(hashSlotOf(stateKey));
      // The fixed window's state is "<start>:<count>".
      expect(String(await owner.command('GET', stateKey))).toMatch(/^\d+:2$/);
      owners.set(owner, (owners.get(owner) ?? 0) + 1);
    }
    expect(owners.size).toBe(3);
  });
});
