import { register, type Registry } from 'prom-client';
import type { Policy } from '@hyx/local';

import type { InstrumentOptions, Instrumentation } from '../instrumentation.js';
import {
  createStore,
  errorReporter,
  initialMeasurementsOf,
  subscribeGuarded,
} from '../internal/recording.js';
import type { SeriesStore } from '../internal/series-store.js';
import {
  DURATION_BUCKETS_SECONDS,
  INSTRUMENTS,
  SNAKE_LABEL_KEYS,
  type LabelName,
} from '../measurements/instruments.js';
import type { MeasurementLabels } from '../measurements/measurement.js';
import { PrometheusCollector, type PrometheusLabels } from './prometheus-collector.js';

/**
 * Options of the Prometheus {@link instrument}.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import type { PrometheusInstrumentOptions } from '@hyx/telemetry/prometheus';
 * const options: PrometheusInstrumentOptions = { registry: new Registry() };
 * ```
 */
export interface PrometheusInstrumentOptions extends InstrumentOptions {
  /** Where the `hyx_*` metrics are registered. @defaultValue prom-client's default `register` */
  readonly registry?: Registry | undefined;
}

/** The stores of every instrumentation on one registry; its collectors render them all. */
const storesByRegistry = new WeakMap<Registry, Set<SeriesStore<PrometheusLabels>>>();

function labelsOf(labels: MeasurementLabels): PrometheusLabels {
  const result: Record<string, string> = {};
  for (const name of Object.keys(labels) as LabelName[]) {
    const value = labels[name];
    if (value !== undefined) result[SNAKE_LABEL_KEYS[name]] = value;
  }
  return result;
}

/** The stores of `registry`, registering the hyx collectors on it the first time. */
function storesOf(registry: Registry): Set<SeriesStore<PrometheusLabels>> {
  const existing = storesByRegistry.get(registry);
  if (existing !== undefined) return existing;
  const definitions = Object.values(INSTRUMENTS);
  for (const definition of definitions) {
    if (registry.getSingleMetric(definition.prometheus.name) !== undefined) {
      throw new Error(
        `instrument: the registry already has a metric named ${definition.prometheus.name} that @hyx/telemetry did not create`,
      );
    }
  }
  const stores = new Set<SeriesStore<PrometheusLabels>>();
  for (const definition of definitions) new PrometheusCollector(definition, stores).registerOn(registry);
  storesByRegistry.set(registry, stores);
  return stores;
}

/**
 * Records a policy's (or a pipeline's) events as Prometheus metrics on a prom-client registry:
 * `hyx_events_total`, `hyx_execution_duration_seconds` (histogram), `hyx_circuit_state`,
 * `hyx_bulkhead_in_flight`, `hyx_bulkhead_queued` and `hyx_rate_limit_decisions_total`.
 *
 * Values are aggregated in process and rendered when the registry is scraped, so a call pays a few
 * nanoseconds per event. Several policies may share a registry (instrument each once); the metrics
 * are registered on the first call. A recording that throws never changes a call's result.
 *
 * @returns the same policy, and `detach`, which stops recording and drops this policy's series.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { circuitBreaker } from '@hyx/local';
 * import { instrument } from '@hyx/telemetry/prometheus';
 * const registry = new Registry();
 * const { policy } = instrument(circuitBreaker({ name: 'payments' }), { registry });
 * await policy.execute(async () => 'paid');
 * console.log(await registry.metrics());
 * ```
 */
export function instrument<TAlt>(
  policy: Policy<TAlt>,
  options?: PrometheusInstrumentOptions,
): Instrumentation<TAlt> {
  const reportError = errorReporter(options, 'Prometheus');
  const stores = storesOf(options?.registry ?? register);
  const store = createStore<PrometheusLabels>(
    policy,
    options,
    { exportLabels: labelsOf, bucketBounds: DURATION_BUCKETS_SECONDS },
    reportError,
  );
  for (const measurement of initialMeasurementsOf(policy)) store.record(measurement);
  stores.add(store);
  const unsubscribe = subscribeGuarded(policy, (part) => store.recorderOf(part.kind, part.name), reportError);
  let isAttached = true;
  return {
    policy,
    detach: () => {
      if (!isAttached) return;
      isAttached = false;
      unsubscribe();
      stores.delete(store);
    },
  };
}
