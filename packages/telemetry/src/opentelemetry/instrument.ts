import {
  metrics,
  trace,
  type Attributes,
  type BatchObservableCallback,
  type MeterProvider,
  type MetricOptions,
  type Observable,
  type TracerProvider,
} from '@opentelemetry/api';
import type { Policy, ResilienceEvent } from '@hyx/local';

import type { DurationSelection, InstrumentOptions, Instrumentation } from '../instrumentation.js';
import {
  createStore,
  errorReporter,
  initialMeasurementsOf,
  subscribeGuarded,
} from '../internal/recording.js';
import type { Series } from '../internal/series-store.js';
import { TELEMETRY_VERSION } from '../internal/version.js';
import {
  DURATION_BUCKETS_SECONDS,
  INSTRUMENTS,
  OPENTELEMETRY_LABEL_KEYS,
  type LabelName,
} from '../measurements/instruments.js';
import type { InstrumentId, MeasurementLabels } from '../measurements/measurement.js';
import { AttemptSpanPolicy } from './attempt-span-policy.js';
import { DurationSeriesProducer, type DurationProducer } from './duration-producer.js';
import { spanEventOf } from './span-events.js';

/**
 * Options of the OpenTelemetry {@link instrument}.
 *
 * @example
 * ```ts
 * import type { OpenTelemetryInstrumentOptions } from '@hyx/telemetry/opentelemetry';
 * const options: OpenTelemetryInstrumentOptions = { spans: 'attempts', spanEvents: true };
 * ```
 */
export interface OpenTelemetryInstrumentOptions extends InstrumentOptions {
  /**
   * Which policies' execution durations go to the `hyx.execution.duration` histogram. Each one is
   * a synchronous SDK `record` per call (about 1 µs: the SDK hashes the attributes), so only the
   * outermost policy of a pipeline is recorded unless you ask for more (`true`, or a predicate) or
   * give a `durationProducer` (durations counted in process).
   *
   * @defaultValue 'outermost'; `true` with a `durationProducer`
   */
  readonly durations?: DurationSelection | undefined;
  /**
   * Reports execution durations through this producer (from {@link durationProducer}, registered
   * with your `MetricReader` as one of its `metricProducers`) instead of an SDK histogram: each
   * duration is then counted in process, a bucket increment instead of an SDK `record` per call,
   * so every policy's durations are recorded by default (`durations: true`).
   *
   * @defaultValue none: durations go to an SDK `Histogram`
   */
  readonly durationProducer?: DurationProducer | undefined;
  /** Where the instruments are created. @defaultValue the global provider (`metrics.getMeterProvider()`) */
  readonly meterProvider?: MeterProvider | undefined;
  /** Where attempt spans are created. @defaultValue the global provider (`trace.getTracerProvider()`) */
  readonly tracerProvider?: TracerProvider | undefined;
  /**
   * `'attempts'` runs every attempt of the work in its own `hyx.attempt` span (attribute
   * `hyx.attempt`); the returned `policy` does it, so call that one. `'none'` opens no span.
   *
   * @defaultValue 'none'
   */
  readonly spans?: 'none' | 'attempts' | undefined;
  /**
   * Whether retries, timeouts, fallbacks, hedges, breaker transitions and rejections are added as
   * events (`hyx.retry.scheduled`, ...) to the span active when they happen.
   *
   * @defaultValue true
   */
  readonly spanEvents?: boolean | undefined;
}

/** The OpenTelemetry instrumentation scope of every instrument and span. */
const SCOPE_NAME = '@hyx/telemetry';

/** The instruments read when the SDK collects; only the duration histogram is recorded as calls happen. */
type ObservedId = Exclude<InstrumentId, 'execution.duration'>;

function nameOf(id: InstrumentId): string {
  return INSTRUMENTS[id].opentelemetry.name;
}

function instrumentOptionsOf(id: InstrumentId): MetricOptions {
  return { description: INSTRUMENTS[id].description, unit: INSTRUMENTS[id].opentelemetry.unit };
}

function attributesOf(labels: MeasurementLabels): Attributes {
  const attributes: Attributes = {};
  for (const name of Object.keys(labels) as LabelName[]) {
    const value = labels[name];
    if (value !== undefined) attributes[OPENTELEMETRY_LABEL_KEYS[name]] = value;
  }
  return attributes;
}

/**
 * Records a policy's (or a pipeline's) events as OpenTelemetry metrics and span events, through
 * `@opentelemetry/api` only: the application owns the SDK and its exporters.
 *
 * Counters and levels are aggregated in process and reported by asynchronous instruments
 * (`hyx.events`, `hyx.rate_limit.decisions`: ObservableCounter; `hyx.circuit.state`: ObservableGauge;
 * `hyx.bulkhead.in_flight`, `hyx.bulkhead.queued`: ObservableUpDownCounter) when the SDK collects,
 * so a call pays a map lookup, not the SDK's attribute hashing. Execution durations go to the
 * `hyx.execution.duration` histogram (seconds) as they happen: by default only the outermost
 * policy's (for a pipeline, the whole call), since each costs an SDK `record`; `durations` widens
 * or narrows that.
 *
 * Instrument each policy once (instrumenting a pipeline covers its parts). A throwing meter or tracer
 * never changes a call's result.
 *
 * @returns the policy to call (wrapped when `spans: 'attempts'`) and `detach`.
 *
 * @example
 * ```ts
 * import { compose, fallback } from '@hyx/local';
 * import { instrument } from '@hyx/telemetry/opentelemetry';
 * const { policy, detach } = instrument(compose(fallback({ value: 'cached' })), { spans: 'attempts' });
 * await policy.execute(async () => 'fresh');
 * detach();
 * ```
 */
