/**
 * Fairness of the Redis bulkhead across real processes: two processes (fixtures/bulkhead-looper.ts)
 * share one permit and each runs one caller that loops on it. A caller that loops sends its next
 * acquire right behind its release, on the same connection, before the other process has even
 * heard of the release; without the waiting set in Redis it won nearly every race (1,296 calls
 * against 1 in 2 s, 5,514 against 3 with usesPerLease 32). Now a process whose caller waits is
 * owed the next free permit, so the two take turns: each makes close to half the calls. The
 * bound (neither below a quarter) does not depend on this machine's speed: turns alternate, one
 * call per turn, or up to usesPerLease calls with a kept lease.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCluster, startRedis } from '../support/redis-harness.js';
import { waitUntil } from '../support/wait-until.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/bulkhead-looper.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LOOP_MS = 2_000;

interface LooperReport {
  readonly type: 'ready' | 'looped';
  readonly id: string;
  readonly name?: string;
  readonly calls?: number;
  readonly errors?: number;
}

class Loopers {
  readonly reports: LooperReport[] = [];
  readonly #children: ChildProcess[] = [];

  constructor(topology: 'single' | 'cluster', ports: readonly number[], usesPerLease: number) {
    for (const id of ['looper-0', 'looper-1']) {
      const child = fork(FIXTURE, [], {
        cwd: ROOT,
        execArgv: ['--conditions=source', '--import', 'tsx'],
        env: {
          ...process.env,
          LOOPER_ID: id,
          TOPOLOGY: topology,
          REDIS_PORTS: ports.join(','),
          USES_PER_LEASE: String(usesPerLease),
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (message) => {
        this.reports.push(message as LooperReport);
      });
      this.#children.push(child);
    }
  }

  async ready(): Promise<void> {
    await waitUntil('both loopers are ready', () =>
      this.#children.every((_, index) =>
        this.reports.some((report) => report.type === 'ready' && report.id === `looper-${index}`),
      ),
    );
  }

  /** Both loop on bulkhead `name` for LOOP_MS from the same instant; resolves with their reports. */
  async loop(name: string): Promise<LooperReport[]> {
    const startAtMs = Date.now() + 200;
    for (const child of this.#children)
      child.send({ type: 'loop', name, startAtMs, endAtMs: startAtMs + LOOP_MS });
    return waitUntil(
      `both loopers finished ${name}`,
      () => {
        const done = this.reports.filter((report) => report.type === 'looped' && report.name === name);
        return done.length === this.#children.length ? done : undefined;
      },
      { timeoutMs: LOOP_MS + 30_000 },
    );
  }

  stop(): void {
    for (const child of this.#children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}

describe.each(['single', 'cluster'] as const)(
  'redisBulkhead fairness: 2 processes, 1 permit, 1 looping caller each (%s)',
  (topology) => {
    let ports: number[];
    let stopRedis: () => Promise<void>;

    beforeAll(async () => {
      if (topology === 'single') {
        const server = await startRedis();
        ports = [server.port];
        stopRedis = () => server.stop();
      } else {
        const cluster = await startCluster();
        ports = cluster.nodes.map((node) => node.port);
        stopRedis = () => cluster.stop();
      }
    });
    afterAll(async () => {
      await stopRedis();
    });

    it.each([
      ['one lease per call', 1],
      ['usesPerLease 32', 32],
    ])('lets each process make at least a quarter of the calls (%s)', async (_, usesPerLease) => {
      const loopers = new Loopers(topology, ports, usesPerLease);
      try {
        await loopers.ready();
        const reports = await loopers.loop(`fairness-${topology}-${usesPerLease}`);
        const calls = reports.map((report) => report.calls ?? 0);
        const total = calls[0]! + calls[1]!;
        for (const report of reports) expect(report.errors).toBe(0);
        expect(total).toBeGreaterThan(0);
        for (const count of calls) expect(count).toBeGreaterThanOrEqual(total / 4);
      } finally {
        loopers.stop();
      }
    });
  },
);
