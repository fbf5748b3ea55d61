/**
 * Cross-process coordination on Redis: hyx's `redisBulkhead` against redis-semaphore's `Semaphore`
 * (the peer users would pick), and the cost of `redisCircuitBreaker` around a Redis call. Every
 * case runs against one private `redis-server` this script starts on a free loopback port (the
 * test harness's), never against a server that was already running. Never a pass/fail test: the
 * figures go to docs/benchmarks.md.
 *
 * Sections, in the order they run (name them on the command line to run only some):
 *
 * - `bulkhead`, acquire+release per second: 4 worker processes with 4 loops each (16 workers) take
 *   a permit and give it back as fast as they can, at a limit of 4 (16 workers contend for 4
 *   permits) and of 16 (one permit per worker). hyx: `bulkhead.execute(async () => undefined)`;
 *   the peer: `new Semaphore(...)`, `acquire()`, `release()` (its documented use; its waiters poll
 *   every 10 ms). Both with a 10 s lease.
 * - `breaker`, calls per second: `redisCircuitBreaker` (closed) around a Redis GET against the
 *   bare GET, from the same 16 workers.
 * - `crash`, recovery time: a holder process takes every permit and is killed with SIGKILL at 10 %,
 *   50 % and 90 % of a renewal period; waiters in this process measure how long until they hold
 *   every permit again, against leaseMs + renewMs (the peer's lockTimeout + refreshInterval).
 *
 * Each throughput case counts the operations that end inside a wall-clock window shared by the
 * workers, after a warm-up; the contenders of a row alternate, ROUNDS times, and each keeps its
 * median round. Per operation it also reports the commands the workers sent, the commands and CPU
 * time Redis spent (INFO), the workers' CPU time, the release notifications they received, and
 * how many permits were held in Redis on average (ZCARD of the leases, sampled): where the time
 * goes.
 *
 * Run: npm run bench:redis [-- bulkhead|breaker|crash ...] (builds first; `npm run bench` runs it
 * too, before bench/local-overhead).
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { redisBulkhead } from '@hyx/distributed';
import { Semaphore } from 'redis-semaphore';

import { startRedis, type RedisServer } from '../../test/support/redis-harness.js';
import {
  WORKER_ARGUMENT,
  type HolderCase,
  type Job,
  type Reply,
  type ThroughputCase,
  type ThroughputResult,
} from './protocol.js';
import { runWorker } from './worker.js';

const PROCESSES = 4;
const IN_FLIGHT_PER_PROCESS = 4;
const LIMITS = [4, 16] as const;
const WARM_UP_MS = 800;
const MEASURE_MS = 2_000;
const ROUNDS = 3;
const OCCUPANCY_SAMPLE_MS = 10;
const CRASH_LIMIT = 4;
const CRASH_LEASE_MS = 2_000;
const CRASH_RENEW_MS = 500;
/** When the holder is killed: this fraction of a renewal period after its first renewal. */
const CRASH_PHASES = [0.1, 0.5, 0.9] as const;

const HERE = path.dirname(fileURLToPath(import.meta.url));

const NAMES: Readonly<Record<ThroughputCase, string>> = {
  'peer-semaphore': 'peer: redis-semaphore Semaphore',
  'hyx-bulkhead': 'hyx redisBulkhead',
  'hyx-bulkhead-reuse': 'hyx redisBulkhead, usesPerLease 32',
  'bare-get': 'bare GET (ioredis)',
  'hyx-breaker': 'hyx redisCircuitBreaker (closed) around the GET',
};

function progress(line: string): void {
  process.stdout.write(`${line}\n`);
}

