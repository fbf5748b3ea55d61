import {
  context,
  SpanStatusCode,
  type Meter,
  type MeterProvider,
  type TracerProvider,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  backoff,
  bulkhead,
  circuitBreaker,
  compose,
  fallback,
  retry,
  timeout,
  withContext,
  type Work,
} from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { OtelHarness } from '../test-support/otel-harness.js';
import { ScriptedPolicy } from '../test-support/scripted-policy.js';
import { ATTEMPT_SPAN_NAME } from './attempt-span-policy.js';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';

import { durationProducer } from './duration-producer.js';
import { instrument } from './instrument.js';

/** Bucket counts of the duration histogram with one observation in bucket `index` (0: <= 1 ms). */
function oneIn(index: number): number[] {
  const counts = new Array<number>(14).fill(0);
  counts[index] = 1;
  return counts;
}

/** Work that takes `durationMs` on `clock`, or never settles until aborted when `durationMs` is undefined. */
function workOn(clock: FakeClock, durationMs: number | undefined, value = 'ok'): Work<string> {
  return ({ signal }) =>
    new Promise<string>((resolve, reject) => {
      signal.addEventListener('abort', () => {
        reject(signal.reason as Error);
      });
      if (durationMs !== undefined) {
        clock.setTimeout(() => {
          resolve(value);
        }, durationMs);
      }
    });
}

let harness: OtelHarness;
let clock: FakeClock;

