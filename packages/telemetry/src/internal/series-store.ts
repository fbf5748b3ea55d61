import type { PolicyKind, ResilienceEvent, ResilienceEventType } from '@hyx/local';

import { INSTRUMENTS } from '../measurements/instruments.js';
import type { InstrumentId, Measurement, MeasurementLabels } from '../measurements/measurement.js';
import { labelShapeOf, measurementsOf, valueReaderOf } from '../measurements/measurements-of.js';

/**
 * One series: an instrument and a label set, with its values aggregated in process. `exported` is
 * the backend's form of the labels (attributes, a label object, tags), computed once per series so
 * that recording never translates labels again.
 *
 * @internal
 */
export interface Series<TExported> {
  /** Identifies the instrument and label set; equal across stores for equal series. */
  readonly key: string;
  readonly instrument: InstrumentId;
  readonly labels: MeasurementLabels;
  readonly exported: TExported;
  /** False when the backend chose not to record this series (durations turned off). */
  readonly isRecorded: boolean;
  /** Counter: the running total. Gauge: the last level. Histogram: the number of observations. */
  value: number;
  /** Histogram only: the sum of the observations. */
  sum: number;
  /** Histogram only: observations per bucket (not cumulative); the last slot is `+Inf`. */
  readonly bucketCounts: number[] | undefined;
}

/** @internal */
export interface SeriesStoreOptions<TExported> {
  /** The backend's form of a label set. */
  readonly exportLabels: (labels: MeasurementLabels, instrument: InstrumentId) => TExported;
  /** Whether a new series is recorded at all; asked once per series. */
  readonly isRecorded?: ((measurement: Measurement) => boolean) | undefined;
  /** Histogram upper bounds, ascending, in the measurement's unit. */
  readonly bucketBounds: readonly number[];
  /** Past this many series, measurements of new series are dropped: a guard against label leaks. */
  readonly maxSeries: number;
  /** Called once, the first time a measurement is dropped for the cap. */
  readonly onOverflow: () => void;
  /** Called for every recorded measurement, for backends that push (StatsD, OpenTelemetry histograms). */
  readonly onRecord?: ((series: Series<TExported>, value: number) => void) | undefined;
}

/** What one event shape records: each series with its constant value or a reader of the event. */
interface ShapePlan<TExported> {
  readonly series: readonly (Series<TExported> | undefined)[];
  readonly constants: readonly number[];
  readonly readers: readonly (((event: ResilienceEvent) => number) | undefined)[];
}

/** Separates label values in a series key; it cannot occur in a bounded label value. */
const SEPARATOR = '\u001f';

function seriesKey(instrument: InstrumentId, labels: MeasurementLabels): string {
  return [
    instrument,
    labels.policyKind,
    labels.policyName,
    labels.eventType ?? '',
    labels.outcome ?? '',
    labels.reason ?? '',
    labels.errorType ?? '',
    labels.state ?? '',
    labels.source ?? '',
  ].join(SEPARATOR);
}

type ShapeIndex<TExported> = Map<
  string,
  Map<PolicyKind, Map<ResilienceEventType, Map<string, ShapePlan<TExported>>>>
>;

/**
 * The in-process aggregate behind every backend: one {@link Series} per instrument and label set,
 * fed by events. The labels of an event come from the pure {@link measurementsOf}, computed once per
 * event *shape* (policy, type, reason, error class...) and cached; after that, recording an event is
 * four map lookups and a few additions. Backends read the series when they are collected
 * (OpenTelemetry asynchronous instruments, a Prometheus scrape) or act on each recording (`onRecord`).
 *
 * @internal
 */
export class SeriesStore<TExported> {
  readonly #series = new Map<string, Series<TExported>>();
  readonly #shapes: ShapeIndex<TExported> = new Map();
  readonly #options: SeriesStoreOptions<TExported>;
  #hasOverflowed = false;

  constructor(options: SeriesStoreOptions<TExported>) {
    this.#options = options;
  }

