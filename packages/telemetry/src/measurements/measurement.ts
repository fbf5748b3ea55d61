import type { CircuitState, PolicyKind, ResilienceEventType } from '@hyx/local';

/**
 * The instruments every backend offers, by their backend-neutral id. The catalogue
 * ({@link INSTRUMENTS}) gives each one's type, unit and name per backend.
 *
 * @example
 * ```ts
 * import type { InstrumentId } from '@hyx/telemetry';
 * const id: InstrumentId = 'execution.duration';
 * ```
 */
export type InstrumentId =
  | 'events'
  | 'execution.duration'
  | 'circuit.state'
  | 'bulkhead.in_flight'
  | 'bulkhead.queued'
  | 'rate_limit.decisions';

/**
 * The outcome label: how an execution ended, or what a rate limiter decided.
 *
 * @example
 * ```ts
 * import type { Outcome } from '@hyx/telemetry';
 * const outcome: Outcome = 'success';
 * ```
 */
export type Outcome = 'success' | 'failure' | 'allowed' | 'rejected';

/**
 * The labels of one measurement, backend-neutral. Every value comes from a small closed set or from
 * the policy's own name: never a rate-limit key, a URL or an error message. Absent labels are not
 * part of the series.
 *
 * @example
 * ```ts
 * import type { MeasurementLabels } from '@hyx/telemetry';
 * const labels: MeasurementLabels = { policyKind: 'retry', policyName: 'api', eventType: 'retry.scheduled' };
 * ```
 */
export interface MeasurementLabels {
  /** The kind of the policy that emitted the event. */
  readonly policyKind: PolicyKind;
  /** The name given to the policy at construction. */
  readonly policyName: string;
  /** The event's `type` (`events` counter only). */
  readonly eventType?: ResilienceEventType;
  /** How an execution ended, or what a rate limiter decided. */
  readonly outcome?: Outcome;
  /** Why: a rejection, exhaustion, fallback or transition reason (a short kebab-case word). */
  readonly reason?: string;
  /** The class name of the error involved, e.g. `TimeoutError` (never its message). */
  readonly errorType?: string;
  /** The circuit state a `circuit.state` series stands for. */
  readonly state?: CircuitState;
  /** Which path a rate-limit decision took (e.g. `redis`, `local`), when the limiter says. */
  readonly source?: string;
}

/**
 * One measurement derived from an event. What `value` means depends on the instrument's type:
 * an increment for counters, seconds for the duration histogram, the new level for gauges.
 *
 * @example
 * ```ts
 * import type { Measurement } from '@hyx/telemetry';
 * const measurement: Measurement = {
 *   instrument: 'execution.duration',
 *   value: 0.25,
 *   labels: { policyKind: 'timeout', policyName: 'db', outcome: 'success' },
 * };
 * ```
 */
export interface Measurement {
  readonly instrument: InstrumentId;
  readonly value: number;
  readonly labels: MeasurementLabels;
}
