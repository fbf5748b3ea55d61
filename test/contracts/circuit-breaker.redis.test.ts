import { setImmediate as nextTurn } from 'node:timers/promises';

import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

import { redisCircuitBreakerState } from '@hyx/distributed';
import { MAX_TIMER_DELAY_MS, type CircuitBreakerState } from '@hyx/local';
import type { FakeClock } from '@hyx/local/testing';

import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { describeCircuitBreakerContract } from './circuit-breaker-contract.js';

/**
 * The circuit breaker contract on a harness-started single Redis, the suite unchanged from the
 * memory run. Time comes from the suite's `FakeClock` (`time: 'clock'`: every script call carries
 * the clock's time as `nowMs`); the command timeout is beyond anything a case advances the fake
 * clock by, so it never fires there.
 *
 * A case may move the fake clock while a call waits for Redis (`lasting` starts a call, then
 * advances by its duration): the clock of this run first waits for the answers in flight and one
 * turn of the event loop, so the admitted work has armed its timer before time moves, as the
 * rate limiter contract's `settle` hook does.
 */
let server: RedisServer;
/** One connection for every case: each case's breaker has a name of its own. */
let client: Redis | undefined;

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  client?.disconnect();
  await server.stop();
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

const settlingClocks = new WeakSet<FakeClock>();

function settleBeforeAdvancing(clock: FakeClock): void {
  if (settlingClocks.has(clock)) return;
  settlingClocks.add(clock);
  const advance = clock.advance.bind(clock);
  clock.advance = async (ms: number) => {
    await settle();
    await advance(ms);
  };
}

describeCircuitBreakerContract('redis', ({ clock }) => {
  settleBeforeAdvancing(clock);
  client ??= server.connect();
  const provider = redisCircuitBreakerState(client, { time: 'clock', commandTimeoutMs: MAX_TIMER_DELAY_MS });
  return (settings, context) => {
    const inner = provider(settings, context);
    const state: CircuitBreakerState = {
      admit: (...args) => tracked(Promise.resolve(inner.admit(...args))),
      record: (...args) => tracked(Promise.resolve(inner.record(...args))),
      inspect: (...args) => tracked(Promise.resolve(inner.inspect(...args))),
      isolate: (...args) => tracked(Promise.resolve(inner.isolate(...args))),
      releaseIsolation: (...args) => tracked(Promise.resolve(inner.releaseIsolation(...args))),
      reset: (...args) => tracked(Promise.resolve(inner.reset(...args))),
      snapshot: (...args) => tracked(Promise.resolve(inner.snapshot(...args))),
      restore: (...args) => tracked(Promise.resolve(inner.restore(...args))),
    };
    return state;
  };
});
