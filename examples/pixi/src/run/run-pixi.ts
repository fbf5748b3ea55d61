/**
 * One run of Pixi: find Redis (or go in-process), start the inventory and the gateways, drive the
 * scenario's phases with real HTTP traffic while collecting every record, serve the live
 * dashboard, and judge the run. Everything started is stopped, whatever happens.
 */
import { randomBytes } from 'node:crypto';

import { startDashboard, type RunningDashboard } from '../dashboard/dashboard-server.js';
import type { DashboardState } from '../dashboard/dashboard-state.js';
import { buildDashboardState } from '../dashboard/timeline.js';
import type { InventoryBehaviour, InventoryStats } from '../inventory/inventory-app.js';
import type { KillRecord } from '../records.js';
import { analyze, type PixiReport } from '../report/analyze.js';
import { PIXI_SETTINGS } from '../settings.js';
import type { PhaseProgress } from '../terminal/progress.js';
import { Collector } from './collector.js';
import { LoadGenerator } from './load-generator.js';
import { provisionRedis } from './redis-provision.js';
import { schedule, type PhaseName, type ScheduledPhase } from './scenario.js';
import {
  startExternalServices,
  startInProcessServices,
  startProcessServices,
  type GatewayInstance,
  type Services,
} from './services.js';

/** How a run goes. */
export interface RunOptions {
  readonly instances: number;
  readonly durationMs: number;
  readonly phases: readonly PhaseName[];
  /** A Redis to use; otherwise a private one from PATH, otherwise in-process. */
  readonly redisUrl: string | undefined;
  /** Serve the live dashboard (on `dashboardPort`, 0 for any free port). */
  readonly dashboard: boolean;
  readonly dashboardPort: number;
  /** @defaultValue `'127.0.0.1'` */
  readonly dashboardHost?: string | undefined;
  /**
   * Services started by someone else (docker compose), all on the Redis at `redisUrl`: the run
   * starts no process and no Redis, and leaves them running (bar the crashed leader).
   */
  readonly external?: { readonly inventoryUrl: string; readonly gatewayUrls: readonly string[] } | undefined;
  /** Where lines for the user go. */
  readonly say: (line: string) => void;
  readonly progress: PhaseProgress | undefined;
  /** How long the dashboard keeps showing the final state after `onReport`, in ms. */
  readonly dashboardLingerMs?: number | undefined;
  /** Aborting it ends the run early (Ctrl-C): everything started is stopped, and the run rejects. */
  readonly signal?: AbortSignal | undefined;
  /** Called with the report as soon as it is ready, before anything is stopped. */
  readonly onReport?: ((report: PixiReport) => void) | undefined;
  /** Called with the dashboard's address once it serves (tests open it). */
  readonly onDashboard?: ((url: string) => void) | undefined;
}

const PROGRESS_INTERVAL_MS = 250;

/** Waits `ms`, or less when `signal` aborts (the caller checks it afterwards). */
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });

async function setInventory(inventoryUrl: string, behaviour: InventoryBehaviour): Promise<void> {
  const response = await fetch(`${inventoryUrl}/control`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(behaviour),
  });
  if (!response.ok)
    throw new Error(`inventory refused ${JSON.stringify(behaviour)}: ${await response.text()}`);
}

async function findLeader(gateways: readonly GatewayInstance[]): Promise<GatewayInstance | undefined> {
  for (const gateway of gateways.filter((candidate) => candidate.isAlive)) {
    const state = (await fetch(`${gateway.url}/pixi/state`)
      .then((response) => response.json())
      .catch(() => undefined)) as { isLeader?: boolean } | undefined;
    if (state?.isLeader === true) return gateway;
  }
  return undefined;
}

/** The API key of the warm-up requests: its own limit, so the scenario's keys start untouched. */
const WARM_UP_KEY = 'pixi-warm-up';

/**
 * Before the clock starts: a few requests through every gateway (first calls load scripts into
 * Redis, open connections and compile code, which would pass for the scenario's effects), and a
 * recovery leader elected.
 */