  /** How many series exist. */
  get size(): number {
    return this.#series.size;
  }

  /** Records every measurement `event` stands for. */
  recordEvent(event: ResilienceEvent): void {
    const plan = this.#planOf(event);
    const { series, constants, readers } = plan;
    for (let index = 0; index < series.length; index++) {
      const target = series[index];
      if (target === undefined) continue;
      const reader = readers[index];
      this.#apply(target, reader === undefined ? (constants[index] as number) : reader(event));
    }
  }

  /** Records one measurement (used to seed a state before any event, e.g. a breaker's current state). */
  record(measurement: Measurement): void {
    const series = this.#seriesFor(measurement);
    if (series !== undefined) this.#apply(series, measurement.value);
  }

  /** Every recorded series of `instrument`, in creation order. */
  *seriesOf(instrument: InstrumentId): IterableIterator<Series<TExported>> {
    for (const series of this.#series.values()) {
      if (series.instrument === instrument && series.isRecorded) yield series;
    }
  }

  /** Zeroes every series of `instrument` (a Prometheus registry reset). */
  reset(instrument: InstrumentId): void {
    for (const series of this.seriesOf(instrument)) {
      series.value = 0;
      series.sum = 0;
      series.bucketCounts?.fill(0);
    }
  }

  #apply(series: Series<TExported>, value: number): void {
    if (!series.isRecorded) return;
    switch (INSTRUMENTS[series.instrument].type) {
      case 'counter':
        series.value += value;
        break;
      case 'gauge':
        series.value = value;
        break;
      case 'histogram': {
        series.value += 1;
        series.sum += value;
        const counts = series.bucketCounts as number[];
        const bounds = this.#options.bucketBounds;
        let index = 0;
        while (index < bounds.length && value > (bounds[index] as number)) index++;
        counts[index] = (counts[index] as number) + 1;
        break;
      }
    }
    this.#options.onRecord?.(series, value);
  }

  #planOf(event: ResilienceEvent): ShapePlan<TExported> {
    let byKind = this.#shapes.get(event.policyName);
    if (byKind === undefined) {
      byKind = new Map();
      this.#shapes.set(event.policyName, byKind);
    }
    let byType = byKind.get(event.policyKind);
    if (byType === undefined) {
      byType = new Map();
      byKind.set(event.policyKind, byType);
    }
    let byShape = byType.get(event.type);
    if (byShape === undefined) {
      byShape = new Map();
      byType.set(event.type, byShape);
    }
    const shape = labelShapeOf(event);
    let plan = byShape.get(shape);
    if (plan === undefined) {
      const measurements = measurementsOf(event);
      plan = {
        series: measurements.map((measurement) => this.#seriesFor(measurement)),
        constants: measurements.map((measurement) => measurement.value),
        readers: measurements.map((measurement) => valueReaderOf(measurement.instrument)),
      };
      // A plan that hit the series cap is not cached, so the series is created once room exists.
      if (plan.series.every((series) => series !== undefined)) byShape.set(shape, plan);
    }
    return plan;
  }

  #seriesFor(measurement: Measurement): Series<TExported> | undefined {
    const key = seriesKey(measurement.instrument, measurement.labels);
    const existing = this.#series.get(key);
    if (existing !== undefined) return existing;
    if (this.#series.size >= this.#options.maxSeries) {
      if (!this.#hasOverflowed) {
        this.#hasOverflowed = true;
        this.#options.onOverflow();
      }
      return undefined;
    }
    const { instrument, labels } = measurement;
    const series: Series<TExported> = {
      key,
      instrument,
      labels,
      exported: this.#options.exportLabels(labels, instrument),
      isRecorded: this.#options.isRecorded?.(measurement) ?? true,
      value: 0,
      sum: 0,
      bucketCounts:
        INSTRUMENTS[instrument].type === 'histogram'
          ? new Array<number>(this.#options.bucketBounds.length + 1).fill(0)
          : undefined,
    };
    this.#series.set(key, series);
    return series;
  }
}