beforeAll(() => {
  // Span events land on the active span: the app's context manager decides what is active.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});

afterAll(() => {
  context.disable();
});

beforeEach(() => {
  harness = new OtelHarness();
  clock = new FakeClock();
});

afterEach(async () => {
  await harness.shutdown();
});

describe('OpenTelemetry metrics', () => {
  it('counts the events of a single policy and records its durations in seconds', async () => {
    const policy = fallback({ name: 'prices', value: 'stale', clock });
    const { policy: instrumented } = instrument(policy, { meterProvider: harness.meterProvider });

    const first = instrumented.execute(workOn(clock, 3));
    await clock.advance(3);
    await expect(first).resolves.toBe('ok');
    const second = instrumented.execute(() => Promise.reject(new TypeError('bad gateway')));
    await expect(second).resolves.toBe('stale');

    const metrics = await harness.collect();
    expect(metrics.get('hyx.events')).toEqual({
      name: 'hyx.events',
      unit: '{event}',
      type: 'OBSERVABLE_COUNTER',
      points: [
        {
          attributes: {
            'hyx.policy.kind': 'fallback',
            'hyx.policy.name': 'prices',
            'hyx.event.type': 'execution.succeeded',
          },
          value: 2,
        },
        {
          attributes: {
            'hyx.policy.kind': 'fallback',
            'hyx.policy.name': 'prices',
            'hyx.event.type': 'fallback.used',
            'hyx.reason': 'error',
          },
          value: 1,
        },
      ],
    });
    expect(metrics.get('hyx.execution.duration')).toEqual({
      name: 'hyx.execution.duration',
      unit: 's',
      type: 'HISTOGRAM',
      points: [
        {
          attributes: {
            'hyx.policy.kind': 'fallback',
            'hyx.policy.name': 'prices',
            'hyx.outcome': 'success',
          },
          value: { count: 2, sum: 0.003, counts: [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
        },
      ],
    });
  });

  it('records every part of a retried pipeline with durations: true: timeouts, the retry and the durations', async () => {
    const pipeline = compose(
      retry({ name: 'api-retry', maxAttempts: 3, backoff: backoff.constant({ delayMs: 100 }), clock }),
      timeout({ name: 'db', timeoutMs: 50, clock }),
    );
    const { policy } = instrument(pipeline, { meterProvider: harness.meterProvider, durations: true });

    // Attempt 1 hangs until the 50 ms timeout aborts it; after a 100 ms backoff attempt 2 takes 10 ms.
    const call = policy.execute((executionContext) =>
      workOn(clock, executionContext.attempt === 1 ? undefined : 10)(executionContext),
    );
    await clock.advance(160);
    await expect(call).resolves.toBe('ok');

    const metrics = await harness.collect();
    const retryLabels = { 'hyx.policy.kind': 'retry', 'hyx.policy.name': 'api-retry' };
    const timeoutLabels = { 'hyx.policy.kind': 'timeout', 'hyx.policy.name': 'db' };
    expect(metrics.get('hyx.events')?.points).toEqual([
      { attributes: { ...retryLabels, 'hyx.event.type': 'execution.succeeded' }, value: 1 },
      {
        attributes: {
          ...retryLabels,
          'hyx.event.type': 'retry.scheduled',
          'hyx.reason': 'error',
          'error.type': 'TimeoutError',
        },
        value: 1,
      },
      {
        attributes: { ...timeoutLabels, 'hyx.event.type': 'execution.failed', 'error.type': 'TimeoutError' },
        value: 1,
      },
      { attributes: { ...timeoutLabels, 'hyx.event.type': 'execution.succeeded' }, value: 1 },
      { attributes: { ...timeoutLabels, 'hyx.event.type': 'timeout.elapsed' }, value: 1 },
    ]);
    expect(metrics.get('hyx.execution.duration')?.points).toEqual([
      {
        attributes: { ...retryLabels, 'hyx.outcome': 'success' },
        value: { count: 1, sum: 0.16, counts: oneIn(6) },
      },
      {
        attributes: { ...timeoutLabels, 'hyx.outcome': 'failure' },
        value: { count: 1, sum: 0.05, counts: oneIn(4) },
      },
      {
        attributes: { ...timeoutLabels, 'hyx.outcome': 'success' },
        value: { count: 1, sum: 0.01, counts: oneIn(2) },
      },
    ]);
  });

  it("reports a breaker's state from the start, follows its transitions and counts rejections", async () => {
    const breaker = circuitBreaker({
      name: 'payments',
      window: { kind: 'consecutive' },
      failureCount: 2,
      clock,
    });
    const { policy } = instrument(breaker, { meterProvider: harness.meterProvider });
    const stateOf = async (): Promise<Record<string, unknown>> => {
      const points = (await harness.collect()).get('hyx.circuit.state')?.points ?? [];
      return Object.fromEntries(
        points.map((point) => [String(point.attributes['hyx.circuit.state']), point.value]),
      );
    };
    expect(await stateOf()).toEqual({ closed: 1, open: 0, 'half-open': 0, isolated: 0 });

    const failing = () => Promise.reject(new Error('declined'));
    await expect(policy.execute(failing)).rejects.toThrow('declined');
    await expect(policy.execute(failing)).rejects.toThrow('declined');
    await expect(policy.execute(failing)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });

    expect(await stateOf()).toEqual({ closed: 0, open: 1, 'half-open': 0, isolated: 0 });
    const metrics = await harness.collect();
    const labels = { 'hyx.policy.kind': 'circuit-breaker', 'hyx.policy.name': 'payments' };
    expect(metrics.get('hyx.circuit.state')?.unit).toBe('1');
    expect(metrics.get('hyx.events')?.points).toEqual([
      {
        attributes: { ...labels, 'hyx.event.type': 'call.rejected', 'hyx.reason': 'circuit-open' },
        value: 1,
      },
      {
        attributes: { ...labels, 'hyx.event.type': 'circuit.transitioned', 'hyx.reason': 'failure-count' },
        value: 1,
      },
      { attributes: { ...labels, 'hyx.event.type': 'execution.failed', 'error.type': 'Error' }, value: 2 },
    ]);
  });

  it('reports bulkhead in-flight and queued calls as up-down counters', async () => {
    const pool = bulkhead({ name: 'pool', maxConcurrent: 1, maxQueue: 2, clock });
    const { policy } = instrument(pool, { meterProvider: harness.meterProvider });
    const levels = async () => {
      const metrics = await harness.collect();
      return [metrics.get('hyx.bulkhead.in_flight'), metrics.get('hyx.bulkhead.queued')].map((metric) => [
        metric?.type,
        metric?.unit,
        metric?.points.map((point) => point.value),
      ]);
    };

    // The levels are known from the start, then three calls of 10 ms each: one runs, two wait.
    expect(await levels()).toEqual([
      ['OBSERVABLE_UP_DOWN_COUNTER', '{call}', [0]],
      ['OBSERVABLE_UP_DOWN_COUNTER', '{call}', [0]],
    ]);
    const calls = [
      policy.execute(workOn(clock, 10)),
      policy.execute(workOn(clock, 10)),
      policy.execute(workOn(clock, 10)),
    ];
    await clock.flush();
    expect(await levels()).toEqual([
      ['OBSERVABLE_UP_DOWN_COUNTER', '{call}', [1]],
      ['OBSERVABLE_UP_DOWN_COUNTER', '{call}', [0]],
    ]);
    await clock.advance(10);
    // The first released with two queued, then the second was granted with one left in the queue.
    expect(await levels()).toEqual([
      ['OBSERVABLE_UP_DOWN_COUNTER', '{call}', [1]],
      ['OBSERVABLE_UP_DOWN_COUNTER', '{call}', [1]],
    ]);
    await clock.advance(20);
    await Promise.all(calls);
    expect(await levels()).toEqual([
      ['OBSERVABLE_UP_DOWN_COUNTER', '{call}', [0]],
      ['OBSERVABLE_UP_DOWN_COUNTER', '{call}', [0]],
    ]);
  });

  it('counts rate-limit decisions by outcome, and by source when the limiter says which path decided', async () => {
    const limiter = new ScriptedPolicy('rate-limiter', 'search');
    instrument(limiter, { meterProvider: harness.meterProvider });
    const decided = {
      type: 'rate-limit.decided',
      policyKind: 'rate-limiter',
      policyName: 'search',
      cost: 1,
    } as const;
    limiter.emit({ ...decided, allowed: true });
    limiter.emit({ ...decided, allowed: true });
    limiter.emit({ ...decided, allowed: false });
    limiter.emit({ ...decided, allowed: true, source: 'fallback' });

    const metrics = await harness.collect();
    const labels = { 'hyx.policy.kind': 'rate-limiter', 'hyx.policy.name': 'search' };
    expect(metrics.get('hyx.rate_limit.decisions')).toEqual({
      name: 'hyx.rate_limit.decisions',
      unit: '{decision}',
      type: 'OBSERVABLE_COUNTER',
      points: [
        {
          attributes: { ...labels, 'hyx.outcome': 'allowed', 'hyx.rate_limit.source': 'fallback' },
          value: 1,
        },
        { attributes: { ...labels, 'hyx.outcome': 'allowed' }, value: 2 },
        { attributes: { ...labels, 'hyx.outcome': 'rejected' }, value: 1 },
      ],
    });
  });

  it("records by default only the outermost policy's duration of a pipeline, nested ones included", async () => {
    const pipeline = compose(
      compose(
        retry({ name: 'api-retry', maxAttempts: 3, backoff: backoff.constant({ delayMs: 100 }), clock }),
        timeout({ name: 'db', timeoutMs: 50, clock }),
      ),
      fallback({ name: 'inner', value: 'alt', clock }),
    );
    const { policy } = instrument(pipeline, { meterProvider: harness.meterProvider });
    const call = policy.execute((executionContext) =>
      workOn(clock, executionContext.attempt === 1 ? undefined : 10)(executionContext),
    );
    await clock.advance(160);
    await expect(call).resolves.toBe('ok');

    const metrics = await harness.collect();
    expect(metrics.get('hyx.execution.duration')?.points).toEqual([
      {
        attributes: { 'hyx.policy.kind': 'retry', 'hyx.policy.name': 'api-retry', 'hyx.outcome': 'success' },
        value: { count: 1, sum: 0.16, counts: oneIn(6) },
      },
    ]);
    // Every part's events are still counted.
    expect(
      metrics
        .get('hyx.events')
        ?.points.map(
          (point) =>
            `${String(point.attributes['hyx.policy.name'])} ${String(point.attributes['hyx.event.type'])}`,
        ),
    ).toEqual([
      'inner execution.failed',
      'inner execution.succeeded',
      'api-retry execution.succeeded',
      'api-retry retry.scheduled',
      'db execution.failed',
      'db execution.succeeded',
      'db timeout.elapsed',
    ]);
  });

  it('records durations only of the policies the durations option selects', async () => {
    const pipeline = compose(
      fallback({ name: 'outer', value: 0, clock }),
      fallback({ name: 'inner', value: 0, clock }),
    );
    const { policy } = instrument(pipeline, {
      meterProvider: harness.meterProvider,
      durations: ({ name }) => name === 'outer',
    });
    await policy.execute(() => 1);
    const metrics = await harness.collect();
    expect(
      metrics.get('hyx.execution.duration')?.points.map((point) => point.attributes['hyx.policy.name']),
    ).toEqual(['outer']);
    expect(metrics.get('hyx.events')?.points.map((point) => point.attributes['hyx.policy.name'])).toEqual([
      'inner',
      'outer',
    ]);
  });

  it('stops recording after detach, and detach twice does nothing', async () => {
    const policy = fallback({ name: 'f', value: 0, clock });
    const { detach } = instrument(policy, { meterProvider: harness.meterProvider });
    await policy.execute(() => 1);
    detach();
    detach();
    await policy.execute(() => 1);
    const metrics = await harness.collect();
    expect(metrics.get('hyx.events')).toBeUndefined();
    expect(metrics.get('hyx.execution.duration')?.points.map((point) => point.value)).toEqual([
      { count: 1, sum: 0, counts: oneIn(0) },
    ]);
  });
});

describe('OpenTelemetry durations through a durationProducer', () => {
  /** The retried pipeline of the `durations: true` case above, run once on `clock`. */
  async function runRetriedPipeline(options: Parameters<typeof instrument>[1]): Promise<void> {
    const pipeline = compose(
      retry({ name: 'api-retry', maxAttempts: 3, backoff: backoff.constant({ delayMs: 100 }), clock }),
      timeout({ name: 'db', timeoutMs: 50, clock }),
    );
    const { policy } = instrument(pipeline, options);
    const call = policy.execute((executionContext) =>
      workOn(clock, executionContext.attempt === 1 ? undefined : 10)(executionContext),
    );
    await clock.advance(160);
    await expect(call).resolves.toBe('ok');
  }

  it("reports every part's durations through the reader, exactly as the SDK histogram does", async () => {
    await runRetriedPipeline({ meterProvider: harness.meterProvider, durations: true });
    const fromSdk = (await harness.collect()).get('hyx.execution.duration');

    const durations = durationProducer();
    // The SDK's own type: a producer is what a MetricReader's `metricProducers` takes.
    const asSdkProducer: MetricProducer = durations;
    const withProducer = new OtelHarness([asSdkProducer]);
    try {
      await runRetriedPipeline({ meterProvider: withProducer.meterProvider, durationProducer: durations });
      const metrics = await withProducer.collect();
      expect(fromSdk?.points).toHaveLength(3);
      expect(metrics.get('hyx.execution.duration')).toEqual(fromSdk);
      // The events are still counted by the SDK side, as without a producer.
      expect(metrics.get('hyx.events')?.points).toHaveLength(5);
    } finally {
      await withProducer.shutdown();
    }
  });

  it('sums the series of two instrumentations with equal names, and keeps what a detached one counted', async () => {
    const durations = durationProducer({ clock });
    const withProducer = new OtelHarness([durations]);
    try {
      const options = { meterProvider: withProducer.meterProvider, durationProducer: durations };
      const first = instrument(timeout({ name: 'db', timeoutMs: 50, clock }), options);
      const second = instrument(timeout({ name: 'db', timeoutMs: 50, clock }), options);
      const calls = [first, second, second].map(({ policy }) => policy.execute(workOn(clock, 20)));
      await clock.advance(20);
      await Promise.all(calls);
      const labels = { 'hyx.policy.kind': 'timeout', 'hyx.policy.name': 'db', 'hyx.outcome': 'success' };
      const counts = new Array<number>(14).fill(0);
      counts[3] = 3;
      expect((await withProducer.collect()).get('hyx.execution.duration')?.points).toEqual([
        { attributes: labels, value: { count: 3, sum: 0.06, counts } },
      ]);
      // A cumulative point never goes down: what the detached one counted stays, new calls add.
      second.detach();
      second.detach();
      const more = first.policy.execute(workOn(clock, 20));
      await clock.advance(20);
      await more;
      counts[3] = 4;
      expect((await withProducer.collect()).get('hyx.execution.duration')?.points).toEqual([
        { attributes: labels, value: { count: 4, sum: 0.08, counts } },
      ]);
      first.detach();
      const afterBoth = (await withProducer.collect()).get('hyx.execution.duration')?.points;
      expect(afterBoth).toEqual([{ attributes: labels, value: { count: 4, sum: 0.08, counts } }]);
      // Times come from the producer's clock: attached at 0, collected at 40 ms.
      const { resourceMetrics } = await durations.collect();
      const point = resourceMetrics.scopeMetrics[0]?.metrics[0]?.dataPoints[0];
      expect([point?.startTime, point?.endTime]).toEqual([
        [0, 0],
        [0, 40_000_000],
      ]);
    } finally {
      await withProducer.shutdown();
    }
  });

  it('refuses a clock that is not one', () => {
    expect(() => durationProducer({ clock: {} as never })).toThrow(
      new TypeError('durationProducer: clock must be a Clock, got object'),
    );
  });

  it('refuses a producer that durationProducer() did not make', () => {
    const forged = { collect: () => durationProducer().collect() };
    expect(() => instrument(timeout({ timeoutMs: 50 }), { durationProducer: forged })).toThrow(
      new TypeError('instrument: durationProducer must come from durationProducer()'),
    );
  });
});

describe('OpenTelemetry traces', () => {
  it('marks the active span with timeouts and retries, and opens one span per attempt with its number', async () => {
    const pipeline = compose(
      retry({ name: 'api-retry', maxAttempts: 3, backoff: backoff.constant({ delayMs: 100 }), clock }),
      timeout({ name: 'db', timeoutMs: 50, clock }),
    );
    const { policy } = instrument(pipeline, {
      meterProvider: harness.meterProvider,
      tracerProvider: harness.tracerProvider,
      spans: 'attempts',
    });
    const tracer = harness.tracerProvider.getTracer('app');
    const call = withContext({ correlationId: 'req-1' }, () =>
      tracer.startActiveSpan('GET /prices', async (span) => {
        try {
          return await policy.execute((executionContext) =>
            workOn(clock, executionContext.attempt === 1 ? undefined : 10)(executionContext),
          );
        } finally {
          span.end();
        }
      }),
    );
    await clock.advance(160);
    await expect(call).resolves.toBe('ok');

    const [first, second, request] = harness.spans();
    expect(request?.name).toBe('GET /prices');
    expect(request?.events.map((event) => [event.name, event.attributes])).toEqual([
      [
        'hyx.timeout.elapsed',
        {
          'hyx.policy.kind': 'timeout',
          'hyx.policy.name': 'db',
          'hyx.correlation_id': 'req-1',
          'hyx.timeout_ms': 50,
        },
      ],
      [
        'hyx.retry.scheduled',
        {
          'hyx.policy.kind': 'retry',
          'hyx.policy.name': 'api-retry',
          'hyx.correlation_id': 'req-1',
          'hyx.attempt': 1,
          'hyx.retry.delay_ms': 100,
          'hyx.reason': 'error',
          'error.type': 'TimeoutError',
        },
      ],
    ]);
    const requestId = request?.spanContext().spanId;
    expect(
      [first, second].map((span) => [span?.name, span?.parentSpanContext?.spanId, span?.attributes]),
    ).toEqual([
      [
        ATTEMPT_SPAN_NAME,
        requestId,
        {
          'hyx.policy.kind': 'pipeline',
          'hyx.policy.name': 'api-retry>db',
          'hyx.attempt': 1,
          'error.type': 'TimeoutError',
        },
      ],
      [
        ATTEMPT_SPAN_NAME,
        requestId,
        { 'hyx.policy.kind': 'pipeline', 'hyx.policy.name': 'api-retry>db', 'hyx.attempt': 2 },
      ],
    ]);
    expect(first?.status.code).toBe(SpanStatusCode.ERROR);
    expect(first?.events.map((event) => event.name)).toEqual(['exception']);
    expect(second?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('refuses a work that is not a function at once, as the policy does, opening no span', async () => {
    const { policy } = instrument(retry({ name: 'r', maxAttempts: 3, clock }), {
      meterProvider: harness.meterProvider,
      tracerProvider: harness.tracerProvider,
      spans: 'attempts',
    });
    await expect(policy.execute(42 as never)).rejects.toThrow(
      new TypeError('retry "r": execute expects a function, got 42'),
    );
    expect(harness.spans().filter((span) => span.name === ATTEMPT_SPAN_NAME)).toEqual([]);
  });

  it('makes the attempt span active inside the work, so the work’s own spans nest under it', async () => {
    const { policy } = instrument(fallback({ name: 'f', value: 'alt', clock }), {
      meterProvider: harness.meterProvider,
      tracerProvider: harness.tracerProvider,
      spans: 'attempts',
    });
    const tracer = harness.tracerProvider.getTracer('app');
    await policy.execute(() => {
      tracer.startActiveSpan('db query', (span) => {
        span.end();
      });
    });
    const [query, attempt] = harness.spans();
    expect(query?.parentSpanContext?.spanId).toBe(attempt?.spanContext().spanId);
    expect(attempt?.name).toBe(ATTEMPT_SPAN_NAME);
  });

  it('adds no span events when spanEvents is false, and none outside a recording span', async () => {
    const policy = fallback({ name: 'f', value: 'alt', clock });
    instrument(policy, { meterProvider: harness.meterProvider, spanEvents: false });
    const tracer = harness.tracerProvider.getTracer('app');
    await tracer.startActiveSpan('request', async (span) => {
      await policy.execute(() => Promise.reject(new Error('x')));
      span.end();
    });
    await expect(policy.execute(() => Promise.reject(new Error('outside any span')))).resolves.toBe('alt');
    expect(harness.spans().map((span) => span.events.length)).toEqual([0]);
  });
});

describe('a failing OpenTelemetry backend', () => {
  const boom = () => {
    throw new Error('backend down');
  };
  /** A meter whose every instrument throws when used, and that throws on registering callbacks. */
  const throwingMeterProvider: MeterProvider = {
    getMeter: () =>
      ({
        createHistogram: () => ({ record: boom }),
        createObservableCounter: () => ({}),
        createObservableGauge: () => ({}),
        createObservableUpDownCounter: () => ({}),
        addBatchObservableCallback: () => undefined,
        removeBatchObservableCallback: boom,
      }) as unknown as Meter,
  };
  const throwingTracerProvider: TracerProvider = {
    getTracer: () => ({ startSpan: boom, startActiveSpan: boom }),
  };

  it('never changes a call’s result, runs the work once, and reports the error', async () => {
    const errors: unknown[] = [];
    const pipeline = compose(
      fallback({ name: 'f', value: 'alt', clock }),
      timeout({ name: 't', timeoutMs: 50, clock }),
    );
    const { policy, detach } = instrument(pipeline, {
      meterProvider: throwingMeterProvider,
      tracerProvider: throwingTracerProvider,
      spans: 'attempts',
      onError: (error) => errors.push(error),
    });
    let runs = 0;
    await expect(
      policy.execute(() => {
        runs++;
        return 'ok';
      }),
    ).resolves.toBe('ok');
    await expect(policy.execute(() => Promise.reject(new Error('x')))).resolves.toBe('alt');
    detach();
    expect(runs).toBe(1);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((error) => error instanceof Error && error.message === 'backend down')).toBe(true);
  });

  it('reports one process warning by default', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const { policy } = instrument(fallback({ name: 'f', value: 'alt', clock }), {
        meterProvider: throwingMeterProvider,
      });
      await policy.execute(() => 1);
      await policy.execute(() => 2);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((warning) => [warning.name, warning.message])).toEqual([
      ['HyxTelemetryWarning', 'hyx telemetry: the OpenTelemetry backend threw and was ignored: backend down'],
    ]);
  });
});
