/**
 * The Redis rate limiter when Redis fails: killed mid-load, paused (SIGSTOP), restarted with an
 * empty script cache, or its script cache flushed. Each mode of `onBackendFailure` keeps answering
 * within `commandTimeoutMs` plus a slack; the outage is reported once; nothing decided during it
 * lands in Redis later; and the limiter's own "limit exceeded" never counts as a failure.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { redisRateLimiter, type BackendFailureMode, type RedisRateLimiterOptions } from '@hyx/distributed';
import {
  BackendUnavailableError,
  rateLimitAlgorithms,
  type Clock,
  type RateLimitAlgorithmName,
  type RateLimitDecision,
  type RateLimiter,
  type ResilienceEvent,
} from '@hyx/local';

import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { waitUntil } from '../support/wait-until.js';

const COMMAND_TIMEOUT_MS = 100;
/**
 * What a decision may take beyond commandTimeoutMs, besides the time this process could not run
 * (its event loop's delay, measured during each case: a loaded 2-core machine delays every timer).
 */
const SLACK_MS = 20;
const RUN_ID = Math.random().toString(36).slice(2, 8);
const ALGORITHMS = Object.keys(rateLimitAlgorithms) as RateLimitAlgorithmName[];

let server: RedisServer;
let limiterCount = 0;

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});
const clients: Redis[] = [];
let loopDelay: IntervalHistogram | undefined;

/** The bound on one decision: commandTimeoutMs + slack + the worst event-loop delay seen so far. */
function decisionBoundMs(): number {
  return COMMAND_TIMEOUT_MS + SLACK_MS + (loopDelay?.max ?? 0) / 1e6;
}

beforeEach(() => {
  loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
});

afterEach(async () => {
  loopDelay?.disable();
  for (const client of clients.splice(0)) client.disconnect();
  if (server.isRunning) server.resume();
  else await server.restart();
});

/**
 * A connected client as the docs advise: no resend of unanswered commands, quick reconnects. It has
 * answered a PING, so no case's first decision pays for the connection within commandTimeoutMs.
 */
async function connect(): Promise<Redis> {
  const client = server.connect({ autoResendUnfulfilledCommands: false, retryStrategy: () => 20 });
  // Connection errors during the faults are expected; the limiter sees them through its calls.
  client.on('error', () => undefined);
  clients.push(client);
  await client.ping();
  return client;
}

function limiterOn(
  client: Redis,
  options: Partial<RedisRateLimiterOptions> = {},
): { limiter: RateLimiter; events: ResilienceEvent[] } {
  limiterCount++;
  const limiter = redisRateLimiter(client, {
    name: `backend-${RUN_ID}-${limiterCount}`,
    algorithm: 'fixed-window',
    limit: 1000,
    windowMs: 3_600_000,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    ...options,
  });
  const events: ResilienceEvent[] = [];
  limiter.onEvent((event) => {
    if (event.type.startsWith('backend.')) events.push(event);
  });
  return { limiter, events };
}

interface Timed {
  readonly tookMs: number;
  readonly decision?: RateLimitDecision;
  readonly error?: unknown;
}

async function timed(limiter: RateLimiter): Promise<Timed> {
  const startedMs = performance.now();
  try {
    const decision = await limiter.tryAcquire({ key: 'k' });
    return { tookMs: performance.now() - startedMs, decision };
  } catch (error) {
    return { tookMs: performance.now() - startedMs, error };
  }
}

/** Four callers in a loop until `stop` resolves: the load the faults hit. */
async function underLoad(limiter: RateLimiter, stop: Promise<void>): Promise<Timed[]> {
  let isStopped = false;
  void stop.then(() => (isStopped = true));
  const results: Timed[] = [];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (!isStopped) {
        results.push(await timed(limiter));
        // A fallback answers without I/O: pause a little, so the callers load the limiter without
        // saturating the CPU (which would delay every timer, the command timeout's included).
        await pause(1);
      }
    }),
  );
  return results;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe.each<BackendFailureMode>(['reject', 'allow', 'local'])("onBackendFailure '%s'", (mode) => {
  it('keeps deciding within commandTimeoutMs while Redis is killed, and recovers after a restart', async () => {
    const client = await connect();
    const { limiter, events } = limiterOn(client, { onBackendFailure: mode, localShare: 0.5 });
    expect((await limiter.tryAcquire({ key: 'k' })).source).toBe('redis');

    const outage = (async () => {
      await pause(100);
      await server.kill();
      await pause(400);
    })();
    const results = await underLoad(limiter, outage);
    const failed = results.filter((result) => result.decision?.source !== 'redis');
    expect(failed.length).toBeGreaterThan(0);
    for (const result of results) expect(result.tookMs).toBeLessThanOrEqual(decisionBoundMs());
    for (const result of failed) {
      if (mode === 'reject') expect(result.error).toBeInstanceOf(BackendUnavailableError);
      else expect(result.decision).toMatchObject({ source: 'fallback' });
    }
    if (mode === 'allow') expect(failed.every((result) => result.decision?.allowed === true)).toBe(true);
    if (mode === 'local') {
      // The twin admits localShare of the limit (500 of 1000 per hour) and then denies.
      const admitted = failed.filter((result) => result.decision?.allowed === true).length;
      expect(admitted).toBeLessThanOrEqual(500);
    }
    expect(events.map((event) => event.type)).toEqual(['backend.failed']);

    // The restarted server has neither the data nor the scripts: EVALSHA answers NOSCRIPT, EVAL runs.
    await server.restart();
    const back = await waitUntil('the limiter decides on Redis again', async () => {
      const decision = await limiter.tryAcquire({ key: 'k' }).catch(() => undefined);
      return decision?.source === 'redis' ? decision : undefined;
    });
    expect(back.allowed).toBe(true);
    expect(events.map((event) => event.type)).toEqual(['backend.failed', 'backend.recovered']);
  });
});

