import { Registry } from 'prom-client';
import { bulkhead, circuitBreaker, compose, rateLimiter, retry, timeout } from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';
import { afterEach, expect, it } from 'vitest';

import { instrument as instrumentOpenTelemetry } from './opentelemetry/instrument.js';
import { instrument as instrumentPrometheus } from './prometheus/instrument.js';
import { OtelHarness } from './test-support/otel-harness.js';

const harness = new OtelHarness();

afterEach(async () => {
  await harness.shutdown();
});

it('creates no new series for 100,000 distinct keys, and never exports a key', async () => {
  const clock = new FakeClock();
  const pipeline = compose(
    retry({ name: 'api', maxAttempts: 2, clock }),
    circuitBreaker({ name: 'payments', clock }),
    timeout({ name: 'db', timeoutMs: 1000, clock }),
    bulkhead({ name: 'pool', maxConcurrent: 8, clock }),
    rateLimiter({ name: 'per-user', limit: 10, maxKeys: 1000, clock }),
  );
  const registry = new Registry();
  instrumentPrometheus(pipeline, { registry });
  instrumentOpenTelemetry(pipeline, { meterProvider: harness.meterProvider });
  const seriesCount = async () => {
    const metrics = await harness.collect();
    const otelSeries = [...metrics.values()].reduce((sum, metric) => sum + metric.points.length, 0);
    const promLines = (await registry.metrics())
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'));
    return { otelSeries, promLines: promLines.length };
  };

  const run = async (from: number, to: number) => {
    for (let index = from; index < to; index++) {
      await pipeline.execute(() => index, { key: `user-${index}@example.com/${index}` });
    }
  };
  await run(0, 100);
  const afterHundred = await seriesCount();
  await run(100, 100_000);
  expect(await seriesCount()).toEqual(afterHundred);

  const scrape = await registry.metrics();
  expect(scrape).not.toContain('user-');
  expect(scrape).toContain(
    'hyx_rate_limit_decisions_total{policy_kind="rate-limiter",policy_name="per-user",outcome="allowed"} 100000',
  );
  expect(scrape).toContain(
    'hyx_events_total{policy_kind="retry",policy_name="api",event_type="execution.succeeded"} 100000',
  );
  const metrics = await harness.collect();
  expect(JSON.stringify([...metrics.values()])).not.toContain('user-');
}, 60_000);
