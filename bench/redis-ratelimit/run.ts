/**
 * Decisions per second of Redis rate limiters, in one process and one run, against a
 * harness-started `redis-server` on loopback: raw ioredis EVALSHA of a trivial one-key script (the
 * ceiling: one round-trip and nothing else), rate-limiter-flexible's `RateLimiterRedis` (the peer
 * users would pick), and `redisRateLimiter` (token bucket), at 1, 16 and 256 calls in flight, on one
 * hot key and over 10,000 keys; plus ours with `batching: true` on the hot key. Never a pass/fail
 * test: the figures go to docs/benchmarks.md.
 *
 * Each case keeps exactly N calls in flight (a call starts as soon as one ends) for a fixed time and
 * counts the calls that ended. The contenders of one row run in turn, ROUNDS times, and each keeps
 * its median, so a noisy neighbour on a shared machine hits all of them alike. Every limit is high
 * enough that every decision is an admission: all contenders run their allow path.
 *
 * Beside the rate, where the time goes: this process's CPU time per decision (the client: ours,
 * ioredis, the socket writes) and the Redis server's (`INFO cpu`: parsing, the script, replies),
 * both far steadier than throughput on a shared 2-core machine where client and server compete
 * for the same cores; and the time Redis spent inside EVALSHA per call (`INFO commandstats`,
 * `usec_per_call`: the script alone, without parsing the command or writing the reply), the
 * steadiest of the three. Every contender calls EVALSHA (rate-limiter-flexible through the command
 * it defines).
 *
 * Run: npm run build && npx tsx bench/redis-ratelimit/run.ts
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import { redisRateLimiter } from '@hyx/distributed';
import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';

import { startRedis, type RedisServer } from '../../test/support/redis-harness.js';

const IN_FLIGHT = [1, 16, 256] as const;
const KEY_COUNT = 10_000;
/** Admissions per second of every limiter: far above what one process reaches, so none denies. */
const LIMIT = 10_000_000;
const WARM_UP_MS = 200;
const MEASURE_MS = 700;
const ROUNDS = 3;
const TRIVIAL_SCRIPT = 'return 1';

type Call = (key: string) => Promise<unknown>;

interface Contender {
  readonly name: string;
  /** Only on the hot key. */
  readonly isHotOnly?: boolean;
  readonly call: Call;
}

interface Sample {
  readonly perSecond: number;
  /** This process's CPU time (user + system) per decision, in µs. */
  readonly clientCpuUs: number;
  /** The Redis server's CPU time (user + system) per decision, in µs. */
  readonly serverCpuUs: number;
  /** Redis's time inside EVALSHA per call (`INFO commandstats`), in µs. */
  readonly evalshaUs: number;
  readonly errors: number;
}

interface Row extends Sample {
  readonly inFlight: number;
  readonly keys: 'hot key' | '10,000 keys';
  readonly name: string;
}

const hotKeys = ['hot'];
const manyKeys = Array.from({ length: KEY_COUNT }, (_, index) => `user-${index}`);

/** Runs `call` with `inFlight` calls always pending for `durationMs`; returns the calls that ended. */
async function drive(
  call: Call,
  keys: readonly string[],
  inFlight: number,
  durationMs: number,
): Promise<{ count: number; errors: number; elapsedMs: number }> {
  let next = 0;
  let count = 0;
  let errors = 0;
  const startedMs = performance.now();
  const deadlineMs = startedMs + durationMs;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadlineMs) {
      const key = keys[next++ % keys.length] as string;
      try {
        await call(key);
      } catch {
        errors++;
      }
      count++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  return { count, errors, elapsedMs: performance.now() - startedMs };
}

