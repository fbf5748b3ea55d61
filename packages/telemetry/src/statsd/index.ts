/**
 * hyx events as StatsD metrics through a hot-shots client (hot-shots is an optional peer
 * dependency; any client with its `increment`, `timing` and `gauge` fits).
 *
 * @packageDocumentation
 */
export {
  instrument,
  type StatsdClient,
  type StatsdInstrumentOptions,
  type StatsdTags,
} from './instrument.js';
export type { InstrumentOptions, Instrumentation } from '../instrumentation.js';
