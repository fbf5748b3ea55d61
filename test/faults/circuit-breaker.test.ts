/**
 * The Redis circuit breaker across 4 processes (fixtures/breaker-caller.ts, each with several
 * callers) that call one failing downstream: the breaker opens for all; when the open time ends,
 * exactly `permittedHalfOpenCalls` probes run cluster-wide (the downstream holds them, so any
 * extra admission would show); once the downstream heals, the probes close the breaker and every
 * process closes. On a single Redis and on a 3-master Cluster.
 *
 * Bounds come from the configured values (call interval, open time), never from machine speed;
 * `waitUntil` only guards against a hang.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { redisCircuitBreaker } from '@hyx/distributed';

import { startCluster, startRedis } from '../support/redis-harness.js';
import { waitUntil } from '../support/wait-until.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/breaker-caller.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const PROCESSES = 4;
const CALLERS_PER_PROCESS = 3;
const PERMITTED = 3;
const CALL_INTERVAL_MS = 10;
/** Long enough that every process sees the breaker open before it half-opens. */
const OPEN_MS = 2_000;
/** How long the probe count must stay put: many call intervals of every caller. */
const QUIET_MS = 50 * CALL_INTERVAL_MS;
const DOWNSTREAM_KEY = 'downstream:{breaker-faults}';

interface StateReport {
  readonly type: 'state';
  readonly id: string;
  readonly state: string;
}

interface Deployment {
  readonly topology: 'single' | 'cluster';
  readonly ports: readonly number[];
  readonly client: Redis | Cluster;
  readonly stop: () => Promise<void>;
}

function describeBreakerProcesses(label: string, deploy: () => Promise<Deployment>): void {
  describe(label, () => {
    let deployment: Deployment;
    const children: ChildProcess[] = [];

    beforeAll(async () => {
      deployment = await deploy();
    });

    afterAll(async () => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      await deployment.stop();
    });

    it('opens for all, grants exactly permittedHalfOpenCalls probes cluster-wide, closes for all', async () => {
      const { client } = deployment;
      const name = `faults-${process.pid}-${deployment.topology}`;
      await client.del(DOWNSTREAM_KEY);
      await client.hset(DOWNSTREAM_KEY, 'mode', 'healthy', 'started', 0);
      const latest = new Map<string, string>();
      for (let index = 0; index < PROCESSES; index++) {
        const child = fork(FIXTURE, [], {
          cwd: ROOT,
          execArgv: ['--conditions=source', '--import', 'tsx'],
          env: {
            ...process.env,
            CALLER_ID: `caller-${index}`,
            REDIS_PORTS: deployment.ports.join(','),
            TOPOLOGY: deployment.topology,
            CALLERS: String(CALLERS_PER_PROCESS),
            CALL_INTERVAL_MS: String(CALL_INTERVAL_MS),
            DOWNSTREAM_KEY,
            BREAKER_NAME: name,
            OPEN_MS: String(OPEN_MS),
            PERMITTED: String(PERMITTED),
          },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        child.on('message', (message: StateReport) => {
          latest.set(message.id, message.state);
        });
        children.push(child);
      }
      const everyone = (state: string): boolean =>
        latest.size === PROCESSES && [...latest.values()].every((seen) => seen === state);
      // The parent's own instance of the breaker, to look at the shared circuit.
      const observer = redisCircuitBreaker(client, { name, window: { kind: 'consecutive' } });

      // Every process runs its callers before the downstream fails, so the open reaches all of
      // them within a few call intervals, far within the open time.
      await waitUntil('every process calls through a closed breaker', () => everyone('closed'));

      // 1. The downstream fails: the breaker opens for every process.
      await client.hset(DOWNSTREAM_KEY, 'mode', 'failing');
      await waitUntil('every process sees the breaker open', () => everyone('open'));
      await client.hset(DOWNSTREAM_KEY, 'mode', 'gated');
      const metrics = await observer.getMetrics();
      // Gated before the open time ended: no call ran since the failures.
      expect(metrics.state).toBe('open');
      expect(metrics.retryAfterMs).toBeGreaterThan(0);

      // 2. The open time ends: probes are admitted and held by the gated downstream.
      await waitUntil('the probes are running', async () =>
        Number(await client.hget(DOWNSTREAM_KEY, 'started')) >= PERMITTED ? true : undefined,
      );
      await delay(QUIET_MS);
      expect(Number(await client.hget(DOWNSTREAM_KEY, 'started'))).toBe(PERMITTED);
      expect(await observer.getState()).toBe('half-open');

      // 3. The downstream heals: the probes succeed, the breaker closes for every process.
      await client.hset(DOWNSTREAM_KEY, 'mode', 'healthy');
      await waitUntil('every process sees the breaker closed', () => everyone('closed'));
      expect(await observer.getState()).toBe('closed');

      for (const child of children) child.send({ type: 'stop' });
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null) resolve();
              else
                child.once('exit', () => {
                  resolve();
                });
            }),
        ),
      );
    });
  });
}

describeBreakerProcesses('redisCircuitBreaker with 4 processes on a single Redis', async () => {
  const server = await startRedis();
  return { topology: 'single', ports: [server.port], client: server.connect(), stop: () => server.stop() };
});

describeBreakerProcesses('redisCircuitBreaker with 4 processes on a 3-master Cluster', async () => {
  const cluster = await startCluster();
  return {
    topology: 'cluster',
    ports: cluster.nodes.map((node) => node.port),
    client: cluster.connect(),
    stop: () => cluster.stop(),
  };
});
