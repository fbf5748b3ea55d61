import type { Policy } from '@hyx/local';

import type { InstrumentOptions, Instrumentation } from '../instrumentation.js';
import {
  createStore,
  errorReporter,
  initialMeasurementsOf,
  subscribeGuarded,
} from '../internal/recording.js';
import type { Series } from '../internal/series-store.js';
import {
  DURATION_BUCKETS_SECONDS,
  INSTRUMENTS,
  SNAKE_LABEL_KEYS,
  type LabelName,
} from '../measurements/instruments.js';
import type { MeasurementLabels } from '../measurements/measurement.js';

/**
 * StatsD tags of one series, as `name: value` (hot-shots escapes values that would break the line).
 *
 * @example
 * ```ts
 * import type { StatsdTags } from '@hyx/telemetry/statsd';
 * const tags: StatsdTags = { policy_kind: 'retry', policy_name: 'api', event_type: 'retry.scheduled' };
 * ```
 */
export type StatsdTags = Readonly<Record<string, string>>;

/**
 * The part of a StatsD client hyx calls: a hot-shots `StatsD` (or `ChildClient`) fits as it is.
 * Tags are sent as the client is configured to send them (DogStatsD `|#`, or Telegraf with
 * `telegraf: true`); set the client's `prefix` to namespace the `hyx.*` names.
 *
 * @example
 * ```ts
 * import { StatsD } from 'hot-shots';
 * import type { StatsdClient } from '@hyx/telemetry/statsd';
 * const client: StatsdClient = new StatsD({ host: '127.0.0.1', port: 8125 });
 * ```
 */
export interface StatsdClient {
  increment(stat: string, value: number, tags?: StatsdTags): void;
  timing(stat: string, value: number, tags?: StatsdTags): void;
  gauge(stat: string, value: number, tags?: StatsdTags): void;
}

/**
 * Options of the StatsD {@link instrument}.
 *
 * @example
 * ```ts
 * import { StatsD } from 'hot-shots';
 * import type { StatsdInstrumentOptions } from '@hyx/telemetry/statsd';
 * const options: StatsdInstrumentOptions = { client: new StatsD({ prefix: 'checkout.' }) };
 * ```
 */
export interface StatsdInstrumentOptions extends InstrumentOptions {
  /** The client the measurements are sent through. */
  readonly client: StatsdClient;
}

function tagsOf(labels: MeasurementLabels): StatsdTags {
  const tags: Record<string, string> = {};
  for (const name of Object.keys(labels) as LabelName[]) {
    const value = labels[name];
    if (value !== undefined) tags[SNAKE_LABEL_KEYS[name]] = value;
  }
  return tags;
}

/**
 * Sends a policy's (or a pipeline's) events to StatsD through a hot-shots client, one metric per
 * measurement: counters `hyx.events` and `hyx.rate_limit.decisions` (`c`), the timer
 * `hyx.execution.duration` in milliseconds (`ms`), and gauges `hyx.circuit.state`,
 * `hyx.bulkhead.in_flight`, `hyx.bulkhead.queued` (`g`). StatsD aggregates on the server, so nothing
 * is kept here but the tags of each series. A client that throws never changes a call's result.
 *
 * @returns the same policy, and `detach`.
 *
 * @example
 * ```ts
 * import { StatsD } from 'hot-shots';
 * import { retry } from '@hyx/local';
 * import { instrument } from '@hyx/telemetry/statsd';
 * const client = new StatsD({ host: '127.0.0.1', port: 8125 });
 * const { policy, detach } = instrument(retry({ name: 'api', maxAttempts: 3 }), { client });
 * await policy.execute(async () => 'ok');
 * detach();
 * client.close();
 * ```
 */
export function instrument<TAlt>(
  policy: Policy<TAlt>,
  options: StatsdInstrumentOptions,
): Instrumentation<TAlt> {
  const { client } = options;
  const reportError = errorReporter(options, 'StatsD');
  const send = (series: Series<StatsdTags>, value: number): void => {
    const { name, type } = INSTRUMENTS[series.instrument].statsd;
    switch (type) {
      case 'c':
        client.increment(name, value, series.exported);
        break;
      case 'ms':
        // Seconds back to milliseconds, rounded to the microsecond so 0.007 s is sent as 7, not 7.000000000000001.
        client.timing(name, Math.round(value * 1e6) / 1e3, series.exported);
        break;
      case 'g':
        client.gauge(name, value, series.exported);
        break;
    }
  };
  const store = createStore<StatsdTags>(
    policy,
    options,
    { exportLabels: tagsOf, bucketBounds: DURATION_BUCKETS_SECONDS, onRecord: send },
    reportError,
  );
  try {
    for (const measurement of initialMeasurementsOf(policy)) store.record(measurement);
  } catch (error) {
    reportError(error);
  }
  const unsubscribe = subscribeGuarded(policy, (part) => store.recorderOf(part.kind, part.name), reportError);
  let isAttached = true;
  return {
    policy,
    detach: () => {
      if (!isAttached) return;
      isAttached = false;
      unsubscribe();
    },
  };
}
