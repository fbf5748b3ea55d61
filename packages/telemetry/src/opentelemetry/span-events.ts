import type { Attributes } from '@opentelemetry/api';
import type { ResilienceEvent, ResilienceEventType } from '@hyx/local';

import { boundedWord, errorTypeOf } from '../measurements/measurements-of.js';

/** The events worth a mark on the active span: the moments a policy changed what the call did. */
const SPAN_EVENT_TYPES: ReadonlySet<ResilienceEventType> = new Set<ResilienceEventType>([
  'retry.scheduled',
  'retry.exhausted',
  'timeout.elapsed',
  'fallback.used',
  'hedge.started',
  'circuit.transitioned',
  'circuit.observed',
  'call.rejected',
  'backend.failed',
  'backend.recovered',
]);

/**
 * The span event an event becomes (`hyx.retry.scheduled`, ...), or `undefined` for events that only
 * feed metrics. Span attributes may carry per-call values (attempt, delay, correlation id), never an
 * error message or a key.
 *
 * @internal
 */
export function spanEventOf(event: ResilienceEvent): { name: string; attributes: Attributes } | undefined {
  if (!SPAN_EVENT_TYPES.has(event.type)) return undefined;
  const attributes: Attributes = {
    'hyx.policy.kind': event.policyKind,
    'hyx.policy.name': event.policyName,
  };
  if (event.correlationId !== undefined) attributes['hyx.correlation_id'] = event.correlationId;
  switch (event.type) {
    case 'retry.scheduled':
      attributes['hyx.attempt'] = event.attempt;
      attributes['hyx.retry.delay_ms'] = event.delayMs;
      attributes['hyx.reason'] = 'error' in event ? 'error' : 'result';
      if ('error' in event) attributes['error.type'] = errorTypeOf(event.error);
      break;
    case 'retry.exhausted':
      attributes['hyx.retry.attempts'] = event.attempts;
      attributes['hyx.reason'] = event.reason;
      break;
    case 'timeout.elapsed':
      attributes['hyx.timeout_ms'] = event.timeoutMs;
      break;
    case 'fallback.used':
      attributes['hyx.reason'] = event.reason;
      break;
    case 'hedge.started':
      attributes['hyx.attempt'] = event.attempt;
      break;
    case 'circuit.transitioned':
    case 'circuit.observed':
      attributes['hyx.circuit.from'] = event.from;
      attributes['hyx.circuit.to'] = event.to;
      attributes['hyx.reason'] = boundedWord(event.reason);
      break;
    case 'call.rejected':
      attributes['hyx.reason'] = event.reason;
      if (event.retryAfterMs !== undefined) attributes['hyx.retry_after_ms'] = event.retryAfterMs;
      break;
    case 'backend.failed':
      attributes['error.type'] = errorTypeOf(event.error);
      attributes['hyx.backend.fallback'] = event.fallback;
      break;
    case 'backend.recovered':
      attributes['hyx.backend.outage_ms'] = event.outageMs;
      break;
    default:
      break;
  }
  return { name: `hyx.${event.type}`, attributes };
}
