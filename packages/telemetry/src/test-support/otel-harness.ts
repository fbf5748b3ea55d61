import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type MetricProducer,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';

/** A metric reader that keeps nothing and exports nowhere: tests call `collect()` themselves. */
class InMemoryMetricReader extends MetricReader {
  constructor(metricProducers: readonly MetricProducer[]) {
    super({
      aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
      metricProducers: [...metricProducers],
    });
  }

  protected override async onShutdown(): Promise<void> {}

  protected override async onForceFlush(): Promise<void> {}
}

/** One data point, reduced to what tests assert on. */
interface Point {
  readonly attributes: Attributes;
  /** A number for sums and gauges; `{ count, sum, counts }` for histograms. */
  readonly value:
    number | { readonly count: number; readonly sum: number; readonly counts: readonly number[] };
}

/** A metric as collected: its descriptor fields and its points, sorted for stable assertions. */
export interface CollectedMetric {
  readonly name: string;
  readonly unit: string;
  readonly type: string;
  readonly points: readonly Point[];
}

/** The real OpenTelemetry SDK (metrics and traces) wired to in-memory readers. */
export class OtelHarness {
  readonly reader: InMemoryMetricReader;
  readonly meterProvider: MeterProvider;
  readonly spanExporter = new InMemorySpanExporter();
  readonly tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(this.spanExporter)],
  });

  /** @param metricProducers - producers the reader adds to the SDK's metrics (a hyx `durationProducer`) */
  constructor(metricProducers: readonly MetricProducer[] = []) {
    this.reader = new InMemoryMetricReader(metricProducers);
    this.meterProvider = new MeterProvider({ readers: [this.reader] });
  }

  /** Collects every metric of the `@hyx/telemetry` scope. */
  async collect(): Promise<Map<string, CollectedMetric>> {
    const { resourceMetrics, errors } = await this.reader.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
    return metricsOf(resourceMetrics);
  }

  /** Finished spans, oldest first. */
  spans(): ReadableSpan[] {
    return this.spanExporter.getFinishedSpans();
  }

  async shutdown(): Promise<void> {
    await this.meterProvider.shutdown();
    await this.tracerProvider.shutdown();
  }
}

function metricsOf(resourceMetrics: ResourceMetrics): Map<string, CollectedMetric> {
  const result = new Map<string, CollectedMetric>();
  for (const scope of resourceMetrics.scopeMetrics) {
    if (scope.scope.name !== '@hyx/telemetry') continue;
    for (const metric of scope.metrics) {
      const points: Point[] = [];
      for (const point of metric.dataPoints) {
        const value = point.value;
        if (metric.dataPointType === DataPointType.HISTOGRAM) {
          const histogram = value as { count: number; sum?: number; buckets: { counts: number[] } };
          points.push({
            attributes: point.attributes,
            value: { count: histogram.count, sum: histogram.sum ?? 0, counts: histogram.buckets.counts },
          });
        } else {
          points.push({ attributes: point.attributes, value: value as number });
        }
      }
      points.sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
      result.set(metric.descriptor.name, {
        name: metric.descriptor.name,
        unit: metric.descriptor.unit,
        // The SDK hands over its instrument descriptor, whose `type` its public typings leave out.
        type: (metric.descriptor as { readonly type?: string }).type ?? 'unknown',
        points,
      });
    }
  }
  return result;
}