function format(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const liveChildren = new Set<ChildProcess>();

/** A forked worker process (this script with {@link WORKER_ARGUMENT}) that answers one job at a time. */
class WorkerProcess {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  /** Resolves once the worker has loaded (its first message). */
  readonly ready: Promise<Reply>;
  #pending: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined;

  constructor() {
    const child = fork(path.join(HERE, 'run.ts'), [WORKER_ARGUMENT], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child = child;
    liveChildren.add(child);
    this.ready = new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
    });
    // A worker that dies while loading rejects `ready`; whoever awaits it sees that.
    this.ready.catch(() => undefined);
    child.on('message', (message: Reply) => {
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.resolve(message);
    });
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        liveChildren.delete(child);
        this.#pending?.reject(new Error(`worker ${child.pid ?? '?'} exited (${signal ?? code ?? '?'})`));
        this.#pending = undefined;
        resolve();
      });
    });
  }

  async request(job: Job): Promise<Reply> {
    await this.ready;
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#child.send(job);
    });
  }

  /** Asks the worker to leave and waits until it has. */
  async exit(): Promise<void> {
    if (this.#child.connected) this.#child.send({ type: 'exit' } satisfies Job);
    await this.#exited;
  }

  /** SIGKILL, as in a crash; resolves once the process is gone. */
  async kill(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.#exited;
  }
}

// However this script ends, no worker outlives it (the harness does the same for redis-server).
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

interface ServerCounters {
  readonly commands: number;
  readonly cpuSeconds: number;
  readonly connections: number;
  /** `INFO commandstats`: calls per command name (a script's own calls count too). */
  readonly calls: ReadonlyMap<string, number>;
}

async function countersOf(server: RedisServer): Promise<ServerCounters> {
  const info = String(await server.command('INFO', 'everything'));
  const field = (name: string): number => Number(new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1]);
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)) {
    calls.set(match[1] as string, Number(match[2]));
  }
  return {
    commands: field('total_commands_processed'),
    cpuSeconds: field('used_cpu_user') + field('used_cpu_sys'),
    connections: field('total_connections_received'),
    calls,
  };
}

/** The commands Redis ran most per operation between two snapshots: "evalsha 2.00, zadd 1.00, ...". */
function topCommands(before: ServerCounters, after: ServerCounters, operations: number): string {
  const perOp = [...after.calls]
    .map(([name, calls]) => [name, (calls - (before.calls.get(name) ?? 0)) / operations] as const)
    .filter(([name, calls]) => calls >= 0.01 && name !== 'info')
    .sort((a, b) => b[1] - a[1]);
  return perOp.map(([name, calls]) => `${name} ${format(calls, 2)}`).join(', ');
}

/**
 * How many permits are held in Redis on average over [startAtMs, endAtMs]: ZCARD of the contender's
 * sorted set of leases (both keep one, and nothing lapses during a run), every OCCUPANCY_SAMPLE_MS.
 * Tells permits that sit free between a release and the next grant from permits in use.
 */
async function meanOccupancy(
  server: RedisServer,
  key: string,
  startAtMs: number,
  endAtMs: number,
): Promise<number | undefined> {
  const redis = server.connect();
  try {
    await sleep(Math.max(0, startAtMs - Date.now()));
    // The private server holds a handful of keys: KEYS finds the contender's set whatever it names it.
    let leasesKey: string | undefined;
    for (const candidate of await redis.keys(`*${key}*`)) {
      if ((await redis.type(candidate)) === 'zset') leasesKey = candidate;
    }
    if (leasesKey === undefined) return undefined;
    let sum = 0;
    let count = 0;
    while (Date.now() < endAtMs) {
      sum += await redis.zcard(leasesKey);
      count++;
      await sleep(OCCUPANCY_SAMPLE_MS);
    }
    return count === 0 ? undefined : sum / count;
  } finally {
    redis.disconnect();
  }
}

interface ThroughputSample {
  readonly perSecond: number;
  readonly clientCommandsPerOp: number;
  /** Release notifications (pub/sub messages) the workers received per operation. */
  readonly messagesPerOp: number;
  readonly serverCommandsPerOp: number;
  readonly serverCpuUsPerOp: number;
  /** CPU of the 4 worker processes per operation. */
  readonly clientCpuUsPerOp: number;
  /** Connections Redis accepted per 1,000 operations (warm-up included). */
  readonly connectionsPer1kOps: number;
  /** What {@link topCommands} says. */
  readonly redisCommands: string;
  /** Permits held in Redis during the window, on average (bulkhead cases only). */
  readonly meanHeld: number | undefined;
  readonly errors: number;
}