async function warmUp(gateways: readonly GatewayInstance[], leaseMs: number): Promise<void> {
  for (const gateway of gateways) {
    for (let round = 0; round < 5; round++) {
      await fetch(`${gateway.url}/stock/sku-${round + 1}`, { headers: { 'x-api-key': WARM_UP_KEY } })
        .then((response) => response.arrayBuffer())
        .catch(() => undefined);
    }
  }
  const deadline = Date.now() + leaseMs * 3;
  while (Date.now() < deadline && (await findLeader(gateways)) === undefined) await sleep(100);
}

/** Runs Pixi once and returns its report. */
export async function runPixi(options: RunOptions): Promise<PixiReport> {
  const settings = PIXI_SETTINGS;
  const { say } = options;
  const provision = await provisionRedis(options.redisUrl);
  const { external } = options;
  if (external !== undefined && (provision.mode !== 'redis' || provision.origin !== 'given'))
    throw new Error('services started elsewhere need the URL of the Redis they share (--redis-url)');
  if (provision.mode === 'in-process') {
    say(
      `In-process mode (${provision.reason}): every instance runs in this process on local policies. ` +
        'For the distributed mode, put redis-server on PATH (apt-get install redis-server, brew install redis) or set REDIS_URL.',
    );
  } else {
    say(
      `Redis: ${provision.origin === 'private' ? `a private redis-server at ${provision.url}` : provision.url}`,
    );
  }
  const runId = randomBytes(4).toString('hex');
  const phases = schedule(options.phases, options.durationMs, settings);
  let services: Services | undefined;
  let dashboard: RunningDashboard | undefined;
  let collector: Collector | undefined;
  let load: LoadGenerator | undefined;
  // What the dashboard shows: nothing yet until the run starts.
  let view: (() => DashboardState) | undefined;
  const startedMs = Date.now();
  const beforeTheRun = (): DashboardState =>
    buildDashboardState({
      mode: provision.mode,
      instances: [],
      phases,
      runStartMs: startedMs,
      nowMs: startedMs,
      finished: false,
      settings,
      gatewayRecords: [],
      calls: [],
      probes: [],
      kills: [],
    });
  // Stops what the run started, once, whichever way it ends.
  let isStopped = false;
  const stopServices = async (): Promise<void> => {
    if (isStopped) return;
    isStopped = true;
    await load?.stop();
    await collector?.stop();
    await services?.stop();
    if (provision.mode === 'redis') await provision.stop();
  };
  try {
    if (options.dashboard) {
      // First: a port that is taken fails the run before anything else starts.
      dashboard = await startDashboard({
        host: options.dashboardHost,
        port: options.dashboardPort,
        getState: () => (view ?? beforeTheRun)(),
      }).catch((error: unknown) => {
        const detail = error instanceof Error ? error.message : String(error);
        throw new Error(
          `the dashboard cannot listen on --dashboard-port ${options.dashboardPort}: ${detail}`,
        );
      });
      say(`Live dashboard: ${dashboard.url}`);
      options.onDashboard?.(dashboard.url);
    }
    services =
      external !== undefined
        ? await startExternalServices(external.inventoryUrl, external.gatewayUrls)
        : provision.mode === 'redis'
          ? await startProcessServices(options.instances, provision.url, runId)
          : await startInProcessServices(options.instances, settings);
    const { gateways, inventoryUrl } = services;
    say(
      `inventory at ${inventoryUrl}; gateways: ${gateways.map((gateway) => `${gateway.name} ${gateway.url}`).join(', ')}`,
    );
    await warmUp(gateways, settings.leaderLeaseMs);
    collector = new Collector(gateways);
    load = new LoadGenerator(gateways, settings);
    const kills: KillRecord[] = [];
    let inventoryStats: InventoryStats = { stockCalls: 0, maxConcurrentStockCalls: 0, probes: [] };
    const runStartMs = Date.now();
    const final: { state?: DashboardState } = {};
    const instances = gateways.map((gateway) => gateway.name);
    view = (): DashboardState =>
      final.state ??
      buildDashboardState({
        mode: provision.mode,
        instances,
        phases,
        runStartMs,
        nowMs: Date.now(),
        finished: false,
        settings,
        gatewayRecords: collector?.records ?? [],
        calls: load?.calls ?? [],
        probes: inventoryStats.probes,
        kills,
      });
    const refreshInventoryStats = async (): Promise<void> => {
      const response = await fetch(`${inventoryUrl}/stats`).catch(() => undefined);
      if (response?.ok === true) inventoryStats = (await response.json()) as InventoryStats;
    };

    collector.start();
    load.start();
    for (const phase of phases)
      await runPhase(phase, { services, load, collector, kills, runStartMs, options, refreshInventoryStats });
    await load.stop();
    await collector.stop();
    await refreshInventoryStats();
    const runEndMs = Date.now();
    const report = analyze({
      mode: provision.mode,
      settings,
      instances,
      runStartMs,
      runEndMs,
      phases,
      gatewayRecords: collector.records,
      calls: load.calls,
      inventoryProbes: inventoryStats.probes,
      kills,
    });
    final.state = buildDashboardState({
      mode: provision.mode,
      instances,
      phases,
      runStartMs,
      nowMs: runEndMs,
      finished: true,
      settings,
      gatewayRecords: collector.records,
      calls: load.calls,
      probes: inventoryStats.probes,
      kills,
      invariants: report.invariants,
      phaseChecks: report.phases.flatMap((phase) =>
        phase.checks.map((check) => ({ ...check, name: `${phase.name}: ${check.name}` })),
      ),
    });
    options.onReport?.(report);
    // The dashboard shows the final state from memory: nothing else needs to run meanwhile.
    await stopServices();
    const lingerMs = options.dashboardLingerMs ?? 0;
    if (dashboard !== undefined && lingerMs > 0) {
      say(`The dashboard shows the verdicts for ${lingerMs / 1000} s more (Ctrl-C to leave now).`);
      await sleep(lingerMs, options.signal);
    }
    return report;
  } finally {
    await dashboard?.close();
    await stopServices();
  }
}

