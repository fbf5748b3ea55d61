import type { CircuitState, PolicyKind, ResilienceEvent, ResilienceEventType } from '@hyx/local';

import type { Measurement, MeasurementLabels } from './measurement.js';

/** Every circuit state, in the order the one-hot `circuit.state` series are written. */
const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half-open', 'isolated'];

/** A short word from code (a reason, a class name): anything else could be unbounded user data. */
const BOUNDED_WORD = /^[A-Za-z][\w.:-]{0,63}$/;

/**
 * `value` when it is a short code-like word, `'other'` otherwise. Reasons and class names come from
 * code, but a label must stay bounded even when they do not (a generated class, a reason with an id).
 *
 * @internal
 */
export function boundedWord(value: unknown): string {
  return typeof value === 'string' && BOUNDED_WORD.test(value) ? value : 'other';
}

/**
 * The class name of an error, never its message: `TimeoutError`, `TypeError`, `DOMException`. A
 * thrown value that is not an `Error` is `'non-error'`.
 *
 * @internal
 */
export function errorTypeOf(error: unknown): string {
  if (!(error instanceof Error)) return 'non-error';
  // A DOMException's class says little; its name (AbortError, TimeoutError) is the useful part.
  const name = error instanceof DOMException ? error.name : error.constructor.name;
  return boundedWord(name);
}

/**
 * The one-hot `circuit.state` measurements of a breaker in `state`: 1 for it, 0 for the others.
 *
 * @example
 * ```ts
 * import { circuitStateMeasurements } from '@hyx/telemetry';
 * const [closed] = circuitStateMeasurements('circuit-breaker', 'payments', 'closed');
 * console.log(closed?.value); // 1
 * ```
 */
export function circuitStateMeasurements(
  policyKind: PolicyKind,
  policyName: string,
  state: CircuitState,
): Measurement[] {
  return CIRCUIT_STATES.map((candidate) => ({
    instrument: 'circuit.state',
    value: candidate === state ? 1 : 0,
    labels: { policyKind, policyName, state: candidate },
  }));
}

/**
 * The measurements one event stands for: always one increment of the `events` counter, plus the
 * duration of an execution, the new circuit state, the bulkhead's levels or a rate-limit decision.
 * Pure: the same event always gives the same measurements, and every label is bounded (policy kind
 * and name, event type, outcome, reason, error class name; never a key, URL or message).
 *
 * | event | `events` labels beyond kind, name, type | other measurements |
 * |---|---|---|
 * | `execution.succeeded` | | `execution.duration` (outcome `success`) |
 * | `execution.failed` | `errorType` | `execution.duration` (outcome `failure`) |
 * | `retry.scheduled` | `reason` (`error`/`result`), `errorType` | |
 * | `retry.exhausted`, `fallback.used`, `call.rejected` | `reason` | |
 * | `circuit.transitioned`, `circuit.observed` | `reason` | `circuit.state`: 1 for `to`, 0 for the other states |
 * | `bulkhead.acquired`, `bulkhead.released` | | `bulkhead.in_flight`, `bulkhead.queued` levels |
 * | `rate-limit.decided` | | `rate_limit.decisions` (outcome, source when present) |
 * | `backend.failed` | `reason` (the `onBackendFailure` path), `errorType` | |
 *
 * @example
 * ```ts
 * import { measurementsOf } from '@hyx/telemetry';
 * const measurements = measurementsOf({
 *   type: 'execution.succeeded',
 *   policyKind: 'retry',
 *   policyName: 'api',
 *   durationMs: 250,
 * });
 * // [{ instrument: 'events', value: 1, ... }, { instrument: 'execution.duration', value: 0.25, ... }]
 * ```
 */