async function measureThroughput(
  workers: readonly WorkerProcess[],
  server: RedisServer,
  operation: ThroughputCase,
  limit: number,
  key: string,
): Promise<ThroughputSample> {
  const before = await countersOf(server);
  const startAtMs = Date.now() + WARM_UP_MS;
  const occupancy =
    operation === 'peer-semaphore' || operation === 'hyx-bulkhead' || operation === 'hyx-bulkhead-reuse'
      ? meanOccupancy(server, key, startAtMs, startAtMs + MEASURE_MS)
      : Promise.resolve(undefined);
  const replies = await Promise.all(
    workers.map((worker) =>
      worker.request({
        type: 'throughput',
        operation,
        port: server.port,
        limit,
        inFlight: IN_FLIGHT_PER_PROCESS,
        key,
        startAtMs,
        endAtMs: startAtMs + MEASURE_MS,
      }),
    ),
  );
  const meanHeld = await occupancy;
  const after = await countersOf(server);
  const results = replies.filter((reply): reply is ThroughputResult => reply.type === 'throughput-result');
  const sum = (pick: (result: ThroughputResult) => number): number =>
    results.reduce((total, result) => total + pick(result), 0);
  const total = Math.max(
    1,
    sum((result) => result.total),
  );
  const firstError = results.find((result) => result.firstError !== undefined)?.firstError;
  if (firstError !== undefined) progress(`    (errors: ${firstError})`);
  return {
    perSecond: (sum((result) => result.inWindow) / MEASURE_MS) * 1000,
    clientCommandsPerOp: sum((result) => result.commandsSent) / total,
    messagesPerOp: sum((result) => result.messagesReceived) / total,
    serverCommandsPerOp: (after.commands - before.commands) / total,
    serverCpuUsPerOp: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / total,
    clientCpuUsPerOp: sum((result) => result.cpuUs) / total,
    // Less the connection countersOf itself opens.
    connectionsPer1kOps: ((after.connections - before.connections - 1) * 1000) / total,
    redisCommands: topCommands(before, after, total),
    meanHeld,
    errors: sum((result) => result.errors),
  };
}

interface ThroughputRow extends ThroughputSample {
  readonly group: string;
  readonly operation: ThroughputCase;
}