/** The server's CPU seconds so far (user + system, its main thread and the rest). */
async function serverCpuSeconds(server: RedisServer): Promise<number> {
  const info = String(await server.command('INFO', 'cpu'));
  const seconds = (field: string): number => Number(new RegExp(`${field}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return seconds('used_cpu_user') + seconds('used_cpu_sys');
}

/** Redis's `usec_per_call` of EVALSHA since the last `CONFIG RESETSTAT`. */
async function evalshaUsPerCall(server: RedisServer): Promise<number> {
  const info = String(await server.command('INFO', 'commandstats'));
  return Number(/cmdstat_evalsha:[^\r\n]*usec_per_call=([\d.]+)/.exec(info)?.[1] ?? NaN);
}

async function measure(
  server: RedisServer,
  contender: Contender,
  keys: readonly string[],
  inFlight: number,
): Promise<Sample> {
  await drive(contender.call, keys, inFlight, WARM_UP_MS);
  await server.command('CONFIG', 'RESETSTAT');
  const serverBefore = await serverCpuSeconds(server);
  const clientBefore = process.cpuUsage();
  const { count, errors, elapsedMs } = await drive(contender.call, keys, inFlight, MEASURE_MS);
  const client = process.cpuUsage(clientBefore);
  const serverAfter = await serverCpuSeconds(server);
  const evalshaUs = await evalshaUsPerCall(server);
  return {
    evalshaUs,
    perSecond: (count / elapsedMs) * 1000,
    clientCpuUs: (client.user + client.system) / count,
    serverCpuUs: ((serverAfter - serverBefore) * 1e6) / count,
    errors,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function connect(server: RedisServer): Redis {
  // Each contender gets its own connection (rate-limiter-flexible defines a command on its client).
  return server.connect({ autoResendUnfulfilledCommands: false });
}

async function contenders(server: RedisServer): Promise<Contender[]> {
  const raw = connect(server);
  const sha = String(await raw.script('LOAD', TRIVIAL_SCRIPT));
  const peer = new RateLimiterRedis({
    storeClient: connect(server),
    keyPrefix: 'bench-rlf',
    points: LIMIT,
    duration: 1,
  });
  const ours = redisRateLimiter(connect(server), {
    name: 'bench',
    algorithm: 'token-bucket',
    limit: LIMIT,
    intervalMs: 1000,
    commandTimeoutMs: 2000,
  });
  const batched = redisRateLimiter(connect(server), {
    name: 'bench-batched',
    algorithm: 'token-bucket',
    limit: LIMIT,
    intervalMs: 1000,
    commandTimeoutMs: 2000,
    batching: true,
  });
  return [
    { name: 'ceiling: ioredis EVALSHA (trivial 1-key script)', call: (key) => raw.evalsha(sha, 1, key) },
    { name: 'peer: rate-limiter-flexible RateLimiterRedis', call: (key) => peer.consume(key) },
    {
      name: 'hyx redisRateLimiter (token bucket)',
      call: async (key) => {
        const decision = await ours.tryAcquire({ key });
        if (!decision.allowed) throw new Error('denied');
      },
    },
    {
      name: 'hyx redisRateLimiter, batching: true',
      isHotOnly: true,
      call: async (key) => {
        const decision = await batched.tryAcquire({ key });
        if (!decision.allowed) throw new Error('denied');
      },
    },
  ];
}

const server = await startRedis();
try {
  const all = await contenders(server);
  const rows: Row[] = [];
  for (const keys of ['hot key', '10,000 keys'] as const) {
    for (const inFlight of IN_FLIGHT) {
      const active = all.filter((contender) => keys === 'hot key' || contender.isHotOnly !== true);
      const samples = new Map<Contender, Sample[]>(active.map((contender) => [contender, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const contender of active) {
          const sample = await measure(server, contender, keys === 'hot key' ? hotKeys : manyKeys, inFlight);
          samples.get(contender)?.push(sample);
        }
      }
      for (const [contender, rounds] of samples) {
        const row: Row = {
          inFlight,
          keys,
          name: contender.name,
          perSecond: median(rounds.map((sample) => sample.perSecond)),
          clientCpuUs: median(rounds.map((sample) => sample.clientCpuUs)),
          serverCpuUs: median(rounds.map((sample) => sample.serverCpuUs)),
          evalshaUs: median(rounds.map((sample) => sample.evalshaUs)),
          errors: rounds.reduce((sum, sample) => sum + sample.errors, 0),
        };
        rows.push(row);
        process.stdout.write(
          `${keys.padEnd(12)} ${String(inFlight).padStart(4)} in flight  ${row.name.padEnd(48)} ${Math.round(row.perSecond).toLocaleString('en-US').padStart(9)} /s` +
            `  client ${row.clientCpuUs.toFixed(1).padStart(5)} µs  redis ${row.serverCpuUs.toFixed(1).padStart(5)} µs CPU per decision` +
            `  EVALSHA ${row.evalshaUs.toFixed(2).padStart(5)} µs per call\n`,
        );
      }
    }
  }

  const lines = [
    '| keys | in flight | case | decisions/s | vs ceiling | client CPU µs/decision | Redis CPU µs/decision | EVALSHA µs/call in Redis | errors |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const ceiling = rows.find(
      (candidate) =>
        candidate.keys === row.keys &&
        candidate.inFlight === row.inFlight &&
        candidate.name.startsWith('ceiling'),
    );
    const ratio = ceiling === undefined ? '' : `${(row.perSecond / ceiling.perSecond).toFixed(2)}×`;
    lines.push(
      `| ${row.keys} | ${row.inFlight} | ${row.name} | ${Math.round(row.perSecond).toLocaleString('en-US')} | ${ratio} | ` +
        `${row.clientCpuUs.toFixed(1)} | ${row.serverCpuUs.toFixed(1)} | ${row.evalshaUs.toFixed(2)} | ${row.errors} |`,
    );
  }
  const redisVersion = /redis_version:(\S+)/.exec(String(await server.command('INFO', 'server')))?.[1];
  process.stdout.write(
    `\n${lines.join('\n')}\n\nnode ${process.version}, redis ${redisVersion ?? '?'}, ${process.platform}/${process.arch}, ` +
      `median of ${ROUNDS} rounds of ${MEASURE_MS} ms (after ${WARM_UP_MS} ms warm-up) per case, ` +
      `load average ${loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')}\n`,
  );
} finally {
  await server.stop();
}