export function measurementsOf(event: ResilienceEvent): Measurement[] {
  const { policyKind, policyName } = event;
  const count = (extra?: Partial<MeasurementLabels>): Measurement => ({
    instrument: 'events',
    value: 1,
    labels: { policyKind, policyName, eventType: event.type, ...extra },
  });
  switch (event.type) {
    case 'execution.succeeded':
      return [
        count(),
        {
          instrument: 'execution.duration',
          value: event.durationMs / 1000,
          labels: { policyKind, policyName, outcome: 'success' },
        },
      ];
    case 'execution.failed':
      return [
        count({ errorType: errorTypeOf(event.error) }),
        {
          instrument: 'execution.duration',
          value: event.durationMs / 1000,
          labels: { policyKind, policyName, outcome: 'failure' },
        },
      ];
    case 'retry.scheduled':
      return [
        'error' in event
          ? count({ reason: 'error', errorType: errorTypeOf(event.error) })
          : count({ reason: 'result' }),
      ];
    case 'retry.exhausted':
    case 'fallback.used':
    case 'call.rejected':
      return [count({ reason: boundedWord(event.reason) })];
    case 'circuit.transitioned':
    case 'circuit.observed':
      // An observed transition (another instance's, seen through shared state) moves this instance's
      // last known state just the same.
      return [
        count({ reason: boundedWord(event.reason) }),
        ...circuitStateMeasurements(policyKind, policyName, event.to),
      ];
    case 'bulkhead.acquired':
    case 'bulkhead.released':
      return [
        count(),
        { instrument: 'bulkhead.in_flight', value: event.inFlight, labels: { policyKind, policyName } },
        { instrument: 'bulkhead.queued', value: event.queued, labels: { policyKind, policyName } },
      ];
    case 'backend.failed':
      return [count({ reason: event.fallback, errorType: errorTypeOf(event.error) })];
    case 'rate-limit.decided': {
      const outcome = event.allowed ? 'allowed' : 'rejected';
      // A limiter with remote state says which path decided (`redis`, or its `fallback`).
      const { source } = event;
      return [
        count(),
        {
          instrument: 'rate_limit.decisions',
          value: 1,
          labels:
            source === undefined
              ? { policyKind, policyName, outcome }
              : { policyKind, policyName, outcome, source: boundedWord(source) },
        },
      ];
    }
    default:
      // timeout.elapsed, hedge.started, cache.*, backend.recovered, and types added later: counted by type.
      return [count()];
  }
}

/**
 * The part of an event that decides its measurements' labels beyond policy kind, name and event
 * type: two events with equal kind, name, type and shape get the same series from
 * {@link measurementsOf}. Recorders key their series cache on it instead of rebuilding labels.
 *
 * @internal
 */
export function labelShapeOf(event: ResilienceEvent): string {
  switch (event.type) {
    case 'execution.failed':
      return errorTypeOf(event.error);
    case 'retry.scheduled':
      // An error type is never empty, so '' stands for a rejected result.
      return 'error' in event ? errorTypeOf(event.error) : '';
    case 'retry.exhausted':
    case 'fallback.used':
    case 'call.rejected':
      return boundedWord(event.reason);
    case 'circuit.transitioned':
    case 'circuit.observed':
      return `${boundedWord(event.reason)}\u001f${event.to}`;
    case 'backend.failed':
      return `${event.fallback}\u001f${errorTypeOf(event.error)}`;
    case 'rate-limit.decided':
      return rateLimitShapeOf(event.allowed, event.source);
    default:
      return '';
  }
}

/**
 * The shape of a rate-limit decision. A limiter decides on every request, so the sources hyx
 * policies report are constants rather than strings built per event.
 */
function rateLimitShapeOf(isAllowed: boolean, source: unknown): string {
  switch (source) {
    case undefined:
      return isAllowed ? 'allowed' : 'rejected';
    case 'redis':
      return isAllowed ? 'allowed\u001fredis' : 'rejected\u001fredis';
    case 'fallback':
      return isAllowed ? 'allowed\u001ffallback' : 'rejected\u001ffallback';
    default:
      return `${isAllowed ? 'allowed' : 'rejected'}\u001f${boundedWord(source)}`;
  }
}

/**
 * False when every event of `type` has the same labels ({@link labelShapeOf} is `''` for all of
 * them), so a recorder needs one plan per policy and type and never computes a shape.
 *
 * @internal
 */
export function hasLabelShape(type: ResilienceEventType): boolean {
  switch (type) {
    case 'execution.failed':
    case 'retry.scheduled':
    case 'retry.exhausted':
    case 'fallback.used':
    case 'call.rejected':
    case 'circuit.transitioned':
    case 'circuit.observed':
    case 'backend.failed':
    case 'rate-limit.decided':
      return true;
    default:
      return false;
  }
}
