import type { PolicyKind, ResilienceEvent, ResilienceEventType } from '@hyx/local';

import { INSTRUMENTS, type InstrumentDefinition } from '../measurements/instruments.js';
import type { InstrumentId, Measurement, MeasurementLabels } from '../measurements/measurement.js';
import { hasLabelShape, labelShapeOf, measurementsOf } from '../measurements/measurements-of.js';

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
  /** The instrument's type, copied here so that recording reads no catalogue. */
  readonly type: InstrumentDefinition['type'];
  readonly labels: MeasurementLabels;
  readonly exported: TExported;
  /** False when the backend chose not to record this series (durations turned off). */
  readonly isRecorded: boolean;
  /** True when each recording is also handed to the backend's `onRecord`. */
  readonly isPushed: boolean;
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
  /** Which instruments' recordings go to `onRecord`; asked once per series. @defaultValue all of them */
  readonly isPushed?: ((instrument: InstrumentId) => boolean) | undefined;
}

/** Where a measurement's value comes from: a constant of its shape, or a field of the event. */
type ValueSource = 'constant' | 'duration-seconds' | 'in-flight' | 'queued';

/** One measurement of an event shape: the series it goes to and where its value comes from. */
interface PlanStep<TExported> {
  readonly series: Series<TExported>;
  readonly source: ValueSource;
  /** The value when `source` is `'constant'`. */
  readonly constant: number;
}

/**
 * What one event shape records, compiled from its steps once: a function that applies them. Series
 * the backend does not record are left out, so recording never looks at them.
 */
type ShapePlan = (event: ResilienceEvent) => void;

/**
 * The plans of one policy (kind and name) by event type. A type whose events all have the same
 * labels has one plan; the others (errors, reasons, states) have one per label shape.
 */
interface SourcePlans<TExported> {
  readonly policyKind: PolicyKind;
  readonly byType: Map<ResilienceEventType, ShapePlan | Map<string, ShapePlan>>;
  /** Another kind of policy with the same name (names are the user's; kinds rarely share one). */
  next: SourcePlans<TExported> | undefined;
}

/** How many event types a per-policy recorder keeps at hand (see {@link SeriesStore.recorderOf}). */
const MAX_KNOWN_TYPES = 4;

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

/** Which field of a later event of the same shape gives a measurement's value. */
function valueSourceOf(instrument: InstrumentId): ValueSource {
  switch (instrument) {
    case 'execution.duration':
      return 'duration-seconds';
    case 'bulkhead.in_flight':
      return 'in-flight';
    case 'bulkhead.queued':
      return 'queued';
    default:
      return 'constant';
  }
}

/** Adds one observation to a histogram series with upper bounds `bounds`. */
function observe(series: Series<unknown>, bounds: readonly number[], value: number): void {
  series.value += 1;
  series.sum += value;
  const counts = series.bucketCounts as number[];
  let index = 0;
  while (index < bounds.length && value > (bounds[index] as number)) index++;
  counts[index] = (counts[index] as number) + 1;
}

/**
 * The value of `step` for `event`. Fields are read directly rather than through a function per
 * instrument: the recording loop then calls nothing.
 */
function valueOf(step: PlanStep<unknown>, event: ResilienceEvent): number {
  switch (step.source) {
    case 'constant':
      return step.constant;
    case 'duration-seconds':
      return (event as { readonly durationMs: number }).durationMs / 1000;
    case 'in-flight':
      return (event as { readonly inFlight: number }).inFlight;
    case 'queued':
      return (event as { readonly queued: number }).queued;
  }
}

/**
 * The in-process aggregate behind every backend: one {@link Series} per instrument and label set,
 * fed by events. The labels of an event come from the pure {@link measurementsOf}, computed once per
 * event *shape* (policy, type, reason, error class...) and cached; after that, recording an event is
 * two or three map lookups and a few additions, with no allocation: with several policies each
 * emitting several events per call, this runs millions of times a second. Backends read the series when they are collected
 * (OpenTelemetry asynchronous instruments, a Prometheus scrape) or act on each recording (`onRecord`).
 *
 * @internal
 */
