import type { ResilienceEvent } from '@hyx/local';

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** One line per event that says what the policy did, or undefined for events not worth a line. */
export function formatEvent(event: ResilienceEvent): string | undefined {
  const who = `${event.policyKind} "${event.policyName}"`;
  switch (event.type) {
    case 'retry.scheduled':
      return `${who}: attempt ${event.attempt} failed (${'error' in event ? describeError(event.error) : 'unwanted result'}), retrying in ${Math.round(event.delayMs)} ms`;
    case 'retry.exhausted':
      return `${who}: gave up after ${event.attempts} attempts (${event.reason})`;
    case 'timeout.elapsed':
      return `${who}: ${event.timeoutMs} ms elapsed, aborting the attempt`;
    case 'fallback.used':
      return `${who}: answering with the cached value (after an ${event.reason})`;
    case 'hedge.started':
      return `${who}: no answer yet, starting hedged attempt ${event.attempt}`;
    case 'circuit.transitioned':
      return `${who}: ${event.from} -> ${event.to} (${event.reason})`;
    case 'call.rejected':
      return `${who}: rejected without calling (${event.reason}${event.retryAfterMs === undefined ? '' : `, retry after ${event.retryAfterMs} ms`})`;
    case 'cache.hit':
      return `${who}: served from cache`;
    default:
      return undefined;
  }
}
