import type { InstrumentId, MeasurementLabels } from './measurement.js';

/**
 * The names of the backend-neutral labels.
 *
 * @example
 * ```ts
 * import { INSTRUMENTS, type LabelName } from '@hyx/telemetry';
 * const labels: readonly LabelName[] = INSTRUMENTS['execution.duration'].labels; // kind, name, outcome
 * ```
 */
export type LabelName = keyof MeasurementLabels;

/**
 * One instrument as each backend spells it. `docs/telemetry.md` renders this table.
 *
 * @example
 * ```ts
 * import { INSTRUMENTS } from '@hyx/telemetry';
 * console.log(INSTRUMENTS.events.prometheus.name); // 'hyx_events_total'
 * ```
 */
export interface InstrumentDefinition {
  readonly id: InstrumentId;
  /** What a measurement's `value` does: add to a count, be recorded in a distribution, or set a level. */
  readonly type: 'counter' | 'histogram' | 'gauge';
  readonly description: string;
  /** The labels a series of this instrument may carry (absent ones are left out of the series). */
  readonly labels: readonly LabelName[];
  readonly opentelemetry: {
    readonly name: string;
    readonly type: 'Histogram' | 'ObservableCounter' | 'ObservableGauge' | 'ObservableUpDownCounter';
    /** UCUM unit, as OpenTelemetry's semantic conventions write it. */
    readonly unit: string;
  };
  readonly prometheus: { readonly name: string; readonly type: 'counter' | 'histogram' | 'gauge' };
  readonly statsd: { readonly name: string; readonly type: 'c' | 'ms' | 'g' };
}

/**
 * The fixed set of instruments every backend creates. Names never change with the events seen.
 *
 * @example
 * ```ts
 * import { INSTRUMENTS } from '@hyx/telemetry';
 * for (const instrument of Object.values(INSTRUMENTS)) console.log(instrument.opentelemetry.name);
 * ```
 */
export const INSTRUMENTS: { readonly [TId in InstrumentId]: InstrumentDefinition & { readonly id: TId } } =
  Object.freeze({
    events: {
      id: 'events',
      type: 'counter',
      description: 'Events emitted by hyx policies, by policy and event type',
      labels: ['policyKind', 'policyName', 'eventType', 'reason', 'errorType'],
      opentelemetry: { name: 'hyx.events', type: 'ObservableCounter', unit: '{event}' },
      prometheus: { name: 'hyx_events_total', type: 'counter' },
      statsd: { name: 'hyx.events', type: 'c' },
    },
    'execution.duration': {
      id: 'execution.duration',
      type: 'histogram',
      description: 'Duration of executions through a hyx policy, retries and waits included',
      labels: ['policyKind', 'policyName', 'outcome'],
      opentelemetry: { name: 'hyx.execution.duration', type: 'Histogram', unit: 's' },
      prometheus: { name: 'hyx_execution_duration_seconds', type: 'histogram' },
      statsd: { name: 'hyx.execution.duration', type: 'ms' },
    },
    'circuit.state': {
      id: 'circuit.state',
      type: 'gauge',
      description: 'Circuit breaker state: 1 for the current state, 0 for the others',
      labels: ['policyKind', 'policyName', 'state'],
      opentelemetry: { name: 'hyx.circuit.state', type: 'ObservableGauge', unit: '1' },
      prometheus: { name: 'hyx_circuit_state', type: 'gauge' },
      statsd: { name: 'hyx.circuit.state', type: 'g' },
    },
    'bulkhead.in_flight': {
      id: 'bulkhead.in_flight',
      type: 'gauge',
      description: 'Calls holding a bulkhead permit',
      labels: ['policyKind', 'policyName'],
      opentelemetry: { name: 'hyx.bulkhead.in_flight', type: 'ObservableUpDownCounter', unit: '{call}' },
      prometheus: { name: 'hyx_bulkhead_in_flight', type: 'gauge' },
      statsd: { name: 'hyx.bulkhead.in_flight', type: 'g' },
    },
    'bulkhead.queued': {
      id: 'bulkhead.queued',
      type: 'gauge',
      description: 'Calls waiting in a bulkhead queue',
      labels: ['policyKind', 'policyName'],
      opentelemetry: { name: 'hyx.bulkhead.queued', type: 'ObservableUpDownCounter', unit: '{call}' },
      prometheus: { name: 'hyx_bulkhead_queued', type: 'gauge' },
      statsd: { name: 'hyx.bulkhead.queued', type: 'g' },
    },
    'rate_limit.decisions': {
      id: 'rate_limit.decisions',
      type: 'counter',
      description: 'Rate limiter decisions, by outcome and by the path that decided',
      labels: ['policyKind', 'policyName', 'outcome', 'source'],
      opentelemetry: { name: 'hyx.rate_limit.decisions', type: 'ObservableCounter', unit: '{decision}' },
      prometheus: { name: 'hyx_rate_limit_decisions_total', type: 'counter' },
      statsd: { name: 'hyx.rate_limit.decisions', type: 'c' },
    },
  });

/**
 * Bucket boundaries of the duration histogram, in seconds: from 1 ms to 30 s, where resilience
 * policies spend their time (fast failures, timeouts, backoffs).
 *
 * @example
 * ```ts
 * import { DURATION_BUCKETS_SECONDS } from '@hyx/telemetry';
 * console.log(DURATION_BUCKETS_SECONDS.at(-1)); // 30
 * ```
 */
export const DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

/**
 * Attribute keys on OpenTelemetry, following its conventions (`error.type` is the semantic-convention
 * key; the rest are namespaced under `hyx.`).
 *
 * @internal
 */
export const OPENTELEMETRY_LABEL_KEYS: { readonly [TName in LabelName]: string } = Object.freeze({
  policyKind: 'hyx.policy.kind',
  policyName: 'hyx.policy.name',
  eventType: 'hyx.event.type',
  outcome: 'hyx.outcome',
  reason: 'hyx.reason',
  errorType: 'error.type',
  state: 'hyx.circuit.state',
  source: 'hyx.rate_limit.source',
});

/**
 * Label names on Prometheus and tag names on StatsD.
 *
 * @internal
 */
export const SNAKE_LABEL_KEYS: { readonly [TName in LabelName]: string } = Object.freeze({
  policyKind: 'policy_kind',
  policyName: 'policy_name',
  eventType: 'event_type',
  outcome: 'outcome',
  reason: 'reason',
  errorType: 'error_type',
  state: 'state',
  source: 'source',
});