interface PhaseContext {
  readonly services: Services;
  readonly load: LoadGenerator;
  readonly collector: Collector;
  readonly kills: KillRecord[];
  readonly runStartMs: number;
  readonly options: RunOptions;
  readonly refreshInventoryStats: () => Promise<void>;
}

async function runPhase(phase: ScheduledPhase, context: PhaseContext): Promise<void> {
  const { services, load, collector, kills, runStartMs, options } = context;
  load.setRate(phase.ratePerSecond);
  const lengthMs = phase.endMs - phase.startMs;
  const pending = [...phase.actions].sort((a, b) => a.at - b.at);
  let status = `${Math.round(phase.ratePerSecond)} req/s`;
  for (;;) {
    const elapsedMs = Date.now() - runStartMs - phase.startMs;
    while (pending.length > 0 && (pending[0]?.at ?? 1) * lengthMs <= elapsedMs) {
      const action = pending.shift();
      if (action?.action === 'inventory' && action.behaviour !== undefined) {
        await setInventory(services.inventoryUrl, action.behaviour);
        status = `${Math.round(phase.ratePerSecond)} req/s, inventory ${action.behaviour.errorRate > 0 ? 'failing' : 'healthy'}`;
      } else if (action?.action === 'crash-leader') {
        const leader = await findLeader(services.gateways);
        if (leader === undefined) {
          status = 'no leader to kill';
          continue;
        }
        // Its records up to now first: a killed process cannot be asked afterwards.
        await collector.poll(leader);
        kills.push({ instance: leader.name, atMs: Date.now() });
        await leader.crash();
        status = `killed the recovery leader ${leader.name}`;
      }
    }
    options.progress?.update(phase.name, Math.min(1, elapsedMs / lengthMs), status);
    if (elapsedMs >= lengthMs) break;
    await context.refreshInventoryStats();
    await sleep(Math.min(PROGRESS_INTERVAL_MS, lengthMs - elapsedMs), options.signal);
    options.signal?.throwIfAborted();
  }
}
