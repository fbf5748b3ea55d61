/**
 * One worker process of `bench/redis-coordination`: it runs the jobs the orchestrator sends over
 * IPC (see `protocol.ts`), each on fresh Redis connections, and answers each with one message.
 * It exits when the orchestrator says so or goes away.
 */
import { redisBulkhead, redisCircuitBreaker } from '@hyx/distributed';
import { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';

import type { HoldJob, Job, Reply, ThroughputJob } from './protocol.js';

/**
 * The lease of both contenders in the throughput runs: redis-semaphore's default `lockTimeout`.
 * Long enough that nothing lapses while measuring.
 */
const THROUGHPUT_LEASE_MS = 10_000;
/** `usesPerLease` of the `hyx-bulkhead-reuse` case. */
const USES_PER_LEASE = 32;
/** Far longer than any wait in a run: a peer acquire never times out. */
const PEER_ACQUIRE_TIMEOUT_MS = 120_000;

interface CountingRedis {
  readonly redis: Redis;
  /** Commands sent on this connection so far (every ioredis command goes through `sendCommand`). */
  readonly sent: () => number;
  /** Pub/sub messages received by the connections `redis.duplicate()` made (hyx's subscriber). */
  readonly messages: () => number;
}

function connect(port: number): CountingRedis {
  const redis = new Redis({ host: '127.0.0.1', port, autoResendUnfulfilledCommands: false });
  let sent = 0;
  let messages = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    sent++;
    return send(...args);
  };
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const subscriber = duplicate(...args);
    subscriber.on('message', () => {
      messages++;
    });
    return subscriber;
  };
  return { redis, sent: () => sent, messages: () => messages };
}

function reply(message: Reply): void {
  process.send?.(message);
}

/** One operation of a throughput job, and how to tear it down afterwards. */
interface Operation {
  readonly call: () => Promise<unknown>;
  readonly close: () => Promise<void>;
}

function operationOf(job: ThroughputJob, redis: Redis): Operation {
  switch (job.operation) {
    case 'peer-semaphore': {
      // redis-semaphore's way: one Semaphore object per acquisition (it carries the lease id).
      const options = { lockTimeout: THROUGHPUT_LEASE_MS, acquireTimeout: PEER_ACQUIRE_TIMEOUT_MS };
      return {
        call: async () => {
          const semaphore = new Semaphore(redis, job.key, job.limit, options);
          await semaphore.acquire();
          await semaphore.release();
        },
        close: async () => undefined,
      };
    }
    case 'hyx-bulkhead':
    case 'hyx-bulkhead-reuse': {
      const bulkhead = redisBulkhead(redis, {
        name: job.key,
        maxConcurrent: job.limit,
        // Every loop of this process may wait; none is ever refused.
        maxQueue: job.inFlight,
        leaseMs: THROUGHPUT_LEASE_MS,
        // The opt-in of ADR 0008: one lease serves up to this many calls of this process in a row.
        usesPerLease: job.operation === 'hyx-bulkhead-reuse' ? USES_PER_LEASE : 1,
        // As for the breaker below: 4 busy processes on 2 cores delay a round-trip past the
        // default 100 ms now and then, and a timed-out acquire is a refused call, not a measurement.
        commandTimeoutMs: 2_000,
      });
      return {
        call: () => bulkhead.execute(async () => undefined),
        // Gives back the leases kept for the next call, and waits for the answers: before QUIT.
        close: () => bulkhead.close(),
      };
    }
    case 'bare-get':
      return { call: () => redis.get(job.key), close: async () => undefined };
    case 'hyx-breaker': {
      const breaker = redisCircuitBreaker(redis, {
        name: job.key,
        window: { kind: 'countWindow', size: 100 },
        failureRate: 0.5,
        halfOpenAfterMs: 30_000,
        // The default 100 ms is a production bound; on a loaded 2-core machine a round-trip can
        // exceed it, and a timed-out admission is a refused call, not a measurement.
        commandTimeoutMs: 2_000,
      });
      return { call: () => breaker.execute(() => redis.get(job.key)), close: () => breaker.close() };
    }
  }
}

async function runThroughput(job: ThroughputJob): Promise<void> {
  const cpuBefore = process.cpuUsage();
  const { redis, sent, messages } = connect(job.port);
  const operation = operationOf(job, redis);
  let inWindow = 0;
  let total = 0;
  let errors = 0;
  let firstError: string | undefined;
  const loop = async (): Promise<void> => {
    while (Date.now() < job.endAtMs) {
      try {
        await operation.call();
      } catch (error) {
        errors++;
        firstError ??= String(error);
        continue;
      }
      total++;
      const endedAtMs = Date.now();
      if (endedAtMs >= job.startAtMs && endedAtMs <= job.endAtMs) inWindow++;
    }
  };
  await Promise.all(Array.from({ length: job.inFlight }, loop));
  await operation.close();
  const commandsSent = sent();
  // QUIT is answered after every command sent before it: the last releases have landed.
  await redis.quit();
  const cpu = process.cpuUsage(cpuBefore);
  const cpuUs = cpu.user + cpu.system;
  reply({
    type: 'throughput-result',
    inWindow,
    total,
    errors,
    commandsSent,
    messagesReceived: messages(),
    cpuUs,
    firstError,
  });
}

/** Takes every permit and keeps renewing it until this process is killed. */
async function hold(job: HoldJob): Promise<void> {
  const { redis } = connect(job.port);
  const never = new Promise<never>(() => undefined);
  if (job.holder === 'peer-semaphore') {
    const options = {
      lockTimeout: job.leaseMs,
      refreshInterval: job.renewMs,
      acquireTimeout: PEER_ACQUIRE_TIMEOUT_MS,
    };
    await Promise.all(
      Array.from({ length: job.limit }, () => new Semaphore(redis, job.key, job.limit, options).acquire()),
    );
    reply({ type: 'holding' });
    return;
  }
  const bulkhead = redisBulkhead(redis, {
    name: job.key,
    maxConcurrent: job.limit,
    leaseMs: job.leaseMs,
    renewMs: job.renewMs,
  });
  let granted = 0;
  for (let index = 0; index < job.limit; index++) {
    void bulkhead.execute(async () => {
      if (++granted === job.limit) reply({ type: 'holding' });
      return never;
    });
  }
}

/** The worker's entry point: handles jobs until told to exit or orphaned. */
export function runWorker(): void {
  // Orphaned (the orchestrator died): nothing else would end this process.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (job: Job) => {
    if (job.type === 'exit') {
      process.disconnect();
      return;
    }
    const done = job.type === 'hold' ? hold(job) : runThroughput(job);
    done.catch((error: unknown) => {
      process.stderr.write(`worker ${process.pid}: ${String(error)}\n`);
      process.exit(1);
    });
  });
  reply({ type: 'ready' });
}
