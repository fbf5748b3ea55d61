/**
 * hyx events as Prometheus metrics on a prom-client registry (prom-client is an optional peer
 * dependency).
 *
 * @packageDocumentation
 */
export { instrument, type PrometheusInstrumentOptions } from './instrument.js';
export type { InstrumentOptions, Instrumentation } from '../instrumentation.js';