export function instrument<TAlt>(
  policy: Policy<TAlt>,
  options?: OpenTelemetryInstrumentOptions,
): Instrumentation<TAlt> {
  const reportError = errorReporter(options, 'OpenTelemetry');
  const meter = (options?.meterProvider ?? metrics.getMeterProvider()).getMeter(
    SCOPE_NAME,
    TELEMETRY_VERSION,
  );
  const producer = options?.durationProducer;
  if (producer !== undefined && !(producer instanceof DurationSeriesProducer)) {
    throw new TypeError('instrument: durationProducer must come from durationProducer()');
  }
  // With a producer the histogram is reported by it; an SDK instrument of the same name would
  // export a second, empty `hyx.execution.duration`.
  const duration =
    producer === undefined
      ? meter.createHistogram(INSTRUMENTS['execution.duration'].opentelemetry.name, {
          ...instrumentOptionsOf('execution.duration'),
          advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_SECONDS] },
        })
      : undefined;
  const observables: { readonly [TId in ObservedId]: Observable } = {
    events: meter.createObservableCounter(nameOf('events'), instrumentOptionsOf('events')),
    'circuit.state': meter.createObservableGauge(
      nameOf('circuit.state'),
      instrumentOptionsOf('circuit.state'),
    ),
    'bulkhead.in_flight': meter.createObservableUpDownCounter(
      nameOf('bulkhead.in_flight'),
      instrumentOptionsOf('bulkhead.in_flight'),
    ),
    'bulkhead.queued': meter.createObservableUpDownCounter(
      nameOf('bulkhead.queued'),
      instrumentOptionsOf('bulkhead.queued'),
    ),
    'rate_limit.decisions': meter.createObservableCounter(
      nameOf('rate_limit.decisions'),
      instrumentOptionsOf('rate_limit.decisions'),
    ),
  };

  const store = createStore<Attributes>(
    policy,
    options,
    {
      exportLabels: attributesOf,
      bucketBounds: DURATION_BUCKETS_SECONDS,
      // The one synchronous instrument: the API has no way to report a pre-aggregated histogram
      // (a `durationProducer` reports it from the SDK side instead).
      isPushed: (instrument) => duration !== undefined && instrument === 'execution.duration',
      onRecord: (series: Series<Attributes>, value: number) => {
        duration?.record(value, series.exported);
      },
    },
    reportError,
    // An SDK record costs about a microsecond (it hashes the attributes), as much as the whole
    // pipeline: one duration per call by default, the parts' on request (ADR 0007). Counted in
    // process for a producer, every policy's duration costs next to nothing.
    producer === undefined ? 'outermost' : true,
  );
  const detachProducer = producer?.attach(() => store.seriesOf('execution.duration'));
  for (const measurement of initialMeasurementsOf(policy)) store.record(measurement);

  const observe: BatchObservableCallback = (observer) => {
    for (const [id, observable] of Object.entries(observables) as [ObservedId, Observable][]) {
      for (const series of store.seriesOf(id)) observer.observe(observable, series.value, series.exported);
    }
  };
  meter.addBatchObservableCallback(observe, Object.values(observables));

  const isSpanEventsOn = options?.spanEvents ?? true;
  const recorderOf = (part: Policy<unknown>): ((event: ResilienceEvent) => void) => {
    const recordMetrics = store.recorderOf(part.kind, part.name);
    if (!isSpanEventsOn) return recordMetrics;
    return (event) => {
      recordMetrics(event);
      const spanEvent = spanEventOf(event);
      if (spanEvent === undefined) return;
      const activeSpan = trace.getActiveSpan();
      if (activeSpan?.isRecording() === true) activeSpan.addEvent(spanEvent.name, spanEvent.attributes);
    };
  };
  const unsubscribe = subscribeGuarded(policy, recorderOf, reportError);

  const attemptSpans =
    options?.spans === 'attempts'
      ? new AttemptSpanPolicy(
          policy,
          (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE_NAME, TELEMETRY_VERSION),
          reportError,
        )
      : undefined;

  let isAttached = true;
  return {
    policy: attemptSpans ?? policy,
    detach: () => {
      if (!isAttached) return;
      isAttached = false;
      unsubscribe();
      detachProducer?.();
      attemptSpans?.detach();
      try {
        meter.removeBatchObservableCallback(observe, Object.values(observables));
      } catch (error) {
        reportError(error);
      }
    },
  };
}
