import { setImmediate as nextTurn } from 'node:timers/promises';

import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

import { RedisRateLimiterState, type RedisRateLimiterStateFactoryOptions } from '@hyx/distributed';
import type { RateLimiterConfig, RateLimiterState } from '@hyx/local';

import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { describeRateLimiterContract } from './rate-limiter-contract.js';

/**
 * The rate limiter contract on a harness-started single Redis. Cases that pass `nowMs` send it to
 * the script; the shell cases take time from the suite's `FakeClock` (`time: 'clock'`), with a
 * command timeout far beyond what they advance the fake clock by, so it never fires there.
 */
let server: RedisServer;
/** One connection for every case: each case's limiter has a name of its own. */
let client: Redis | undefined;

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

/** Calls in flight to Redis, so `settle` can wait for their answers before the fake clock moves. */
let inFlight = 0;

function tracked<T>(work: Promise<T>): Promise<T> {
  inFlight++;
  return work.finally(() => inFlight--);
}

async function settle(): Promise<void> {
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  // Let the shell react to the last answer (arm its timer) before the clock moves.
  await nextTurn();
}

function redisState(options: RedisRateLimiterStateFactoryOptions) {
  return (config: RateLimiterConfig): RateLimiterState => {
    client ??= server.connect();
    const state = new RedisRateLimiterState(client, config, {
      time: 'clock',
      commandTimeoutMs: 60_000,
      ...options,
    });
    return {
      tryAcquire: (request) => tracked(state.tryAcquire(request)),
      refund: (request) => tracked(state.refund(request)),
    };
  };
}

describeRateLimiterContract('redis', redisState({}), { settle });

describeRateLimiterContract('redis with batching', redisState({ batching: true }), { settle });
