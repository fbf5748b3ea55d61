/**
 * The Redis circuit breaker between instances: two breakers with the same name on two
 * connections stand for two processes. One circuit, one generation, probes counted for both;
 * each learns of the other's transitions on its next call, or through pub/sub without traffic.
 */
import { performance } from 'node:perf_hooks';

import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { leaderElection, redisCircuitBreaker, type RedisCircuitBreakerOptions } from '@hyx/distributed';
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
    // From a's call to b's event, a's own round-trips included. The fastest of five rounds: a
    // loaded machine may delay any one of them, the mechanism's own latency shows in the best.
    expect(latenciesMs[0]).toBeLessThan(50);
    await b.close();
  });

  it('with recoveryLeaseMs, only the lease holder runs health checks, and its verdict holds for all', async () => {
    const name = `it-${RUN_ID}-recovery`;
    let isHealthy = false;
    const checks = { a: 0, b: 0 };
    const make = (client: Redis, who: 'a' | 'b') =>
      redisCircuitBreaker(client, {
        name,
        window: { kind: 'consecutive' },
        failureCount: 1,
        halfOpenAfterMs: 100,
        // Without the lease, both processes would probe: the slots allow three at once.
        permittedHalfOpenCalls: 3,
        maxHalfOpenWaitMs: 1_000,
        recoveryLeaseMs: 5_000,
        healthCheck: () => {
          checks[who]++;
          if (!isHealthy) throw new Error('still down');
        },
      });
    const a = make(first, 'a');
    const b = make(second, 'b');
    await expect(a.execute(boom)).rejects.toThrow('boom');
    // b learns of the open on its next call, and plans its own health check.
    await expect(b.execute(() => 'never')).rejects.toBeInstanceOf(CircuitOpenError);
    await waitUntil('a few health checks failed', () => checks.a + checks.b >= 6);
    isHealthy = true;
    await waitUntil('the breaker closed for both', async () => {
      await Promise.all([a.execute(() => 'ok'), b.execute(() => 'ok')]).catch(() => undefined);
      return a.state === 'closed' && b.state === 'closed';
    });
    // One process held the lease the whole time (it is renewed while held, far within 5 s).
    expect(Math.min(checks.a, checks.b)).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });

  it('with recoveryLeader, only the elected leader runs health checks, and its successor takes over', async () => {
    const name = `it-${RUN_ID}-elected`;
    let isHealthy = false;
    const checks = { a: 0, b: 0 };
    const elections = {
      a: leaderElection({ redis: first, name: `${name}-leader`, leaseMs: 1_000 }),
      b: leaderElection({ redis: second, name: `${name}-leader`, leaseMs: 1_000 }),
    };
    const stepDown = { a: new AbortController(), b: new AbortController() };
    const campaign = (who: 'a' | 'b') =>
      elections[who]
        .runWhileLeader(
          ({ signal }) =>
            new Promise((resolve) => {
              signal.addEventListener('abort', resolve);
            }),
          {
            signal: stepDown[who].signal,
          },
        )
        .catch(() => undefined);
    const campaigns = [campaign('a')];
    await waitUntil('a leads', () => elections.a.isLeader);
    campaigns.push(campaign('b'));
    const make = (client: Redis, who: 'a' | 'b') =>
      redisCircuitBreaker(client, {
        name,
        window: { kind: 'consecutive' },
        failureCount: 1,
        halfOpenAfterMs: 100,
        permittedHalfOpenCalls: 3,
        maxHalfOpenWaitMs: 1_000,
        recoveryLeader: elections[who],
        healthCheck: () => {
          checks[who]++;
          if (!isHealthy) throw new Error('still down');
        },
      });
    const a = make(first, 'a');
    const b = make(second, 'b');
    await expect(a.execute(boom)).rejects.toThrow('boom');
    await expect(b.execute(() => 'never')).rejects.toBeInstanceOf(CircuitOpenError);
    await waitUntil('the leader ran a few health checks', () => checks.a >= 3);
    expect(checks.b).toBe(0);
    stepDown.a.abort();
    await waitUntil('b leads', () => elections.b.isLeader);
    const checksOfA = checks.a;
    await waitUntil('the new leader ran a health check', () => checks.b >= 1);
    isHealthy = true;
    await waitUntil('the breaker closed for both', async () => {
      await Promise.all([a.execute(() => 'ok'), b.execute(() => 'ok')]).catch(() => undefined);
      return a.state === 'closed' && b.state === 'closed';
    });
    // a gave up leading; any check of its after that would have been a second prober.
    expect(checks.a).toBe(checksOfA);
    stepDown.b.abort();
    await Promise.all(campaigns);
    await Promise.all([a.close(), b.close()]);
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