describe('the Redis rate limiter under faults', () => {
  it('does not hang on a paused Redis (SIGSTOP) and recovers on SIGCONT', async () => {
    const client = await connect();
    const { limiter, events } = limiterOn(client, { onBackendFailure: 'allow' });
    await limiter.tryAcquire({ key: 'k' });

    server.pause();
    const results = await Promise.all(Array.from({ length: 20 }, () => timed(limiter)));
    for (const result of results) {
      expect(result.tookMs).toBeLessThanOrEqual(decisionBoundMs());
      expect(result.decision?.source).toBe('fallback');
    }
    server.resume();
    await waitUntil('the limiter decides on Redis again', async () => {
      const decision = await limiter.tryAcquire({ key: 'k' });
      return decision.source === 'redis';
    });
    expect(events.map((event) => event.type)).toEqual(['backend.failed', 'backend.recovered']);
  });

  it('runs on after SCRIPT FLUSH without a failure', async () => {
    const client = await connect();
    const { limiter, events } = limiterOn(client, { onBackendFailure: 'reject' });
    await limiter.tryAcquire({ key: 'k' });
    await server.scriptFlush();
    const decision = await limiter.tryAcquire({ key: 'k' });
    expect(decision).toMatchObject({ allowed: true, remaining: 998, source: 'redis' });
    expect(events).toEqual([]);
  });

  it('never falls back on its own limit', async () => {
    const client = await connect();
    const { limiter, events } = limiterOn(client, { onBackendFailure: 'allow', limit: 2 });
    const decisions = [];
    for (let call = 0; call < 5; call++) decisions.push(await limiter.tryAcquire({ key: 'k' }));
    expect(decisions.map((decision) => [decision.allowed, decision.source])).toEqual([
      [true, 'redis'],
      [true, 'redis'],
      [false, 'redis'],
      [false, 'redis'],
      [false, 'redis'],
    ]);
    expect(events).toEqual([]);
  });

  it('replays nothing decided during an outage into Redis afterwards', async () => {
    const client = await connect();
    const { limiter } = limiterOn(client, { onBackendFailure: 'local' });
    expect((await limiter.tryAcquire({ key: 'k' })).source).toBe('redis');
    await server.kill();
    for (let call = 0; call < 50; call++) {
      expect((await limiter.tryAcquire({ key: 'k' })).source).toBe('fallback');
    }
    await server.restart();
    const back = await waitUntil('the limiter decides on Redis again', async () => {
      const decision = await limiter.tryAcquire({ key: 'k' });
      return decision.source === 'redis' ? decision : undefined;
    });
    // The restarted server starts empty: none of the 50 reached it late (the client was not ready,
    // so nothing was sent to wait in its offline queue). What counts there is this call and at most
    // one probe of the limiter's that Redis answered after commandTimeoutMs.
    expect(back.remaining).toBeGreaterThanOrEqual(998);
  });
});

describe('time and keys of the Redis rate limiter', () => {
  it('decides on the server clock, whatever the hosts clocks say', async () => {
    const client = await connect();
    const skewed = (offsetMs: number): Clock => ({
      now: () => Date.now() + offsetMs,
      setTimeout: (callback, delayMs) => globalThis.setTimeout(callback, delayMs) as never,
      clearTimeout: (handle) => {
        globalThis.clearTimeout(handle as never);
      },
    });
    limiterCount++;
    const options = {
      name: `skew-${RUN_ID}-${limiterCount}`,
      algorithm: 'gcra',
      limit: 10,
      intervalMs: 3_600_000,
    } as const;
    const ahead = redisRateLimiter(client, { ...options, clock: skewed(5000) });
    const behind = redisRateLimiter(client, { ...options, clock: skewed(-5000) });
    let admitted = 0;
    for (let call = 0; call < 20; call++) {
      const decision = await (call % 2 === 0 ? ahead : behind).tryAcquire({ key: 'k' });
      if (decision.allowed) admitted++;
    }
    expect(admitted).toBe(10);
  });

  it.each(ALGORITHMS)('%s: gives every key it writes a TTL of at most resetAfterMs', async (algorithm) => {
    const client = await connect();
    const { limiter } = limiterOn(client, { algorithm, limit: 5, windowMs: 200 });
    let resetAfterMs = 0;
    for (let call = 0; call < 3; call++) {
      resetAfterMs = Math.max(resetAfterMs, (await limiter.tryAcquire({ key: 'k', cost: 1 })).resetAfterMs);
    }
    const keys = (await server.command('KEYS', `hyx:{${limiter.name}:k}:*`)) as string[];
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const ttlMs = Number(await server.command('PTTL', key));
      expect(ttlMs).toBeGreaterThan(0);
      expect(ttlMs).toBeLessThanOrEqual(2 * 200);
    }
    // An idle limiter leaves no key: every one is gone once its state would decide as none.
    await pause(2 * 200 + 50);
    expect(await server.command('KEYS', `hyx:{${limiter.name}:k}:*`)).toEqual([]);
  });
});
