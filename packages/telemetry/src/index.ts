/**
 * Telemetry for hyx policies: the backend-neutral mapping from events to measurements, and the
 * instrument catalogue. The adapters live in subpaths, each needing only its own optional peer:
 * `@hyx/telemetry/opentelemetry`, `@hyx/telemetry/prometheus`, `@hyx/telemetry/statsd`.
 *
 * @packageDocumentation
 */
export type { InstrumentId, Measurement, MeasurementLabels, Outcome } from './measurements/measurement.js';
export { circuitStateMeasurements, measurementsOf } from './measurements/measurements-of.js';
export {
  DURATION_BUCKETS_SECONDS,
  INSTRUMENTS,
  type InstrumentDefinition,
  type LabelName,
} from './measurements/instruments.js';
export {
  INSTRUMENT_DEFAULTS,
  type DurationSelection,
  type InstrumentOptions,
  type Instrumentation,
} from './instrumentation.js';
