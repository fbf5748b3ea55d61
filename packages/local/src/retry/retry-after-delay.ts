import type { RetryDelayContext } from './retry-options.js';

/** The `retryAfterMs` a value carries, when it is a usable number of ms. */
function retryAfterMsOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const retryAfterMs = (value as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof retryAfterMs === 'number' && retryAfterMs >= 0 && retryAfterMs <= Number.MAX_VALUE
    ? retryAfterMs
    : undefined;
}

/**
 * A ready-made `delay` hook for {@link retry} that honours `Retry-After`: when the failed attempt's
 * error or result has a numeric `retryAfterMs` (hyx's `ExecutionRejectedError` does: circuit open,
 * bulkhead full, rate limited), the retry waits at least that long, and the backoff's delay when it
 * is longer. Otherwise the backoff decides. The policy's `maxDelayMs` still caps the wait.
 *
 * @example
 * ```ts
 * import { retry, retryAfterDelay } from '@hyx/local';
 * class HttpError extends Error {
 *   constructor(readonly status: number, readonly retryAfterMs?: number) {
 *     super(`HTTP ${status}`);
 *   }
 * }
 * const policy = retry({ maxAttempts: 4, delay: retryAfterDelay });
 * await policy.execute(async () => {
 *   const response = await fetch('http://127.0.0.1:8080/');
 *   const header = response.headers.get('retry-after');
 *   const seconds = header === null ? Number.NaN : Number(header);
 *   if (response.status === 503) throw new HttpError(503, seconds >= 0 ? seconds * 1000 : undefined);
 *   return response.text();
 * });
 * ```
 */
export function retryAfterDelay(context: RetryDelayContext): number | undefined {
  const retryAfterMs = retryAfterMsOf('error' in context ? context.error : context.result);
  if (retryAfterMs === undefined) return undefined;
  return Math.max(retryAfterMs, context.suggestedDelayMs);
}
