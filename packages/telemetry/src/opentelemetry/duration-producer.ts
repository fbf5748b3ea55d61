import { ValueType, type AttributeValue, type Attributes, type HrTime } from '@opentelemetry/api';
import { systemClock, type Clock } from '@hyx/local';

import type { Series } from '../internal/series-store.js';
import { TELEMETRY_VERSION } from '../internal/version.js';
import { DURATION_BUCKETS_SECONDS, INSTRUMENTS } from '../measurements/instruments.js';

/**
 * The shapes a {@link DurationProducer} hands to the SDK, written out here so that this package
 * needs `@opentelemetry/api` only: they match `@opentelemetry/sdk-metrics`' `CollectionResult`
 * (a test assigns a producer to the SDK's `MetricProducer` type and reads it through a real
 * `MetricReader`). The numbers are the SDK's enum values: `DataPointType.HISTOGRAM` is 0,
 * `AggregationTemporality.CUMULATIVE` is 1.
 */
type RawResourceAttribute = [string, AttributeValue | undefined | Promise<AttributeValue | undefined>];

/**
 * The resource part of a collection. A `MetricReader` keeps its SDK's resource and takes only the
 * scope metrics of an added producer, so this one is empty.
 *
 * @example
 * ```ts
 * import { durationProducer } from '@hyx/telemetry/opentelemetry';
 * const { resourceMetrics } = await durationProducer().collect();
 * console.log(resourceMetrics.resource.attributes); // {}
 * ```
 */
export interface ProducedResource {
  readonly attributes: Attributes;
  merge(other: ProducedResource | null): ProducedResource;
  getRawAttributes(): RawResourceAttribute[];
}

/**
 * One histogram data point: a policy's durations with one label set, cumulative since `startTime`.
 *
 * @example
 * ```ts
 * import { durationProducer } from '@hyx/telemetry/opentelemetry';
 * const { resourceMetrics } = await durationProducer().collect();
 * for (const point of resourceMetrics.scopeMetrics[0]?.metrics[0]?.dataPoints ?? []) console.log(point.value.count);
 * ```
 */
export interface ProducedHistogramPoint {
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly attributes: Attributes;
  readonly value: {
    buckets: { boundaries: number[]; counts: number[] };
    sum: number;
    count: number;
  };
}

/**
 * The `hyx.execution.duration` histogram as a producer reports it.
 *
 * @example
 * ```ts
 * import { durationProducer } from '@hyx/telemetry/opentelemetry';
 * const { resourceMetrics } = await durationProducer().collect();
 * console.log(resourceMetrics.scopeMetrics[0]?.metrics[0]?.descriptor.name); // hyx.execution.duration
 * ```
 */
export interface ProducedHistogram {
  readonly descriptor: {
    readonly name: string;
    readonly description: string;
    readonly unit: string;
    readonly valueType: ValueType;
    /** The SDK's `InstrumentType`, which its own descriptors carry (some exporters read it). */
    readonly type: 'HISTOGRAM';
  };
  /** `AggregationTemporality.CUMULATIVE`. */
  readonly aggregationTemporality: 1;
  /** `DataPointType.HISTOGRAM`. */
  readonly dataPointType: 0;
  readonly dataPoints: ProducedHistogramPoint[];
}

/**
 * What {@link DurationProducer.collect} answers: an SDK `CollectionResult`.
 *
 * @example
 * ```ts
 * import { durationProducer, type ProducedCollection } from '@hyx/telemetry/opentelemetry';
 * const collection: ProducedCollection = await durationProducer().collect();
 * console.log(collection.errors.length); // 0
 * ```
 */
export interface ProducedCollection {
  resourceMetrics: {
    resource: ProducedResource;
    scopeMetrics: { scope: { name: string; version?: string }; metrics: ProducedHistogram[] }[];
  };
  errors: unknown[];
}

/** An instrumentation's duration series, read at every collection; `startTime` is when it attached. */
interface Source {
  readonly series: () => Iterable<Series<Attributes>>;
  readonly startTime: HrTime;
}

function hrTimeOf(epochMs: number): HrTime {
  const seconds = Math.floor(epochMs / 1000);
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)];
}

const EMPTY_RESOURCE: ProducedResource = Object.freeze({
  attributes: Object.freeze({}),
  merge: (other: ProducedResource | null): ProducedResource => other ?? EMPTY_RESOURCE,
  getRawAttributes: (): RawResourceAttribute[] => [],
});

/**
 * Execution durations for OpenTelemetry, counted in process and reported at collection: an SDK
 * `MetricProducer`. Register it with your `MetricReader` (`metricProducers: [producer]`) and pass it
 * to {@link instrument} (`durationProducer: producer`): the `hyx.execution.duration` histogram then
 * costs a bucket increment per call instead of an SDK `record` (about 1 µs: the SDK hashes the
 * attributes of every recording). Same name, unit, buckets and attributes as the SDK histogram;
 * cumulative temporality; no exemplars, and views of the SDK do not apply to it.
 *
 * @example
 * ```ts
 * import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
 * import { compose, retry } from '@hyx/local';
 * import { durationProducer, instrument } from '@hyx/telemetry/opentelemetry';
 *
 * class PullReader extends MetricReader {
 *   protected async onForceFlush(): Promise<void> {}
 *   protected async onShutdown(): Promise<void> {}
 * }
 * const durations = durationProducer();
 * const reader = new PullReader({ metricProducers: [durations] });
 * const meterProvider = new MeterProvider({ readers: [reader] });
 * const { policy } = instrument(compose(retry({ name: 'api' })), { meterProvider, durationProducer: durations });
 * await policy.execute(async () => 'ok');
 * const { resourceMetrics } = await reader.collect();
 * console.log(resourceMetrics.scopeMetrics.length);
 * ```
 */
