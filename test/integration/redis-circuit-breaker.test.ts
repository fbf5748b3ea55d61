/**
 * The Redis circuit breaker between instances: two breakers with the same name on two
 * connections stand for two processes. One circuit, one generation, probes counted for both;
 * each learns of the other's transitions on its next call, or through pub/sub without traffic.
 */
import { performance } from 'node:perf_hooks';

import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { redisCircuitBreaker, type RedisCircuitBreakerOptions } from '@hyx/distributed';
import { BackendUnavailableError, CircuitOpenError, type ResilienceEvent } from '@hyx/local';

import { startRedis, type RedisServer } from '../support/redis-harness.js';
import { waitUntil } from '../support/wait-until.js';

const RUN_ID = Math.random().toString(36).slice(2, 8);

let server: RedisServer;
let first: Redis;
let second: Redis;
let breakerCount = 0;

beforeAll(async () => {
  server = await startRedis();
  first = server.connect();
  second = server.connect();
});
afterAll(async () => {
  await server.stop();
});

/** Two instances of one breaker, on two connections. */
function pair(options: RedisCircuitBreakerOptions = {}) {
  const name = `it-${RUN_ID}-${++breakerCount}`;
  const settings: RedisCircuitBreakerOptions = {
    window: { kind: 'consecutive' },
    failureCount: 1,
    halfOpenAfterMs: 60_000,
    ...options,
    name,
  };
  return [redisCircuitBreaker(first, settings), redisCircuitBreaker(second, settings)] as const;
}

const boom = (): never => {
  throw new Error('boom');
};

function eventsOf(breaker: { onEvent(listener: (event: ResilienceEvent) => void): () => void }) {
  const seen: ResilienceEvent[] = [];
  breaker.onEvent((event) => seen.push(event));
  return seen;
}

describe('redisCircuitBreaker across instances', () => {
  it('opens for every instance, and the other learns of it on its next call (circuit.observed)', async () => {
    const [a, b] = pair();
    await expect(b.execute(() => 'ok')).resolves.toBe('ok');
    const seenByB = eventsOf(b);
    await expect(a.execute(boom)).rejects.toThrow('boom');
    expect(a.state).toBe('open');
    await expect(b.execute(() => 'never')).rejects.toBeInstanceOf(CircuitOpenError);
    expect(b.state).toBe('open');
    expect(seenByB.filter((event) => event.type === 'circuit.observed')).toMatchObject([
      { from: 'closed', to: 'open', policyName: a.name },
    ]);
    // The transition was b's to observe, not to make.
    expect(seenByB.some((event) => event.type === 'circuit.transitioned')).toBe(false);
  });

  it('isolate and reset hold for every instance', async () => {
    const [a, b] = pair();
    const handle = await a.isolate();
    await expect(b.execute(() => 'never')).rejects.toBeInstanceOf(CircuitOpenError);
    expect(await b.getState()).toBe('isolated');
    await handle.dispose();
    await expect(b.execute(() => 'ok')).resolves.toBe('ok');
    await expect(b.execute(boom)).rejects.toThrow('boom');
    await a.reset();
    await expect(b.execute(() => 'ok')).resolves.toBe('ok');
  });

  it('grants permittedHalfOpenCalls probes in total across instances', async () => {
    const [a, b] = pair({ halfOpenAfterMs: 1, permittedHalfOpenCalls: 2, maxHalfOpenWaitMs: 60_000 });
    await expect(a.execute(boom)).rejects.toThrow('boom');
    await waitUntil('the open time ended', async () => (await a.getMetrics()).retryAfterMs === 0);
    // Interleaving: a's probe and b's probe are admitted and hold; a third call from either
    // instance arrives while both are in flight and is refused.
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const probeA = a.execute(() => gate.then(() => 'a'));
    const probeB = b.execute(() => gate.then(() => 'b'));
    await waitUntil(
      'both probes are admitted',
      async () => (await a.getMetrics()).retryAfterMs !== undefined,
    );
    await expect(a.execute(() => 'third')).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(b.execute(() => 'third')).rejects.toBeInstanceOf(CircuitOpenError);
    release();
    await expect(Promise.all([probeA, probeB])).resolves.toEqual(['a', 'b']);
    expect(await b.getState()).toBe('closed');
  });

  it('with subscribe: true, an idle instance learns of each transition through pub/sub', async () => {
    const [a] = pair();
    const b = redisCircuitBreaker(second, {
      name: a.name,
      window: { kind: 'consecutive' },
      failureCount: 1,
      halfOpenAfterMs: 60_000,
      subscribe: true,
    });
    const seenByB = eventsOf(b);
    // The subscription is live once a message published after it arrives.
    await waitUntil('b listens', async () => {
      await a.reset();
      await a.execute(boom).catch(() => undefined);
      return seenByB.some((event) => event.type === 'circuit.observed');
    });
    const latenciesMs: number[] = [];
    for (let round = 0; round < 5; round++) {
      await a.reset();
      await waitUntil('b saw the reset', () => b.state === 'closed');
      const before = seenByB.length;
      const startedMs = performance.now();
      await a.execute(boom).catch(() => undefined);
      await waitUntil('b saw the open', () => seenByB.length > before && b.state === 'open', {
        intervalMs: 1,
      });
      latenciesMs.push(performance.now() - startedMs);
      expect(seenByB.at(-1)).toMatchObject({
        type: 'circuit.observed',
        from: 'closed',
        to: 'open',
        reason: 'failure-count',
      });
    }
    latenciesMs.sort((x, y) => x - y);
    // The median, from a's call to b's event, includes a's own round-trip.
    expect(latenciesMs[2]).toBeLessThan(50);
    await b.close();
  });

  it("onBackendFailure: 'reject' fails calls with BackendUnavailableError, 'allow' runs them", async () => {
    const down = server.connect({ lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    down.disconnect();
    const name = `it-${RUN_ID}-down`;
    const rejecting = redisCircuitBreaker(down, { name, commandTimeoutMs: 200 });
    const events = eventsOf(rejecting);
    await expect(rejecting.execute(() => 'never')).rejects.toBeInstanceOf(BackendUnavailableError);
    expect(events.map((event) => event.type)).toContain('backend.failed');
    const allowing = redisCircuitBreaker(down, { name, commandTimeoutMs: 200, onBackendFailure: 'allow' });
    await expect(allowing.execute(() => 'ran')).resolves.toBe('ran');
    const local = redisCircuitBreaker(down, {
      name,
      commandTimeoutMs: 200,
      onBackendFailure: 'local',
      window: { kind: 'consecutive' },
      failureCount: 1,
    });
    await expect(local.execute(boom)).rejects.toThrow('boom');
    await expect(local.execute(() => 'never')).rejects.toBeInstanceOf(CircuitOpenError);
  });
});
