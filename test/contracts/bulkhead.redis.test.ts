import { setImmediate as nextTurn } from 'node:timers/promises';

import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

import { RedisBulkheadState } from '@hyx/distributed';
import type { BulkheadSettings, BulkheadState } from '@hyx/local';

import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { describeBulkheadContract } from './bulkhead-contract.js';

/**
 * The bulkhead contract on a harness-started single Redis. Every case has keys of its own, so one
 * server and one connection serve them all; each case's states are closed after it (their
 * renewal timers stop, and the leases a case left held lapse in Redis).
 */
let server: RedisServer;
let client: Redis | undefined;
const states: RedisBulkheadState[] = [];

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

/** Requests in flight to Redis, so `settle` can wait for their answers before the fake clock moves. */
let inFlight = 0;

function tracked<T>(work: Promise<T>): Promise<T> {
  inFlight++;
  return work.finally(() => inFlight--);
}

async function settle(): Promise<void> {
  // An answer can make the bulkhead send the next request (a drain): wait until nothing is out.
  do {
    while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 1));
    await nextTurn();
  } while (inFlight > 0);
}

function redisState(settings: BulkheadSettings): BulkheadState {
  client ??= server.connect();
  const state = new RedisBulkheadState(client, { name: 'contract', leaseMs: 60_000, ...settings });
  states.push(state);
  return {
    acquire: (key, nowMs) => tracked(Promise.resolve(state.acquire(key, nowMs))),
    release: (lease) => tracked(Promise.resolve(state.release(lease))),
    watch: (key, onFree) => state.watch(key, onFree),
  };
}

describeBulkheadContract('redis', redisState, {
  settle,
  afterEach: async () => {
    await Promise.all(states.splice(0).map((state) => state.close()));
  },
});
