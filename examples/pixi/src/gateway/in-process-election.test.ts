import { describe, expect, it } from 'vitest';

import type { ResilienceEvent } from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

import { InProcessElectionGroup } from './in-process-election.js';

const untilAborted = ({ signal }: { signal: AbortSignal }): Promise<void> =>
  new Promise((resolve) => {
    signal.addEventListener('abort', () => {
      resolve();
    });
  });

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the in-process election', () => {
  it('one leader at a time; a dead leader is replaced only after its lease, with a greater token', async () => {
    const clock = new FakeClock(0);
    const group = new InProcessElectionGroup('recovery', 2_000, clock);
    const [a, b, c] = [group.candidate(), group.candidate(), group.candidate()];
    const events: string[] = [];
    for (const [name, candidate] of [
      ['a', a],
      ['b', b],
      ['c', c],
    ] as const)
      candidate.onEvent((event: ResilienceEvent) => events.push(`${name}:${event.type}`));
    const lives = [new AbortController(), new AbortController(), new AbortController()];
    const campaigns = [a, b, c].map((candidate, index) =>
      candidate.runWhileLeader(untilAborted, { signal: lives[index]?.signal }).catch(() => undefined),
    );
    await flush();
    expect([a.isLeader, b.isLeader, c.isLeader]).toEqual([true, false, false]);
    expect(a.fencingToken).toBe(1n);

    lives[0]?.abort(new Error('killed'));
    await flush();
    // Dead, but its term has not lapsed: nobody leads yet.
    expect([a.isLeader, b.isLeader, c.isLeader]).toEqual([false, false, false]);
    await clock.advance(1_999);
    await flush();
    expect(b.isLeader || c.isLeader).toBe(false);
    await clock.advance(1);
    await flush();
    expect([b.isLeader, c.isLeader].filter(Boolean)).toHaveLength(1);
    const next = b.isLeader ? b : c;
    expect(next.fencingToken).toBe(2n);
    expect(events.filter((event) => event.endsWith('leader.elected'))).toHaveLength(2);

    for (const life of lives) life.abort(new Error('stop'));
    await clock.advance(2_000);
    await Promise.all(campaigns);
  });
});
