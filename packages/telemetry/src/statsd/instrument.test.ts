import { createSocket, type Socket } from 'node:dgram';

import { StatsD } from 'hot-shots';
import { bulkhead, circuitBreaker, compose, fallback, timeout, type Work } from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { instrument, type StatsdClient } from './instrument.js';

/** A StatsD server on loopback that keeps every line it receives. */
class StatsdReceiver {
  readonly lines: string[] = [];
  readonly #socket: Socket = createSocket('udp4');
  #onLine: (() => void) | undefined;

  async start(): Promise<number> {
    this.#socket.on('message', (packet) => {
      this.lines.push(...packet.toString('utf8').split('\n').filter(Boolean));
      this.#onLine?.();
    });
    await new Promise<void>((resolve) => {
      this.#socket.bind(0, '127.0.0.1', resolve);
    });
    return this.#socket.address().port;
  }

  /** Resolves once `count` lines have arrived; rejects after `withinMs` (UDP gives no other signal). */
  async receive(count: number, withinMs = 2_000): Promise<string[]> {
    if (this.lines.length >= count) return this.lines.slice(0, count);
    return new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#onLine = undefined;
        reject(new Error(`received ${this.lines.length} of ${count} lines: ${JSON.stringify(this.lines)}`));
      }, withinMs);
      this.#onLine = () => {
        if (this.lines.length < count) return;
        clearTimeout(timer);
        this.#onLine = undefined;
        resolve(this.lines.slice(0, count));
      };
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#socket.close(() => {
        resolve();
      });
    });
  }
}

let receiver: StatsdReceiver;
let client: StatsD;
let clock: FakeClock;

beforeEach(async () => {
  receiver = new StatsdReceiver();
  const port = await receiver.start();
  // No buffering: every metric leaves in its own packet, in the order it was recorded.
  client = new StatsD({ host: '127.0.0.1', port, maxBufferSize: 0 });
  clock = new FakeClock();
});

afterEach(async () => {
  await new Promise<void>((resolve) => {
    client.close(() => {
      resolve();
    });
  });
  await receiver.close();
});

function takes(durationMs: number, outcome: { value: string } | { error: Error }): Work<string> {
  return () =>
    new Promise<string>((resolve, reject) => {
      clock.setTimeout(() => {
        if ('value' in outcome) resolve(outcome.value);
        else reject(outcome.error);
      }, durationMs);
    });
}

