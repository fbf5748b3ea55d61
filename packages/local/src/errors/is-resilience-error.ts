import type {
  BackendUnavailableError,
  BulkheadFullError,
  CircuitOpenError,
  RateLimitedError,
  RetryExhaustedError,
  TimeoutError,
} from './errors.js';
import type { ResilienceError, ResilienceErrorCode } from './resilience-error.js';

/** The error class for each code, for narrowing in {@link isResilienceError}. */
export interface ResilienceErrorByCode {
  TIMEOUT: TimeoutError;
  RETRY_EXHAUSTED: RetryExhaustedError;
  CIRCUIT_OPEN: CircuitOpenError;
  BULKHEAD_FULL: BulkheadFullError;
  RATE_LIMITED: RateLimitedError;
  BACKEND_UNAVAILABLE: BackendUnavailableError;
}

const RESILIENCE_ERROR = Symbol.for('@hyx/resilience-error');

/**
 * True when `value` is an error raised by a hyx policy (of the given `code`, if one is passed).
 * Works across duplicate installs of the package, where `instanceof` does not.
 *
 * @example
 * ```ts
 * import { isResilienceError } from '@hyx/local';
 * function status(error: unknown): number {
 *   return isResilienceError(error, 'CIRCUIT_OPEN') ? 503 : 500;
 * }
 * ```
 */
export function isResilienceError(value: unknown): value is ResilienceError;
export function isResilienceError<TCode extends ResilienceErrorCode>(
  value: unknown,
  code: TCode,
): value is ResilienceErrorByCode[TCode];
export function isResilienceError(value: unknown, code?: ResilienceErrorCode): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if ((value as Record<symbol, unknown>)[RESILIENCE_ERROR] !== true) return false;
  return code === undefined || (value as { code?: unknown }).code === code;
}
