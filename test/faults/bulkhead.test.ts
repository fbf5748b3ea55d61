/**
 * The Redis bulkhead across 4 real processes (fixtures/bulkhead-holder.ts) sharing a limit of 10:
 * an independent gauge (a Redis hash the calls enter and leave while they hold their permit) never
 * counts more than 10 holders, and a SIGKILLed process holding 5 permits gives them back within
 * leaseMs + renewMs. Every bound derives from leaseMs and renewMs: the dead process's leases lapse
 * at most leaseMs after its last renewal (which was less than renewMs before the kill), and
 * waiters ask again when the earliest lease lapses.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCluster, startRedis } from '../support/redis-harness.js';
import { waitUntil } from '../support/wait-until.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/bulkhead-holder.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GAUGE_KEY = 'gauge:{bulkhead-faults}';

const maxConcurrent = 10;
/**
 * A live holder's renewal may be late by up to leaseMs - renewMs before its permits lapse under it,
 * and the dead holder's permits lapse leaseMs - renewMs to leaseMs after the kill, leaving renewMs
 * for the waiters' wake-up and acquire on a loaded machine.
 */
const leaseMs = 2_000;
const renewMs = 500;

interface HolderReport {
  readonly type: 'ready' | 'entered' | 'churned';
  readonly id: string;
  readonly atMs: number;
  readonly gauge?: number;
  readonly calls?: number;
  readonly maxGauge?: number;
  readonly errors?: number;
}

class Holders {
  readonly reports: HolderReport[] = [];
  readonly #children = new Map<string, ChildProcess>();

  constructor(topology: 'single' | 'cluster', ports: readonly number[], count: number) {
    for (let index = 0; index < count; index++) {
      const id = `holder-${index}`;
      const child = fork(FIXTURE, [], {
        cwd: ROOT,
        execArgv: ['--conditions=source', '--import', 'tsx'],
        env: {
          ...process.env,
          HOLDER_ID: id,
          TOPOLOGY: topology,
          REDIS_PORTS: ports.join(','),
          MAX_CONCURRENT: String(maxConcurrent),
          LEASE_MS: String(leaseMs),
          RENEW_MS: String(renewMs),
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (message) => {
        this.reports.push(message as HolderReport);
      });
      this.#children.set(id, child);
    }
  }

  send(id: string, message: Record<string, unknown>): void {
    this.#children.get(id)?.send(message);
  }

  entered(ids: readonly string[], sinceMs = 0): HolderReport[] {
    return this.reports.filter(
      (report) => report.type === 'entered' && ids.includes(report.id) && report.atMs >= sinceMs,
    );
  }

  async kill(id: string): Promise<void> {
    const child = this.#children.get(id);
    if (child === undefined) throw new Error(`no holder ${id}`);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  stop(): void {
    for (const child of this.#children.values()) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}

describe.each(['single', 'cluster'] as const)(
  'redisBulkhead with 4 processes sharing a limit of 10 (%s)',
  (topology) => {
    let holders: Holders;
    let admin: Redis | Cluster;
    let stopRedis: () => Promise<void>;
    const ids = ['holder-0', 'holder-1', 'holder-2', 'holder-3'];

    beforeAll(async () => {
      let ports: number[];
      if (topology === 'single') {
        const server = await startRedis();
        ports = [server.port];
        admin = server.connect();
        stopRedis = () => server.stop();
      } else {
        const cluster = await startCluster();
        ports = cluster.nodes.map((node) => node.port);
        admin = cluster.connect();
        stopRedis = () => cluster.stop();
      }
      holders = new Holders(topology, ports, ids.length);
      await waitUntil('every holder is ready', () =>
        ids.every((id) => holders.reports.some((report) => report.type === 'ready' && report.id === id)),
      );
    });
    afterAll(async () => {
      holders.stop();
      await stopRedis();
    });

    it.each([
      ['one lease per call', false],
      ['usesPerLease 8', true],
    ])(
      'never lets the gauge count more than 10 holders while 4 × 5 callers contend (%s)',
      async (_, usesPerLease) => {
        const sentAtMs = Date.now();
        for (const id of ids)
          holders.send(id, { type: 'churn', workers: 5, durationMs: 1_500, usesPerLease });
        const churned = await waitUntil('every holder has churned', () => {
          const done = holders.reports.filter(
            (report) => report.type === 'churned' && report.atMs >= sentAtMs,
          );
          return done.length === ids.length ? done : undefined;
        });
        for (const report of churned) {
          expect(report.errors).toBe(0);
          expect(report.calls).toBeGreaterThan(0);
          expect(report.maxGauge).toBeLessThanOrEqual(maxConcurrent);
        }
        expect(Number(await admin.eval("return #redis.call('HVALS', KEYS[1])", 1, GAUGE_KEY))).toBe(
          ids.length,
        );
      },
    );

    it('gives all 10 permits back within leaseMs + renewMs when a holder of 5 is SIGKILLed', async () => {
      const [victim = '', other = '', ...waiters] = ids;
      holders.send(victim, { type: 'hold', count: 5 });
      await waitUntil('the victim holds 5', () => holders.entered([victim]).length === 5);
      holders.send(other, { type: 'hold', count: 5 });
      await waitUntil('the other holds 5', () => holders.entered([other]).length === 5);
      // 10 more callers queue behind them, 5 in each remaining process.
      for (const id of waiters) holders.send(id, { type: 'hold', count: 5 });
      await new Promise((resolve) => setTimeout(resolve, renewMs));
      expect(holders.entered(waiters)).toEqual([]);

      const killedAtMs = Date.now();
      await holders.kill(victim);
      // A dead process holds nothing: take it off the gauge, then free the other's permits.
      await admin.hdel(GAUGE_KEY, victim);
      holders.send(other, { type: 'release' });

      const entered = await waitUntil('the waiters hold all 10 permits', () => {
        const reports = holders.entered(waiters, killedAtMs);
        return reports.length === maxConcurrent ? reports : undefined;
      });
      const lastEnteredAtMs = Math.max(...entered.map((report) => report.atMs));
      expect(lastEnteredAtMs - killedAtMs).toBeLessThanOrEqual(leaseMs + renewMs);
      for (const report of holders.entered(ids)) expect(report.gauge).toBeLessThanOrEqual(maxConcurrent);
      for (const id of waiters) holders.send(id, { type: 'release' });
    });
  },
);
