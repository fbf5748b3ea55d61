/**
 * Requests per second of a hello-world route on Express and on Fastify: bare, behind hyx's
 * rate-limit middleware (local limiter), and behind the peer users would pick instead
 * (`express-rate-limit`, `@fastify/rate-limit`), each with an in-process limiter and with Redis
 * (`redisRateLimiter`; `rate-limit-redis`; `@fastify/rate-limit`'s `redis` option) on a
 * `redis-server` the run starts on a free loopback port. autocannon drives each server over
 * loopback; each server runs in its own process. Besides requests per second it reports the
 * server's CPU time per request, which is what the middleware costs and which moves far less than
 * throughput when other work shares the machine. Never a pass/fail test: the figures go to
 * docs/benchmarks.md, and only ratios within one run mean anything.
 *
 * Run: npm run build && node --import tsx bench/http/run.ts [durationSeconds] [filter] [rounds]
 *
 * `filter` keeps the cases whose name contains it (`fastify`, `redis`; `all` keeps every case);
 * more rounds (3 by default) steady the medians when other work shares the machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import autocannon from 'autocannon';

import { startRedis, type RedisServer } from '../../test/support/redis-harness.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CASES = [
  'express:bare',
  'express:hyx',
  'express:peer',
  'express:hyx-redis',
  'express:peer-redis',
  'fastify:bare',
  'fastify:hyx',
  'fastify:peer',
  'fastify:hyx-redis',
  'fastify:peer-redis',
] as const;
const LABELS: Record<(typeof CASES)[number], string> = {
  'express:bare': 'Express, no middleware',
  'express:hyx': 'Express + @hyx/http rateLimit (local)',
  'express:peer': 'Express + express-rate-limit',
  'express:hyx-redis': 'Express + @hyx/http rateLimit (Redis)',
  'express:peer-redis': 'Express + express-rate-limit + rate-limit-redis',
  'fastify:bare': 'Fastify, no plugin',
  'fastify:hyx': 'Fastify + @hyx/http hyxRateLimit (local)',
  'fastify:peer': 'Fastify + @fastify/rate-limit',
  'fastify:hyx-redis': 'Fastify + @hyx/http hyxRateLimit (Redis)',
  'fastify:peer-redis': 'Fastify + @fastify/rate-limit (Redis)',
};

const durationSeconds = Number(process.argv[2] ?? 10);
const filter = process.argv[3] === 'all' ? undefined : process.argv[3];
const CONNECTIONS = 10;
const WARM_UP_SECONDS = 2;
/** Every case runs once per round, in a rotated order; each keeps its median round. */
const ROUNDS = Number(process.argv[4] ?? 3);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new RangeError(`rounds must be an integer >= 1, got ${process.argv[4]}`);

interface Row {
  readonly name: (typeof CASES)[number];
  readonly requestsPerSecond: number;
  /** The server process's CPU time (user + system) per request served. */
  readonly cpuUsPerRequest: number;
  readonly p99Ms: number;
  readonly non2xx: number;
}

async function load(url: string, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url, connections: CONNECTIONS, duration: seconds });
}

/** The server's `process.cpuUsage()`, in µs of user + system time. */
async function serverCpuUs(server: ChildProcess): Promise<number> {
  const answer = once(server, 'message') as Promise<[{ cpuUsage: NodeJS.CpuUsage }]>;
  server.send('cpu-usage');
  const [{ cpuUsage }] = await answer;
  return cpuUsage.user + cpuUsage.system;
}

async function measure(name: (typeof CASES)[number], redis: RedisServer): Promise<Row> {
  await redis.connect().flushall();
  const server = fork(path.join(HERE, 'server.ts'), [name], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, REDIS_PORT: String(redis.port) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const [{ url }] = (await once(server, 'message')) as [{ url: string }];
    await load(url, WARM_UP_SECONDS);
    const cpuBeforeUs = await serverCpuUs(server);
    const result = await load(url, durationSeconds);
    const cpuUs = (await serverCpuUs(server)) - cpuBeforeUs;
    return {
      name,
      requestsPerSecond: result.requests.average,
      cpuUsPerRequest: cpuUs / Math.max(1, result.requests.total),
      p99Ms: result.latency.p99,
      non2xx: result.non2xx,
    };
  } finally {
    const exited = once(server, 'exit');
    server.kill();
    await exited;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const selected = CASES.filter((name) => filter === undefined || name.includes(filter));
if (selected.length === 0) {
  throw new RangeError(
    `filter ${JSON.stringify(filter)} matches no case; the cases are: ${CASES.join(', ')}`,
  );
}
const rounds = new Map<(typeof CASES)[number], Row[]>();
const redis = await startRedis();
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated, so that no case always follows the same one.
    const order = [...selected.slice(round % selected.length), ...selected.slice(0, round % selected.length)];
    for (const name of order) {
      const row = await measure(name, redis);
      rounds.set(name, [...(rounds.get(name) ?? []), row]);
      process.stdout.write(
        `round ${round + 1}  ${LABELS[name].padEnd(50)} ${row.requestsPerSecond.toFixed(0).padStart(8)} req/s ${row.cpuUsPerRequest.toFixed(1).padStart(7)} µs CPU / request\n`,
      );
    }
  }
} finally {
  await redis.stop();
}

const rows: Row[] = selected.map((name) => {
  const measured = rounds.get(name) ?? [];
  return {
    name,
    requestsPerSecond: median(measured.map((row) => row.requestsPerSecond)),
    cpuUsPerRequest: median(measured.map((row) => row.cpuUsPerRequest)),
    p99Ms: median(measured.map((row) => row.p99Ms)),
    non2xx: measured.reduce((sum, row) => sum + row.non2xx, 0),
  };
});

const lines = [
  '| case | req/s | vs bare | server CPU / request | added vs bare | p99 latency | non-2xx |',
  '|---|---:|---:|---:|---:|---:|---:|',
];
for (const row of rows) {
  const bare = rows.find((candidate) => candidate.name === `${row.name.split(':')[0]}:bare`);
  const share =
    bare === undefined ? '' : `${((100 * row.requestsPerSecond) / bare.requestsPerSecond).toFixed(0)} %`;
  const added =
    bare === undefined || bare === row
      ? ''
      : `+${(row.cpuUsPerRequest - bare.cpuUsPerRequest).toFixed(1)} µs`;
  lines.push(
    `| ${LABELS[row.name]} | ${row.requestsPerSecond.toFixed(0)} | ${share} | ${row.cpuUsPerRequest.toFixed(1)} µs | ${added} | ${row.p99Ms} ms | ${row.non2xx} |`,
  );
}
process.stdout.write(
  `\nmedian of ${ROUNDS} rounds; ${CONNECTIONS} connections, ${durationSeconds} s per case after ${WARM_UP_SECONDS} s of warm-up, Node ${process.version}\n\n${lines.join('\n')}\n`,
);
