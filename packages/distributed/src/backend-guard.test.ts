import { FakeClock } from '@hyx/local/testing';
import { describe, expect, it } from 'vitest';

import {
  BackendDisconnectedError,
  CommandTimeoutError,
  OutageTracker,
  isDisconnected,
  CommandTimeouts,
  type BackendTransition,
} from './backend-guard.js';
import type { RedisLike } from './redis-like.js';

/** A client with an ioredis `status`, or none when `status` is undefined. */
function clientWithStatus(status: string | undefined): RedisLike {
  const client: RedisLike = { evalsha: () => Promise.resolve(0), eval: () => Promise.resolve(0) };
  return status === undefined ? client : Object.assign(client, { status });
}

/** A tracker on a fake clock that keeps what it reports. */
function recordingTracker(startMs = 1_000): {
  readonly clock: FakeClock;
  readonly tracker: OutageTracker;
  readonly reported: BackendTransition[];
} {
  const clock = new FakeClock(startMs);
  const reported: BackendTransition[] = [];
  const tracker = new OutageTracker(clock, 'local', (transition) => reported.push(transition));
  return { clock, tracker, reported };
}

/** A promise that never settles: a command Redis never answers. */
function unanswered(): Promise<never> {
  return new Promise<never>(() => undefined);
}

describe('CommandTimeouts', () => {
  it('rejects with a CommandTimeoutError naming commandTimeoutMs once the clock reaches it', async () => {
    const clock = new FakeClock();
    let error: unknown;
    const call = new CommandTimeouts(clock, 100).within(unanswered()).catch((caught: unknown) => {
      error = caught;
    });
    await clock.advance(99);
    expect(error).toBeUndefined();
    await clock.advance(1);
    await call;
    expect(error).toBeInstanceOf(CommandTimeoutError);
    expect(error).toMatchObject({
      name: 'CommandTimeoutError',
      message: 'Redis did not answer within commandTimeoutMs (100 ms)',
    });
    expect(clock.pendingTimers).toBe(0);
  });

  it('resolves with the reply and clears its timer when Redis answers in time', async () => {
    const clock = new FakeClock();
    const call = new CommandTimeouts(clock, 100).within(Promise.resolve('OK'));
    expect(clock.pendingTimers).toBe(1);
    await expect(call).resolves.toBe('OK');
    expect(clock.pendingTimers).toBe(0);
  });

  it("rejects with Redis's own error and clears its timer when the command fails in time", async () => {
    const clock = new FakeClock();
    const refused = new Error('connect ECONNREFUSED');
    await expect(new CommandTimeouts(clock, 100).within(Promise.reject(refused))).rejects.toBe(refused);
    expect(clock.pendingTimers).toBe(0);
  });

  it('ignores an answer that comes after the timeout', async () => {
    const clock = new FakeClock();
    let answer!: (reply: string) => void;
    const late = new Promise<string>((resolve) => {
      answer = resolve;
    });
    const call = new CommandTimeouts(clock, 50).within(late);
    const outcome = call.then(
      () => 'resolved',
      (error: unknown) => (error as Error).name,
    );
    await clock.advance(50);
    answer('OK');
    await expect(outcome).resolves.toBe('CommandTimeoutError');
    expect(clock.pendingTimers).toBe(0);
  });

  it('times each command out timeoutMs after it was sent, on one timer', async () => {
    const clock = new FakeClock();
    const timeouts = new CommandTimeouts(clock, 100);
    const failedAtMs: number[] = [];
    const first = timeouts.within(unanswered()).catch(() => failedAtMs.push(clock.now()));
    await clock.advance(40);
    const answered = timeouts.within(Promise.resolve('OK'));
    const second = timeouts.within(unanswered()).catch(() => failedAtMs.push(clock.now()));
    expect(clock.pendingTimers).toBe(1);
    await expect(answered).resolves.toBe('OK');
    await clock.advance(60);
    expect(failedAtMs).toEqual([100]);
    await clock.advance(40);
    await Promise.all([first, second]);
    expect(failedAtMs).toEqual([100, 140]);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('BackendDisconnectedError', () => {
  it('says the client is not connected', () => {
    const error = new BackendDisconnectedError();
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('BackendDisconnectedError');
    expect(error.message).toBe('the Redis client is not connected');
  });
});

describe('isDisconnected', () => {
  it.each([
    // [status, hasConnected, isDisconnected]
    [undefined, false, false],
    [undefined, true, false],
    ['wait', false, false],
    ['connecting', false, false],
    ['connect', false, false],
    ['ready', false, false],
    ['reconnecting', false, true],
    ['close', false, true],
    ['end', false, true],
    ['wait', true, true],
    ['connecting', true, true],
    ['ready', true, false],
    ['reconnecting', true, true],
    ['end', true, true],
  ] as const)('status %s, hasConnected %s: %s', (status, hasConnected, expected) => {
    expect(isDisconnected(clientWithStatus(status), hasConnected)).toBe(expected);
  });
});

describe('OutageTracker', () => {
  it("reports 'failed' once per outage, with the first error and the fallback", () => {
    const { tracker, reported } = recordingTracker();
    const first = new Error('ECONNREFUSED');
    expect(tracker.isDown).toBe(false);
    tracker.failed(first);
    tracker.failed(new Error('again'));
    expect(tracker.isDown).toBe(true);
    expect(reported).toEqual([{ type: 'failed', error: first, fallback: 'local' }]);
  });

  it("reports 'recovered' with how long the outage lasted on the clock", async () => {
    const { clock, tracker, reported } = recordingTracker();
    tracker.failed(new Error('ECONNREFUSED'));
    await clock.advance(250);
    tracker.succeeded();
    tracker.succeeded();
    expect(tracker.isDown).toBe(false);
    expect(reported.slice(1)).toEqual([{ type: 'recovered', outageMs: 250 }]);
  });

  it('reports nothing on a success outside an outage', () => {
    const { tracker, reported } = recordingTracker();
    tracker.succeeded();
    expect(reported).toEqual([]);
    expect(tracker.isDown).toBe(false);
  });

  it('reports a second outage after a recovery', async () => {
    const { clock, tracker, reported } = recordingTracker();
    tracker.failed('first');
    await clock.advance(10);
    tracker.succeeded();
    tracker.failed('second');
    await clock.advance(30);
    tracker.succeeded();
    expect(reported.map((transition) => transition.type)).toEqual([
      'failed',
      'recovered',
      'failed',
      'recovered',
    ]);
    expect(reported[3]).toEqual({ type: 'recovered', outageMs: 30 });
  });

  it('ignores a listener that throws, and still tracks the outage', () => {
    const clock = new FakeClock();
    let heard = 0;
    const tracker = new OutageTracker(clock, 'reject', () => {
      heard++;
      throw new Error('listener bug');
    });
    expect(() => {
      tracker.failed(new Error('ECONNREFUSED'));
    }).not.toThrow();
    expect(tracker.isDown).toBe(true);
    expect(() => {
      tracker.succeeded();
    }).not.toThrow();
    expect(tracker.isDown).toBe(false);
    expect(heard).toBe(2);
  });

  it('tracks outages without a listener', () => {
    const tracker = new OutageTracker(new FakeClock(), 'allow', undefined);
    tracker.failed(new Error('ECONNREFUSED'));
    expect(tracker.isDown).toBe(true);
    tracker.succeeded();
    expect(tracker.isDown).toBe(false);
  });
});
