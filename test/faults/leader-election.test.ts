import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startCluster,
  startPrimaryWithReplica,
  startRedis,
  type RedisClusterHandle,
  type RedisServer,
  type ReplicatedRedis,
} from '../support/redis-harness.js';
import { waitUntil } from '../support/wait-until.js';
import { LeaseCandidates, checkFencing, type LeaseCandidateConfig } from './lease-candidates.js';

/**
 * Every bound below comes from these values: a dead or stopped holder's lease ends at most leaseMs
 * after its last renewal, and candidates ask again right after it ends, so a new holder appears
 * within leaseMs + renewMs of the fault (renewMs is the allowance for the round-trips, and for the
 * scheduling delays of 4 candidates, 2+ Redis servers and other test files sharing 2 cores: with
 * renewMs 250 a loaded run once took 1333 ms for a 1250 ms bound).
 */
const leaseMs = 1_500;
const renewMs = 500;
const timing = { leaseMs, renewMs, writeEveryMs: 50 } as const;

async function acceptedWrites(resource: RedisServer): Promise<string[]> {
  return (await resource.command('LRANGE', 'resource:accepted', '0', '-1')) as string[];
}

/** 4 candidates on `config`, once the first of them has been elected and has written. */
async function electedCandidates(config: LeaseCandidateConfig): Promise<LeaseCandidates> {
  const candidates = new LeaseCandidates(config, 4);
  const first = await candidates.electedAfter(0);
  await candidates.wroteWith(first.id, first.token);
  return candidates;
}

/** The fault scenarios shared by the leader election (single Redis) and the lock (Cluster). */
function describeProcessFaults(
  title: string,
  setup: () => Promise<{
    readonly config: Omit<LeaseCandidateConfig, 'resourcePort'>;
    readonly stop: () => Promise<void>;
  }>,
): void {
  describe(title, () => {
    let resource: RedisServer;
    let candidates: LeaseCandidates;
    let stopRedis: () => Promise<void>;

    beforeAll(async () => {
      resource = await startRedis();
      const { config, stop } = await setup();
      stopRedis = stop;
      candidates = await electedCandidates({ ...config, resourcePort: resource.port });
    });
    afterAll(async () => {
      candidates.stop();
      await Promise.all([resource.stop(), stopRedis()]);
    });

    const currentHolder = () => {
      const elected = candidates.reports.filter((report) => report.type === 'elected');
      const last = elected.at(-1);
      if (last === undefined) throw new Error('nobody was elected');
      return last;
    };

    it('replaces a SIGKILLed holder within leaseMs + renewMs, with a higher token', async () => {
      const holder = currentHolder();
      const killedAt = Date.now();
      candidates.signal(holder.id, 'SIGKILL');
      const next = await candidates.electedAfter(killedAt, holder.id);
      expect(next.atMs - killedAt).toBeLessThanOrEqual(leaseMs + renewMs);
      expect(BigInt(next.token)).toBeGreaterThan(BigInt(holder.token));
      await candidates.wroteWith(next.id, next.token);
      checkFencing(await acceptedWrites(resource));
    });

    it('replaces a holder SIGSTOPped longer than its lease, which steps down when it resumes', async () => {
      const holder = currentHolder();
      const stoppedAt = Date.now();
      candidates.signal(holder.id, 'SIGSTOP');
      const next = await candidates.electedAfter(stoppedAt, holder.id);
      expect(next.atMs - stoppedAt).toBeLessThanOrEqual(leaseMs + renewMs);
      expect(BigInt(next.token)).toBeGreaterThan(BigInt(holder.token));
      await candidates.wroteWith(next.id, next.token);

      await delay(Math.max(0, stoppedAt + 2 * leaseMs - Date.now()));
      const resumedAt = Date.now();
      candidates.signal(holder.id, 'SIGCONT');
      const lost = await waitUntil('the resumed holder steps down', () =>
        candidates.reports.find(
          (report) => report.type === 'lost' && report.id === holder.id && report.token === holder.token,
        ),
      );
      expect(lost.reason).toBe('renewal-deadline');
      // Its overdue deadline runs first thing after it resumes, before a renewal could answer.
      expect(lost.atMs - resumedAt).toBeLessThan(renewMs);
      await delay(renewMs);
      checkFencing(await acceptedWrites(resource));
      const staleAccepted = candidates.reports.filter(
        (report) =>
          report.type === 'write' &&
          report.id === holder.id &&
          report.atMs > lost.atMs &&
          report.accepted === true,
      );
      expect(staleAccepted).toEqual([]);
    });
  });
}

describeProcessFaults('leader election with 4 candidate processes on one Redis', async () => {
  const server = await startRedis();
  return {
    config: { mode: 'leader', topology: 'single', redisPorts: [server.port], ...timing },
    stop: () => server.stop(),
  };
});

