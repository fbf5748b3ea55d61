/**
 * hyx events as OpenTelemetry metrics, span events and attempt spans, through `@opentelemetry/api`
 * only (an optional peer dependency): the application owns the SDK.
 *
 * @packageDocumentation
 */
export { instrument, type OpenTelemetryInstrumentOptions } from './instrument.js';
export { ATTEMPT_SPAN_NAME } from './attempt-span-policy.js';
export {
  durationProducer,
  type DurationProducer,
  type DurationProducerOptions,
  type ProducedCollection,
  type ProducedHistogram,
  type ProducedHistogramPoint,
  type ProducedResource,
} from './duration-producer.js';
export type { InstrumentOptions, Instrumentation } from '../instrumentation.js';