export class SeriesStore<TExported> {
  readonly #series = new Map<string, Series<TExported>>();
  /** Plans by policy name (then kind, through `next`). */
  readonly #sources = new Map<string, SourcePlans<TExported>>();
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
    this.#planOf(event)(event);
  }

  /**
   * A recorder of the events of one policy, for a listener subscribed to that policy alone: it
   * finds the plans by event type only, skipping the lookup by policy name and kind. An event from
   * another source (a policy that names its events otherwise) takes the general path.
   */
  recorderOf(policyKind: PolicyKind, policyName: string): (event: ResilienceEvent) => void {
    const source = this.#sourceOf(policyKind, policyName);
    // The plans of the few types this policy emits on every call (`execution.succeeded`; a
    // bulkhead's `acquired` and `released` too), by type: a scan of a few pointers is cheaper
    // than a map lookup. Only a type with a single plan, already cached, is kept: a shaped type's
    // plan depends on more than the type, and a plan that hit the series cap is remade.
    const knownTypes: ResilienceEventType[] = [];
    const knownPlans: ShapePlan[] = [];
    return (event) => {
      const { type } = event;
      if (event.policyName !== policyName || event.policyKind !== policyKind) {
        this.#planOf(event)(event);
        return;
      }
      for (let index = 0; index < knownTypes.length; index++) {
        if (knownTypes[index] === type) {
          (knownPlans[index] as ShapePlan)(event);
          return;
        }
      }
      const plan = this.#planIn(source, event);
      if (knownTypes.length < MAX_KNOWN_TYPES && source.byType.get(type) === plan) {
        knownTypes.push(type);
        knownPlans.push(plan);
      }
      plan(event);
    };
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
    switch (series.type) {
      case 'counter':
        series.value += value;
        break;
      case 'gauge':
        series.value = value;
        break;
      case 'histogram':
        observe(series, this.#options.bucketBounds, value);
        break;
    }
    if (series.isPushed) this.#options.onRecord?.(series, value);
  }

  #planOf(event: ResilienceEvent): ShapePlan {
    return this.#planIn(this.#sourceOf(event.policyKind, event.policyName), event);
  }

  #sourceOf(policyKind: PolicyKind, policyName: string): SourcePlans<TExported> {
    let source = this.#sources.get(policyName);
    while (source !== undefined && source.policyKind !== policyKind) source = source.next;
    if (source === undefined) {
      source = { policyKind, byType: new Map(), next: this.#sources.get(policyName) };
      this.#sources.set(policyName, source);
    }
    return source;
  }

  /** The plan of `event`, whose source is `source`. */
  #planIn(source: SourcePlans<TExported>, event: ResilienceEvent): ShapePlan {
    const { type } = event;
    const cached = source.byType.get(type);
    // The common case: a type with one plan, already made.
    if (cached !== undefined && !(cached instanceof Map)) return cached;
    if (!hasLabelShape(type)) {
      const { plan, isComplete } = this.#newPlan(event);
      // A plan that hit the series cap is not cached, so the series is created once room exists.
      if (isComplete) source.byType.set(type, plan);
      return plan;
    }
    let byShape = cached;
    if (byShape === undefined) {
      byShape = new Map();
      source.byType.set(type, byShape);
    }
    const shape = labelShapeOf(event);
    const existing = byShape.get(shape);
    if (existing !== undefined) return existing;
    const { plan, isComplete } = this.#newPlan(event);
    if (isComplete) byShape.set(shape, plan);
    return plan;
  }

  /** The plan of `event`'s shape; incomplete when a series of it was dropped for the cap. */
  #newPlan(event: ResilienceEvent): { readonly plan: ShapePlan; readonly isComplete: boolean } {
    const steps: PlanStep<TExported>[] = [];
    let isComplete = true;
    for (const measurement of measurementsOf(event)) {
      const series = this.#seriesFor(measurement);
      if (series === undefined) isComplete = false;
      if (series === undefined || !series.isRecorded) continue;
      steps.push({ series, source: valueSourceOf(measurement.instrument), constant: measurement.value });
    }
    return { plan: this.#compile(steps), isComplete };
  }

  /**
   * The plan of `steps`. The shapes every call of a pipeline records (an execution's count and
   * duration, a bulkhead's count and levels, a bare count) get a function written out for them,
   * which calls nothing: about half the cost of the general loop, and several run per call.
   */
  #compile(steps: readonly PlanStep<TExported>[]): ShapePlan {
    const [first, second, third] = steps;
    const isPlainCount =
      first !== undefined && first.series.type === 'counter' && first.source === 'constant';
    if (isPlainCount && !steps.some((step) => step.series.isPushed)) {
      const count = first.series;
      const increment = first.constant;
      if (steps.length === 1) {
        return () => {
          count.value += increment;
        };
      }
      if (steps.length === 2 && second?.source === 'duration-seconds') {
        const duration = second.series;
        const bounds = this.#options.bucketBounds;
        return (event) => {
          count.value += increment;
          observe(duration, bounds, (event as { readonly durationMs: number }).durationMs / 1000);
        };
      }
      if (steps.length === 3 && second?.source === 'in-flight' && third?.source === 'queued') {
        const inFlight = second.series;
        const queued = third.series;
        return (event) => {
          count.value += increment;
          inFlight.value = (event as { readonly inFlight: number }).inFlight;
          queued.value = (event as { readonly queued: number }).queued;
        };
      }
    }
    return (event) => {
      for (const step of steps) this.#apply(step.series, valueOf(step, event));
    };
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
    const { type } = INSTRUMENTS[instrument];
    const series: Series<TExported> = {
      key,
      instrument,
      type,
      labels,
      exported: this.#options.exportLabels(labels, instrument),
      isRecorded: this.#options.isRecorded?.(measurement) ?? true,
      isPushed: this.#options.onRecord !== undefined && (this.#options.isPushed?.(instrument) ?? true),
      value: 0,
      sum: 0,
      bucketCounts:
        type === 'histogram' ? new Array<number>(this.#options.bucketBounds.length + 1).fill(0) : undefined,
    };
    this.#series.set(key, series);
    return series;
  }
}
