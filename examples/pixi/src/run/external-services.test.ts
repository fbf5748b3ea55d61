/**
 * Pixi on services someone else started, as docker compose runs it: the inventory and the gateways
 * are started here the way their containers start them (the entry files, configured by the
 * environment alone, on fixed ports, bound to every interface, no IPC parent), then the CLI runs
 * the scenario against them with `--inventory-url` and `--gateway-urls`. Redis is the test
 * harness's own (never the machine's).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startRedis, type RedisServer } from '../../../../test/support/redis-harness.js';
import type { PixiReport, Verdict } from '../report/analyze.js';
import { startExternalServices } from './services.js';

const SRC = fileURLToPath(new URL('../', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const FROM_SOURCE = ['--conditions=source', '--import', 'tsx'];
/** A bound against a hang: the scenario itself lasts `--duration`. */
const RUN_TIMEOUT_MS = 150_000;
/** The same for every service, as docker-compose.yml sets it. */
const RUN_ID = 'external-services-test';

/** A service process started as its container would be, and how it ended. */
interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  output: string;
  exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
}

/** Distinct free loopback ports, held together then released (the services bind them next). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => {
            resolve(server);
          });
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function startService(name: string, entry: string, port: number, env: Record<string, string>): Service {
  const child = spawn(process.execPath, [...FROM_SOURCE, path.join(SRC, entry)], {
    cwd: REPO_ROOT,
    env: { ...process.env, PIXI_HOST: '0.0.0.0', PIXI_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const service: Service = { name, child, url: `http://127.0.0.1:${port}`, output: '', exit: undefined };
  const keep = (chunk: Buffer): void => {
    service.output += chunk.toString();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.once('exit', (code, signal) => {
    service.exit = { code, signal };
  });
  return service;
}

function stopService(service: Service): Promise<void> {
  const { child } = service;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

interface CliRun {
  readonly exitCode: number | null;
  readonly output: string;
}

function runCli(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...FROM_SOURCE, path.join(SRC, 'main.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output += chunk.toString();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, output });
    });
  });
}

/** Every invariant and phase check that failed, as "name: detail". */
function failures(report: PixiReport): string[] {
  const failed = (verdict: Verdict): boolean => !verdict.holds;
  return [
    ...report.invariants.filter(failed).map((verdict) => `${verdict.name}: ${verdict.detail}`),
    ...report.phases.flatMap((phase) =>
      phase.checks.filter(failed).map((check) => `${phase.name}: ${check.name}: ${check.detail}`),
    ),
  ];
}

describe('pixi on services started elsewhere (as docker compose runs it)', () => {
  let redis: RedisServer;
  let scratch: string;
  let inventory: Service;
  let gateways: Service[];

  beforeAll(async () => {
    redis = await startRedis();
    scratch = mkdtempSync(path.join(os.tmpdir(), 'pixi-external-'));
    const [inventoryPort = 0, ...gatewayPorts] = await freePorts(3);
    inventory = startService('inventory', 'inventory/inventory-main.ts', inventoryPort, {});
    gateways = gatewayPorts.map((port, index) =>
      startService(`gw-${index + 1}`, 'gateway/gateway-main.ts', port, {
        PIXI_INSTANCE: `gw-${index + 1}`,
        PIXI_REDIS_URL: `redis://127.0.0.1:${redis.port}`,
        PIXI_INVENTORY_URL: inventory.url,
        PIXI_RUN_ID: RUN_ID,
      }),
    );
  });

  afterAll(async () => {
    await Promise.all([inventory, ...gateways].map(stopService));
    await redis.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('waits for the services, and refuses a gateway list out of order, naming the gateway', async () => {
    const [first, second] = gateways.map((gateway) => gateway.url);
    await expect(startExternalServices(inventory.url, [second ?? '', first ?? ''])).rejects.toThrow(
      `the gateway at ${second} is "gw-2", but its place in the list makes it gw-1 (set its PIXI_INSTANCE to gw-1)`,
    );
    const services = await startExternalServices(inventory.url, [first ?? '', second ?? '']);
    expect(services.gateways.map(({ name, url, isAlive }) => ({ name, url, isAlive }))).toEqual([
      { name: 'gw-1', url: first, isAlive: true },
      { name: 'gw-2', url: second, isAlive: true },
    ]);
    // Stopping starts nothing and ends nothing: the services are someone else's.
    await services.stop();
    expect(gateways.map((gateway) => gateway.exit)).toEqual([undefined, undefined]);
  }, 90_000);

  it('gives up on a service that never answers, naming it, within the bound', async () => {
    const [nobody = 0] = await freePorts(1);
    await expect(startExternalServices(inventory.url, [`http://127.0.0.1:${nobody}`], 1_500)).rejects.toThrow(
      `gateway gw-1 did not answer GET http://127.0.0.1:${nobody}/pixi/state within 1500 ms`,
    );
  });

  it(
    'runs the scenario on them: every invariant holds, and the leader crash killed one gateway',
    async () => {
      const reportPath = path.join(scratch, 'pixi-report.json');
      const run = await runCli([
        '--inventory-url',
        inventory.url,
        '--gateway-urls',
        gateways.map((gateway) => gateway.url).join(','),
        '--redis-url',
        `redis://127.0.0.1:${redis.port}`,
        '--duration',
        '30',
        '--no-dashboard',
        '--report',
        reportPath,
      ]);
      const logs = [run.output, ...[inventory, ...gateways].map((s) => `--- ${s.name}\n${s.output}`)].join(
        '\n',
      );
      const report = JSON.parse(readFileSync(reportPath, 'utf8')) as PixiReport;
      expect(failures(report), logs).toEqual([]);
      expect(run.exitCode, logs).toBe(0);
      expect(report.mode).toBe('redis');
      expect(report.instances).toEqual(['gw-1', 'gw-2']);
      expect(run.output).toContain(`Redis: redis://127.0.0.1:${redis.port}`);
      expect(run.output).toContain(
        `inventory at ${inventory.url}; gateways: gw-1 ${gateways[0]?.url}, gw-2 ${gateways[1]?.url}`,
      );
      // The leader killed itself the hard way; the other gateway and the inventory still run.
      const ended = gateways.filter((gateway) => gateway.exit !== undefined);
      expect(
        ended.map((gateway) => gateway.exit),
        logs,
      ).toEqual([{ code: null, signal: 'SIGKILL' }]);
      expect(inventory.exit).toBeUndefined();
      const takeover = report.phases
        .find((phase) => phase.name === 'leader-crash')
        ?.checks.find((check) => check.name === 'another instance took over the leadership');
      expect(takeover?.holds, logs).toBe(true);
      expect(takeover?.detail).toContain(`${ended[0]?.name} killed at`);
    },
    RUN_TIMEOUT_MS + 10_000,
  );
});
