import { setTimeout as delay } from 'node:timers/promises';
import { leaderElection, type LeaderElection } from '@hyx/distributed';
import type { ResilienceEvent } from '@hyx/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis-harness.js';

describe('leaderElection on a single Redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  const candidate = (name: string): { election: LeaderElection; events: ResilienceEvent[] } => {
    const election = leaderElection({ redis: server.connect(), name, leaseMs: 300, renewMs: 60 });
    const events: ResilienceEvent[] = [];
    election.onEvent((event) => events.push(event));
    return { election, events };
  };

  it('runs the work of one candidate at a time and hands over when it returns', async () => {
    const a = candidate('handover');
    const b = candidate('handover');
    let running = 0;
    let maxRunning = 0;
    const tokens: bigint[] = [];
    const work = async ({ fencingToken }: { fencingToken: bigint }) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      tokens.push(fencingToken);
      await delay(400); // longer than the lease: renewals keep the term
      running--;
      return fencingToken;
    };
    const [tokenA, tokenB] = await Promise.all([
      a.election.runWhileLeader(work),
      b.election.runWhileLeader(work),
    ]);
    expect(maxRunning).toBe(1);
    expect(tokenA).not.toBe(tokenB);
    expect(tokens[1]).toBeGreaterThan(tokens[0] ?? 0n);
    expect(a.election.isLeader).toBe(false);
    expect(a.events.map((event) => event.type)).toEqual(['leader.elected', 'leader.lost']);
    expect(a.events[1]).toMatchObject({
      policyKind: 'leader-election',
      policyName: 'handover',
      reason: 'released',
    });
  });

  it('is leader while the work runs, and stops on the caller’s signal with its reason', async () => {
    const { election, events } = candidate('stoppable');
    const controller = new AbortController();
    const running = election.runWhileLeader(
      async ({ signal }) => {
        expect(election.isLeader).toBe(true);
        expect(election.fencingToken).toBeTypeOf('bigint');
        controller.abort(new Error('shutting down'));
        expect(signal.aborted).toBe(true);
        await delay(1);
      },
      { signal: controller.signal },
    );
    await expect(running).rejects.toThrow('shutting down');
    expect(election.isLeader).toBe(false);
    expect(events.at(-1)).toMatchObject({ type: 'leader.lost', reason: 'released' });
  });

  it('a term lost to a stalled event loop ends at its validity deadline, not when the late event comes', async () => {
    const { election, events } = candidate('stalled');
    const leaseMs = 300;
    let stallStartMs = 0;
    let stallEndMs = 0;
    const controller = new AbortController();
    const running = election.runWhileLeader(
      async ({ signal }) => {
        // The stall itself is what is tested: no timer or renewal can run during it.
        stallStartMs = Date.now();
        while (Date.now() - stallStartMs < leaseMs * 2);
        stallEndMs = Date.now();
        // A stalled leader knows at once, synchronously, that it no longer leads.
        expect(election.isLeader).toBe(false);
        expect(signal.aborted).toBe(true);
        controller.abort(new Error('done'));
      },
      { signal: controller.signal },
    );
    await expect(running).rejects.toThrow('done');
    const lost = events.find((event) => event.type === 'leader.lost');
    expect(lost).toMatchObject({ reason: 'renewal-deadline' });
    const endedAtMs = lost?.type === 'leader.lost' ? lost.endedAtMs : Infinity;
    // The term's validity ran out within the stall, a lease after it began at the latest.
    expect(endedAtMs).toBeLessThanOrEqual(stallStartMs + leaseMs);
    expect(endedAtMs).toBeLessThan(stallEndMs);
  });

  it('campaigns again after losing a term, with a new token', async () => {
    const { election, events } = candidate('regained');
    const seen: bigint[] = [];
    const result = await election.runWhileLeader(async ({ signal, fencingToken }) => {
      seen.push(fencingToken);
      if (seen.length === 1) {
        await server.command('DEL', 'hyx:{regained:}:leader-election:owner'); // the term is lost
        await new Promise((resolve) => {
          signal.addEventListener('abort', resolve, { once: true });
        });
        return 'first';
      }
      return 'second';
    });
    expect(result).toBe('second');
    expect(seen[1]).toBeGreaterThan(seen[0] ?? 0n);
    expect(
      events.map((event) => (event.type === 'leader.lost' ? `lost:${event.reason}` : event.type)),
    ).toEqual(['leader.elected', 'lost:not-owner', 'leader.elected', 'lost:released']);
  });
});