/** Runs each operation of a row ROUNDS times, alternating, and keeps each one's median sample. */
async function throughputRow(
  workers: readonly WorkerProcess[],
  server: RedisServer,
  group: string,
  operations: readonly ThroughputCase[],
  limit: number,
): Promise<ThroughputRow[]> {
  const samples = new Map<ThroughputCase, ThroughputSample[]>(operations.map((operation) => [operation, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const operation of operations) {
      const key = `bench-coordination-${operation}-${limit}-${round}`;
      const sample = await measureThroughput(workers, server, operation, limit, key);
      samples.get(operation)?.push(sample);
      progress(
        `  ${group}, round ${round}/${ROUNDS}: ${NAMES[operation].padEnd(48)} ${format(sample.perSecond).padStart(7)} /s` +
          `  (per op: ${format(sample.clientCommandsPerOp, 2)} commands sent, ${format(sample.messagesPerOp, 2)} messages received, CPU ${format(sample.clientCpuUsPerOp)} µs in the clients + ` +
          `${format(sample.serverCpuUsPerOp)} µs in Redis` +
          (sample.meanHeld === undefined
            ? ''
            : `; ${format(sample.meanHeld, 1)} of ${limit} permits held on average`) +
          `${sample.errors > 0 ? `; ${sample.errors} errors` : ''})`,
      );
    }
  }
  return operations.map((operation) => {
    const list = samples.get(operation) ?? [];
    const middle = list.find((sample) => sample.perSecond === median(list.map((one) => one.perSecond)));
    return { group, operation, ...(middle as ThroughputSample) };
  });
}

interface CrashTrial {
  readonly holder: HolderCase;
  readonly phase: number;
  /** From the SIGKILL until the first waiter held a permit, ms. */
  readonly firstMs: number;
  /** From the SIGKILL until the waiters held every permit, ms. */
  readonly allMs: number;
}

/** Starts `count` waiters for the holder's permits; `onGranted` runs as each gets one. */
function startWaiters(
  server: RedisServer,
  holder: HolderCase,
  key: string,
  count: number,
  onGranted: () => Promise<void>,
): Promise<unknown> {
  const redis = server.connect();
  const bulkhead = redisBulkhead(redis, {
    name: key,
    maxConcurrent: CRASH_LIMIT,
    maxQueue: count,
    leaseMs: CRASH_LEASE_MS,
    renewMs: CRASH_RENEW_MS,
  });
  const waiters = Array.from({ length: count }, async () => {
    if (holder === 'hyx-bulkhead') {
      await bulkhead.execute(onGranted);
      return;
    }
    const semaphore = new Semaphore(redis, key, CRASH_LIMIT, {
      lockTimeout: CRASH_LEASE_MS,
      refreshInterval: CRASH_RENEW_MS,
      acquireTimeout: 60_000,
    });
    await semaphore.acquire();
    await onGranted();
    await semaphore.release();
  });
  return Promise.all(waiters).finally(() => {
    redis.disconnect();
  });
}

async function crashTrial(server: RedisServer, holder: HolderCase, phase: number): Promise<CrashTrial> {
  const key = `bench-coordination-crash-${holder}-${phase}`;
  const worker = new WorkerProcess();
  await worker.ready;
  await worker.request({
    type: 'hold',
    holder,
    port: server.port,
    limit: CRASH_LIMIT,
    key,
    leaseMs: CRASH_LEASE_MS,
    renewMs: CRASH_RENEW_MS,
  });
  const holdingAtMs = performance.now();
  const grantedAtMs: number[] = [];
  let everyoneGranted = (): void => undefined;
  const allGranted = new Promise<void>((resolve) => {
    everyoneGranted = resolve;
  });
  // Each waiter keeps its permit until all have one: the time until *every* permit is free again.
  const waiters = startWaiters(server, holder, key, CRASH_LIMIT, async () => {
    grantedAtMs.push(performance.now());
    if (grantedAtMs.length === CRASH_LIMIT) everyoneGranted();
    await allGranted;
  });
  await sleep(Math.max(0, holdingAtMs + CRASH_RENEW_MS * (1 + phase) - performance.now()));
  if (grantedAtMs.length > 0) throw new Error(`${holder}: a waiter got a permit while the holder lived`);
  const killedAtMs = performance.now();
  await worker.kill();
  await waiters;
  return {
    holder,
    phase,
    firstMs: (grantedAtMs[0] as number) - killedAtMs,
    allMs: (grantedAtMs[CRASH_LIMIT - 1] as number) - killedAtMs,
  };
}

function throughputTable(rows: readonly ThroughputRow[], peerOf: ThroughputCase): string[] {
  const lines = [
    "| case | operation | per second | vs peer | commands sent / op | commands Redis ran / op | Redis CPU / op | clients' CPU / op | pub/sub messages received / op | connections opened / 1,000 ops | permits held (mean) | errors |",
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const peer = rows.find((candidate) => candidate.group === row.group && candidate.operation === peerOf);
    const ratio = peer === undefined || row === peer ? '' : `${format(row.perSecond / peer.perSecond, 2)}×`;
    lines.push(
      `| ${row.group} | ${NAMES[row.operation]} | ${format(row.perSecond)} | ${ratio} | ${format(row.clientCommandsPerOp, 2)} | ` +
        `${format(row.serverCommandsPerOp, 2)} | ${format(row.serverCpuUsPerOp, 1)} µs | ${format(row.clientCpuUsPerOp, 1)} µs | ` +
        `${format(row.messagesPerOp, 2)} | ${format(row.connectionsPer1kOps, 1)} | ${row.meanHeld === undefined ? '' : format(row.meanHeld, 2)} | ${row.errors} |`,
    );
  }
  lines.push(
    '',
    'Commands Redis ran per operation (median round; a script counts once, and so does each of its calls):',
  );
  for (const row of rows) lines.push(`- ${row.group}, ${NAMES[row.operation]}: ${row.redisCommands}`);
  return lines;
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

const SECTIONS = ['bulkhead', 'crash', 'breaker'] as const;
type Section = (typeof SECTIONS)[number];

/** The sections named on the command line (all when none is). */
function sectionsToRun(): Set<Section> {
  const named = process.argv.slice(2);
  for (const name of named) {
    if (!(SECTIONS as readonly string[]).includes(name)) {
      throw new Error(`unknown section ${JSON.stringify(name)}: expected any of ${SECTIONS.join(', ')}`);
    }
  }
  return new Set(named.length === 0 ? SECTIONS : (named as Section[]));
}

async function main(): Promise<void> {
  const sections = sectionsToRun();
  const startedMs = performance.now();
  const server = await startRedis();
  const workers: WorkerProcess[] = [];
  const report: string[] = [];
  try {
    const redisVersion = /redis_version:(\S+)/.exec(String(await server.command('INFO', 'server')))?.[1];
    progress(
      `bench/redis-coordination: redis-server ${redisVersion ?? '?'} on 127.0.0.1:${server.port}, ` +
        `${PROCESSES} processes × ${IN_FLIGHT_PER_PROCESS} in flight, ${ROUNDS} rounds of ${MEASURE_MS} ms ` +
        `(after ${WARM_UP_MS} ms warm-up); load average ${loadAverage()}`,
    );
    if (sections.has('bulkhead') || sections.has('breaker')) {
      for (let index = 0; index < PROCESSES; index++) workers.push(new WorkerProcess());
      await Promise.all(workers.map((worker) => worker.ready));
    }

    if (sections.has('bulkhead')) {
      progress('\nbulkhead: acquire+release per second');
      const rows: ThroughputRow[] = [];
      for (const limit of LIMITS) {
        const group = `limit ${limit}, ${PROCESSES * IN_FLIGHT_PER_PROCESS} workers`;
        rows.push(
          ...(await throughputRow(
            workers,
            server,
            group,
            ['peer-semaphore', 'hyx-bulkhead', 'hyx-bulkhead-reuse'],
            limit,
          )),
        );
      }
      report.push('', ...throughputTable(rows, 'peer-semaphore'));
    }

    if (sections.has('breaker')) {
      progress('\nbreaker: calls per second');
      const group = `${PROCESSES * IN_FLIGHT_PER_PROCESS} workers`;
      const rows = await throughputRow(workers, server, group, ['bare-get', 'hyx-breaker'], 0);
      report.push('', ...throughputTable(rows, 'bare-get'));
    }
    await Promise.all(workers.map((worker) => worker.exit()));

    if (sections.has('crash')) {
      const boundMs = CRASH_LEASE_MS + CRASH_RENEW_MS;
      progress(
        `\ncrash: limit ${CRASH_LIMIT}, leaseMs ${CRASH_LEASE_MS}, renewMs ${CRASH_RENEW_MS} ` +
          `(bound leaseMs + renewMs = ${boundMs} ms)`,
      );
      report.push(
        '',
        '| holder | killed | first permit free after | every permit free after | within leaseMs + renewMs |',
        '|---|---:|---:|---:|---|',
      );
      for (const holder of ['peer-semaphore', 'hyx-bulkhead'] as const) {
        for (const phase of CRASH_PHASES) {
          const trial = await crashTrial(server, holder, phase);
          progress(
            `  ${NAMES[holder].padEnd(34)} killed ${String(phase * 100).padStart(2)} % into a renewal period: ` +
              `first permit after ${format(trial.firstMs)} ms, all ${CRASH_LIMIT} after ${format(trial.allMs)} ms`,
          );
          report.push(
            `| ${NAMES[trial.holder]} | ${trial.phase * 100} % of renewMs after a renewal | ${format(trial.firstMs)} ms | ` +
              `${format(trial.allMs)} ms | ${trial.allMs <= boundMs ? 'yes' : 'no'} |`,
          );
        }
      }
    }

    report.push(
      '',
      `node ${process.version}, redis ${redisVersion ?? '?'}, ${os.cpus().length} cores, ${process.platform}/${process.arch}, ` +
        `load average at the end ${loadAverage()}, took ${format((performance.now() - startedMs) / 1000, 1)} s`,
    );
    progress(report.join('\n'));
  } finally {
    await Promise.all(workers.map((worker) => worker.kill()));
    await server.stop();
  }
}

if (process.argv[2] === WORKER_ARGUMENT) runWorker();
else await main();
