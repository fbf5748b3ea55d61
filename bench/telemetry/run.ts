/**
 * ns per call that telemetry adds to a 4-policy pipeline (retry > circuit breaker > timeout >
 * bulkhead), measured in one process in alternating rounds, each case against "no listener" of the
 * same round: no listener, an empty listener (the cost of hyx's
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

const ROUNDS = 12;
const CALLS_PER_ROUND = 40_000;

/** ns per call of `CALLS_PER_ROUND` sequential calls. */
async function timeRound(fn: () => Promise<unknown>): Promise<number> {
  const startedAt = process.hrtime.bigint();
  for (let call = 0; call < CALLS_PER_ROUND; call++) await fn();
  return Number(process.hrtime.bigint() - startedAt) / CALLS_PER_ROUND;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}

// An argument keeps only the cases whose name contains it (and always "no listener", the base).
// Every round times each case once, in an order reversed every other round; what a case adds is
// the median over rounds of (case - no listener) within the same round, so a change in this VM's
// speed between rounds (it moves by 2x within a day) does not land in one case only.
const filter = process.argv[2];
const chosen = cases.filter(
  (benchCase) => benchCase.name === 'no listener' || filter === undefined || benchCase.name.includes(filter),
);
for (const benchCase of chosen) await timeRound(benchCase.fn); // warm-up: JIT, first timers
const perCall = new Map<string, number[]>(chosen.map((benchCase) => [benchCase.name, []]));
const added = new Map<string, number[]>(chosen.map((benchCase) => [benchCase.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? chosen : [...chosen].reverse();
  const times = new Map<string, number>();
  for (const benchCase of order) times.set(benchCase.name, await timeRound(benchCase.fn));
  const base = times.get('no listener') ?? Number.NaN;
  for (const [name, ns] of times) {
    perCall.get(name)?.push(ns);
    added.get(name)?.push(ns - base);
  }
  process.stdout.write(`round ${round + 1}/${ROUNDS}: no listener ${formatNs(base)}\n`);
}

const lines = [
  '| 4-policy pipeline (retry > breaker > timeout > bulkhead) | per call (median) | added vs no listener (median of paired rounds) | added, range over rounds |',
  '|---|---:|---:|---:|',
  ...chosen.map((benchCase) => {
    const rounds = added.get(benchCase.name) ?? [];
    const isBase = benchCase.name === 'no listener';
    return `| ${benchCase.name} | ${formatNs(median(perCall.get(benchCase.name) ?? []))} | ${
      isBase ? '' : `+${formatNs(median(rounds))}`
    } | ${isBase ? '' : `${formatNs(Math.min(...rounds))} – ${formatNs(Math.max(...rounds))}`} |`;
  }),
];
process.stdout.write(
  `\n${lines.join('\n')}\n\n${ROUNDS} rounds of ${CALLS_PER_ROUND} calls per case; node ${process.version}, ${process.platform}/${process.arch}\n`,
);
await meterProvider.shutdown();
await producerMeterProvider.shutdown();