describeProcessFaults('redisLock with 4 candidate processes on a 3-master Cluster', async () => {
  const cluster: RedisClusterHandle = await startCluster();
  return {
    config: {
      mode: 'lock',
      topology: 'cluster',
      redisPorts: cluster.nodes.map((node) => node.port),
      ...timing,
    },
    stop: () => cluster.stop(),
  };
});

describe('leader election when Redis fails over to its replica and loses the last writes', () => {
  let resource: RedisServer;
  let pair: ReplicatedRedis;
  let candidates: LeaseCandidates;

  beforeAll(async () => {
    [resource, pair] = await Promise.all([startRedis(), startPrimaryWithReplica()]);
    candidates = await electedCandidates({
      mode: 'leader',
      topology: 'single',
      redisPorts: [pair.primary.port],
      resourcePort: resource.port,
      ...timing,
    });
  });
  afterAll(async () => {
    candidates.stop();
    await Promise.all([resource.stop(), pair.stop()]);
  });

  it('elects a leader on the promoted replica within leaseMs + renewMs; fencing refuses the old term', async () => {
    const holder = await candidates.electedAfter(0);

    await pair.primary.kill();
    await pair.replica.command('REPLICAOF', 'NO', 'ONE');
    // The worst failover: the lease and the fencing counter never reached the replica.
    const keys = (await pair.replica.command('KEYS', 'hyx:*')) as string[];
    if (keys.length > 0) await pair.replica.command('DEL', ...keys);
    const failedOverAt = Date.now();
    candidates.redirect([pair.replica.port]);

    const next = await waitUntil('a leader on the new primary', () =>
      candidates.reports.find(
        (report) => report.type === 'elected' && report.atMs >= failedOverAt && report.token !== holder.token,
      ),
    );
    expect(next.atMs - failedOverAt).toBeLessThanOrEqual(leaseMs + renewMs);
    // The counter was lost, yet the token still grows: it is at least the server's time in µs.
    expect(BigInt(next.token)).toBeGreaterThan(BigInt(holder.token));
    await candidates.wroteWith(next.id, next.token);
    await delay(renewMs);
    checkFencing(await acceptedWrites(resource));
  });
});

describe('leader election on a 3-master Cluster when the master holding the lease fails over', () => {
  /**
   * The Cluster promotes the replica by itself: the other masters mark the master failed once it
   * has not answered for nodeTimeoutMs, and its only replica (rank 0) asks for votes 500–1000 ms
   * later; its election and the gossip of the new owner take a few round-trips more. So the
   * lease's slot is served again within nodeTimeoutMs + 1 s + nodeTimeoutMs / 2 (the allowance
   * for those round-trips and for a loaded machine).
   */
  const nodeTimeoutMs = 1_000;
  const failoverMs = nodeTimeoutMs + 1_000 + nodeTimeoutMs / 2;
  let resource: RedisServer;
  let cluster: RedisClusterHandle;
  let candidates: LeaseCandidates;

  beforeAll(async () => {
    [resource, cluster] = await Promise.all([
      startRedis(),
      startCluster({ nodeTimeoutMs, replicasPerMaster: 1 }),
    ]);
    candidates = await electedCandidates({
      mode: 'leader',
      topology: 'cluster',
      // Seeded with every node, so a client still finds the Cluster when a master is gone.
      redisPorts: [...cluster.nodes, ...cluster.replicas].map((node) => node.port),
      resourcePort: resource.port,
      ...timing,
    });
  });
  afterAll(async () => {
    candidates.stop();
    await Promise.all([resource.stop(), cluster.stop()]);
  });

  it('elects a leader within the failover time + leaseMs + renewMs, with a higher token', async () => {
    const holder = await candidates.electedAfter(0);
    const masters = await Promise.all(
      cluster.nodes.map(async (node) => ({
        node,
        keys: (await node.command('KEYS', 'hyx:*')) as string[],
      })),
    );
    const holding = masters.filter((master) => master.keys.length > 0);
    // Hash tags put every key of the election on one master.
    expect(holding).toHaveLength(1);
    const master = holding[0]?.node;
    if (master === undefined) throw new Error('no master holds the election keys');
    await master.kill();
    const killedAt = Date.now();

    const next = await waitUntil(
      'a leader once the replica took over',
      () =>
        candidates.reports.find(
          (report) => report.type === 'elected' && report.atMs >= killedAt && report.token !== holder.token,
        ),
      { timeoutMs: 2 * (failoverMs + leaseMs + renewMs) },
    );
    expect(next.atMs - killedAt).toBeLessThanOrEqual(failoverMs + leaseMs + renewMs);
    expect(BigInt(next.token)).toBeGreaterThan(BigInt(holder.token));
    // The old holder stepped down before the new term began: never two leaders at once.
    const stepDown = candidates.reports.find(
      (report) => report.type === 'lost' && report.id === holder.id && report.token === holder.token,
    );
    expect(stepDown).toBeDefined();
    expect(stepDown?.atMs).toBeLessThanOrEqual(next.atMs);
    await candidates.wroteWith(next.id, next.token);
    await delay(renewMs);
    checkFencing(await acceptedWrites(resource));
  });
});
