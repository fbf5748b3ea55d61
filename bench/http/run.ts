/**
 * Requests per second of a hello-world route on Express and on Fastify: bare, behind hyx's
 * rate-limit middleware (local limiter), and behind the peer users would pick instead
 * (`express-rate-limit`, `@fastify/rate-limit`), each with an in-process limiter and with Redis
 * (`redisRateLimiter`; `rate-limit-redis`; `@fastify/rate-limit`'s `redis` option) on a
 * `redis-server` the run starts on a free loopback port. autocannon drives each server over
 * loopback; each server runs in its own process. Never a pass/fail test: the figures go to
 * docs/benchmarks.md, and only ratios within one run mean anything.
 *
 * Run: npm run build && node --import tsx bench/http/run.ts [durationSeconds] [filter]
 */
import { fork } from 'node:child_process';
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
const filter = process.argv[3];
const CONNECTIONS = 10;
const WARM_UP_SECONDS = 2;

interface Row {
  readonly name: (typeof CASES)[number];
  readonly requestsPerSecond: number;
  readonly p99Ms: number;
  readonly non2xx: number;
}

async function load(url: string, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url, connections: CONNECTIONS, duration: seconds });
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
    const result = await load(url, durationSeconds);
    return {
      name,
      requestsPerSecond: result.requests.average,
      p99Ms: result.latency.p99,
      non2xx: result.non2xx,
    };
  } finally {
    const exited = once(server, 'exit');
    server.kill();
    await exited;
  }
}

const rows: Row[] = [];
const redis = await startRedis();
try {
  for (const name of CASES) {
    if (filter !== undefined && !name.includes(filter)) continue;
    const row = await measure(name, redis);
    rows.push(row);
    process.stdout.write(
      `${LABELS[name].padEnd(50)} ${row.requestsPerSecond.toFixed(0).padStart(8)} req/s\n`,
    );
  }
} finally {
  await redis.stop();
}

const lines = ['| case | req/s | vs bare | p99 latency | non-2xx |', '|---|---:|---:|---:|---:|'];
for (const row of rows) {
  const bare = rows.find((candidate) => candidate.name === `${row.name.split(':')[0]}:bare`);
  const share =
    bare === undefined ? '' : `${((100 * row.requestsPerSecond) / bare.requestsPerSecond).toFixed(0)} %`;
  lines.push(
    `| ${LABELS[row.name]} | ${row.requestsPerSecond.toFixed(0)} | ${share} | ${row.p99Ms} ms | ${row.non2xx} |`,
  );
}
process.stdout.write(
  `\n${CONNECTIONS} connections, ${durationSeconds} s per case after ${WARM_UP_SECONDS} s of warm-up, Node ${process.version}\n\n${lines.join('\n')}\n`,
);
