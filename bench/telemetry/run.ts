/**
 * ns per call that telemetry adds to a 4-policy pipeline (retry > circuit breaker > timeout >
 * bulkhead), measured with mitata in one process: no listener, an empty listener (the cost of hyx's
 * own events), the OpenTelemetry adapter on the real SDK with a no-op exporter (by default, which
 * records the outermost policy's duration; with every part's duration; without durations; with every
 * part's duration counted in process and reported by a `durationProducer`), and the
 * prom-client adapter. Never a pass/fail test: the figures go to
 * docs/benchmarks.md.
 *
 * Run: npm run build && npx tsx bench/telemetry/run.ts [name filter] (@hyx/local and @hyx/telemetry
 * load from dist).
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { measure } from 'mitata';
import { bulkhead, circuitBreaker, compose, retry, timeout, type Policy } from '@hyx/local';
import { durationProducer, instrument as instrumentOpenTelemetry } from '@hyx/telemetry/opentelemetry';
import { instrument as instrumentPrometheus } from '@hyx/telemetry/prometheus';

/** An exporter that drops everything: the SDK still aggregates, nothing leaves the process. */
class NoopExporter implements PushMetricExporter {
  export(_metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    resultCallback({ code: ExportResultCode.SUCCESS });
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function pipeline(): Policy {
  return compose(
    retry({ name: 'api', maxAttempts: 3 }),
    circuitBreaker({ name: 'payments' }),
    timeout({ name: 'db', timeoutMs: 1000 }),
    bulkhead({ name: 'pool', maxConcurrent: 64 }),
  );
}

const work = async (): Promise<number> => 1;

const meterProvider = new MeterProvider({
  readers: [
    new PeriodicExportingMetricReader({ exporter: new NoopExporter(), exportIntervalMillis: 10_000 }),
  ],
});

const bare = pipeline();
const withEmptyListener = pipeline();
withEmptyListener.onEvent(() => {});
const withOpenTelemetry = instrumentOpenTelemetry(pipeline(), { meterProvider }).policy;
const withOpenTelemetryAllDurations = instrumentOpenTelemetry(pipeline(), {
  meterProvider,
  durations: true,
}).policy;
const withOpenTelemetryNoDurations = instrumentOpenTelemetry(pipeline(), {
  meterProvider,
  durations: false,
}).policy;
// Durations counted in process and handed to the reader at collection (every part's, by default).
const durations = durationProducer();
const producerMeterProvider = new MeterProvider({
  readers: [
    new PeriodicExportingMetricReader({
      exporter: new NoopExporter(),
      exportIntervalMillis: 10_000,
      metricProducers: [durations],
    }),
  ],
});
const withOpenTelemetryProducer = instrumentOpenTelemetry(pipeline(), {
  meterProvider: producerMeterProvider,
  durationProducer: durations,
}).policy;
const withPrometheus = instrumentPrometheus(pipeline(), { registry: new Registry() }).policy;

const cases: readonly { readonly name: string; readonly fn: () => Promise<unknown> }[] = [
  { name: 'no listener', fn: () => bare.execute(work) },
  { name: 'empty listener (hyx events only)', fn: () => withEmptyListener.execute(work) },
  { name: 'OpenTelemetry (SDK, no-op exporter)', fn: () => withOpenTelemetry.execute(work) },
  {
    name: 'OpenTelemetry, durations: true (every part)',
    fn: () => withOpenTelemetryAllDurations.execute(work),
  },
  { name: 'OpenTelemetry, durations: false', fn: () => withOpenTelemetryNoDurations.execute(work) },
  {
    name: 'OpenTelemetry, durationProducer (every part)',
    fn: () => withOpenTelemetryProducer.execute(work),
  },
  { name: 'prom-client', fn: () => withPrometheus.execute(work) },
];

function formatNs(ns: number): string {
  return ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`;
}

// An argument runs only the cases whose name contains it (one case per process is the least noisy).
const filter = process.argv[2];
const rows: { name: string; avgNs: number; p50Ns: number; p99Ns: number }[] = [];
for (const benchCase of cases) {
  if (filter !== undefined && !benchCase.name.includes(filter)) continue;
  // One warm-up round outside the measurement so lazy setup (first timer, JIT) is not counted.
  await benchCase.fn();
  const stats = await measure(benchCase.fn, { min_cpu_time: 500 * 1e6 });
  rows.push({ name: benchCase.name, avgNs: stats.avg, p50Ns: stats.p50, p99Ns: stats.p99 });
  process.stdout.write(`${benchCase.name.padEnd(40)} ${formatNs(stats.avg).padStart(10)}\n`);
}

const baseline = rows.find((row) => row.name === 'no listener')?.avgNs ?? 0;
const lines = [
  '| 4-policy pipeline (retry > breaker > timeout > bulkhead) | avg / call | p50 | p99 | added vs no listener |',
  '|---|---:|---:|---:|---:|',
  ...rows.map(
    (row) =>
      `| ${row.name} | ${formatNs(row.avgNs)} | ${formatNs(row.p50Ns)} | ${formatNs(row.p99Ns)} | ${
        baseline === 0 || row.avgNs === baseline ? '' : `+${formatNs(row.avgNs - baseline)}`
      } |`,
  ),
];
process.stdout.write(
  `\n${lines.join('\n')}\n\nnode ${process.version}, ${process.platform}/${process.arch}\n`,
);
await meterProvider.shutdown();
await producerMeterProvider.shutdown();