export interface DurationProducer {
  /** Called by the `MetricReader` the producer is registered with, at every collection. */
  collect(options?: { readonly timeoutMillis?: number | undefined }): Promise<ProducedCollection>;
}

/** What a detached instrumentation had counted: kept, so a cumulative point never goes down. */
interface RetiredSeries {
  readonly key: string;
  readonly exported: Attributes;
  readonly startTime: HrTime;
  readonly count: number;
  readonly sum: number;
  readonly counts: readonly number[];
}

/** @internal The producer's side that {@link instrument} uses. */
export class DurationSeriesProducer implements DurationProducer {
  readonly #clock: Clock;
  readonly #sources = new Set<Source>();
  readonly #retired = new Map<string, RetiredSeries>();

  /** @param clock - reads the points' start and end times (epoch ms) */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Reports `series` from now on; the returned function stops following it. What it counted until
   * then is still reported (cumulative points never go down, as the SDK keeps reporting a series
   * whose instrument nobody records to any more).
   */
  attach(series: () => Iterable<Series<Attributes>>): () => void {
    const source: Source = { series, startTime: hrTimeOf(this.#clock.now()) };
    this.#sources.add(source);
    return () => {
      if (!this.#sources.delete(source)) return;
      for (const one of source.series()) {
        const retired = this.#retired.get(one.key);
        const counts = one.bucketCounts ?? [];
        this.#retired.set(one.key, {
          key: one.key,
          exported: one.exported,
          startTime: retired?.startTime ?? source.startTime,
          count: (retired?.count ?? 0) + one.value,
          sum: (retired?.sum ?? 0) + one.sum,
          counts: counts.map((count, index) => count + (retired?.counts[index] ?? 0)),
        });
      }
    };
  }

  collect(): Promise<ProducedCollection> {
    const endTime = hrTimeOf(this.#clock.now());
    // Two instrumentations may hold the same series (equal policy names): one point, summed.
    const points = new Map<string, ProducedHistogramPoint>();
    const add = (
      key: string,
      attributes: Attributes,
      startTime: HrTime,
      count: number,
      sum: number,
      counts: readonly number[],
    ): void => {
      const known = points.get(key);
      if (known === undefined) {
        points.set(key, {
          startTime,
          endTime,
          attributes,
          value: {
            buckets: { boundaries: [...DURATION_BUCKETS_SECONDS], counts: [...counts] },
            sum,
            count,
          },
        });
        return;
      }
      known.value.sum += sum;
      known.value.count += count;
      counts.forEach((one, index) => {
        known.value.buckets.counts[index] = (known.value.buckets.counts[index] ?? 0) + one;
      });
    };
    for (const retired of this.#retired.values()) {
      add(retired.key, retired.exported, retired.startTime, retired.count, retired.sum, retired.counts);
    }
    for (const source of this.#sources) {
      for (const series of source.series()) {
        add(
          series.key,
          series.exported,
          source.startTime,
          series.value,
          series.sum,
          series.bucketCounts ?? [],
        );
      }
    }
    const definition = INSTRUMENTS['execution.duration'];
    const histogram: ProducedHistogram = {
      descriptor: {
        name: definition.opentelemetry.name,
        description: definition.description,
        unit: definition.opentelemetry.unit,
        valueType: ValueType.DOUBLE,
        type: 'HISTOGRAM',
      },
      aggregationTemporality: 1,
      dataPointType: 0,
      dataPoints: [...points.values()],
    };
    return Promise.resolve({
      resourceMetrics: {
        resource: EMPTY_RESOURCE,
        scopeMetrics:
          histogram.dataPoints.length === 0
            ? []
            : [{ scope: { name: '@hyx/telemetry', version: TELEMETRY_VERSION }, metrics: [histogram] }],
      },
      errors: [],
    });
  }
}

/**
 * Options of {@link durationProducer}.
 *
 * @example
 * ```ts
 * import { systemClock } from '@hyx/local';
 * import type { DurationProducerOptions } from '@hyx/telemetry/opentelemetry';
 * const options: DurationProducerOptions = { clock: systemClock };
 * ```
 */
export interface DurationProducerOptions {
  /**
   * Where the points' start and end times come from (epoch ms).
   * @defaultValue `systemClock`
   */
  readonly clock?: Clock | undefined;
}

/**
 * A new {@link DurationProducer}: one per `MetricReader`, shared by every {@link instrument} call
 * that should report through it.
 *
 * @example
 * ```ts
 * import { durationProducer } from '@hyx/telemetry/opentelemetry';
 * const durations = durationProducer();
 * // new PeriodicExportingMetricReader({ exporter, metricProducers: [durations] })
 * ```
 */
export function durationProducer(options?: DurationProducerOptions): DurationProducer {
  const clock = options?.clock ?? systemClock;
  if (typeof clock.now !== 'function') {
    throw new TypeError(`durationProducer: clock must be a Clock, got ${typeof clock}`);
  }
  return new DurationSeriesProducer(clock);
}