describe('StatsD over UDP', () => {
  it('accepts a hot-shots client as it is', () => {
    const asClient: StatsdClient = client;
    expect(asClient).toBe(client);
  });

  it('sends counters, millisecond timers and tags for a pipeline', async () => {
    const pipeline = compose(
      fallback({ name: 'fb', value: 'cached', clock }),
      timeout({ name: 'db', timeoutMs: 100, clock }),
    );
    const { policy } = instrument(pipeline, { client });
    const ok = policy.execute(takes(7, { value: 'fresh' }));
    await clock.advance(7);
    await expect(ok).resolves.toBe('fresh');
    const failed = policy.execute(takes(3, { error: new TypeError('bad json') }));
    await clock.advance(3);
    await expect(failed).resolves.toBe('cached');

    // A marker sent after the calls proves that nothing else was on the way.
    client.increment('marker', 1);
    expect(await receiver.receive(10)).toEqual([
      'hyx.events:1|c|#policy_kind:timeout,policy_name:db,event_type:execution.succeeded',
      'hyx.execution.duration:7|ms|#policy_kind:timeout,policy_name:db,outcome:success',
      'hyx.events:1|c|#policy_kind:fallback,policy_name:fb,event_type:execution.succeeded',
      'hyx.execution.duration:7|ms|#policy_kind:fallback,policy_name:fb,outcome:success',
      'hyx.events:1|c|#policy_kind:timeout,policy_name:db,event_type:execution.failed,error_type:TypeError',
      'hyx.execution.duration:3|ms|#policy_kind:timeout,policy_name:db,outcome:failure',
      'hyx.events:1|c|#policy_kind:fallback,policy_name:fb,event_type:fallback.used,reason:error',
      'hyx.events:1|c|#policy_kind:fallback,policy_name:fb,event_type:execution.succeeded',
      'hyx.execution.duration:3|ms|#policy_kind:fallback,policy_name:fb,outcome:success',
      'marker:1|c',
    ]);
  });

  it('sends the breaker state as one-hot gauges and the bulkhead levels as gauges', async () => {
    const breaker = circuitBreaker({
      name: 'payments',
      window: { kind: 'consecutive' },
      failureCount: 1,
      clock,
    });
    instrument(breaker, { client, durations: false });
    // The breaker's state when instrumented: four gauges, 1 for closed.
    const tags = 'policy_kind:circuit-breaker,policy_name:payments';
    expect(await receiver.receive(4)).toEqual([
      `hyx.circuit.state:1|g|#${tags},state:closed`,
      `hyx.circuit.state:0|g|#${tags},state:open`,
      `hyx.circuit.state:0|g|#${tags},state:half-open`,
      `hyx.circuit.state:0|g|#${tags},state:isolated`,
    ]);
    await expect(breaker.execute(() => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await clock.flush();
    const lines = await receiver.receive(10);
    expect(lines.slice(4).sort()).toEqual(
      [
        `hyx.events:1|c|#${tags},event_type:execution.failed,error_type:Error`,
        `hyx.events:1|c|#${tags},event_type:circuit.transitioned,reason:failure-count`,
        `hyx.circuit.state:0|g|#${tags},state:closed`,
        `hyx.circuit.state:1|g|#${tags},state:open`,
        `hyx.circuit.state:0|g|#${tags},state:half-open`,
        `hyx.circuit.state:0|g|#${tags},state:isolated`,
      ].sort(),
    );

    const pool = bulkhead({ name: 'pool', maxConcurrent: 2, clock });
    instrument(pool, { client, durations: false });
    const call = pool.execute(takes(5, { value: 'x' }));
    await clock.advance(5);
    await call;
    const poolTags = 'policy_kind:bulkhead,policy_name:pool';
    // The levels when instrumented, then the call's events.
    expect((await receiver.receive(19)).slice(10)).toEqual([
      `hyx.bulkhead.in_flight:0|g|#${poolTags}`,
      `hyx.bulkhead.queued:0|g|#${poolTags}`,
      `hyx.events:1|c|#${poolTags},event_type:bulkhead.acquired`,
      `hyx.bulkhead.in_flight:1|g|#${poolTags}`,
      `hyx.bulkhead.queued:0|g|#${poolTags}`,
      `hyx.events:1|c|#${poolTags},event_type:bulkhead.released`,
      `hyx.bulkhead.in_flight:0|g|#${poolTags}`,
      `hyx.bulkhead.queued:0|g|#${poolTags}`,
      `hyx.events:1|c|#${poolTags},event_type:execution.succeeded`,
    ]);
  });

  it('escapes tag values that would break the line', async () => {
    const policy = fallback({ name: 'a|b,c#d', value: 0, clock });
    instrument(policy, { client, durations: false });
    await policy.execute(() => 1);
    expect(await receiver.receive(1)).toEqual([
      'hyx.events:1|c|#policy_kind:fallback,policy_name:a_b_c_d,event_type:execution.succeeded',
    ]);
  });

  it('never lets a throwing client change a call’s result', async () => {
    const errors: unknown[] = [];
    const throwing: StatsdClient = {
      increment: () => {
        throw new Error('socket closed');
      },
      timing: () => {
        throw new Error('socket closed');
      },
      gauge: () => {
        throw new Error('socket closed');
      },
    };
    const policy = compose(
      fallback({ name: 'fb', value: 'alt', clock }),
      timeout({ name: 't', timeoutMs: 10, clock }),
    );
    instrument(policy, { client: throwing, onError: (error) => errors.push(error) });
    await expect(policy.execute(() => 'ok')).resolves.toBe('ok');
    await expect(policy.execute(() => Promise.reject(new Error('x')))).resolves.toBe('alt');
    expect(errors.length).toBeGreaterThan(0);
  });
});
