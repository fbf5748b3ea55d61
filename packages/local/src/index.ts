/**
 * In-process resilience policies for Node.js: retry, timeout, fallback, hedge, cache, circuit
 * breaker, bulkhead and rate limiter, composable and observable.
 *
 * @packageDocumentation
 */
export type { ExecuteOptions, ExecutionContext, Policy, PolicyKind, Work } from './policy/policy.js';
export { compose, type AlternativeOf } from './compose/compose.js';
export { systemClock, MAX_TIMER_DELAY_MS, type Clock, type TimerHandle } from './clock/clock.js';
export type * from './events/resilience-event.js';
export {
  ResilienceError,
  ExecutionRejectedError,
  type ErrorSource,
  type ResilienceErrorCode,
} from './errors/resilience-error.js';
export {
  BackendUnavailableError,
  BulkheadFullError,
  CircuitOpenError,
  RateLimitedError,
  RetryExhaustedError,
  TimeoutError,
} from './errors/errors.js';
export { isResilienceError, type ResilienceErrorByCode } from './errors/is-resilience-error.js';
export { fallback } from './fallback/fallback.js';
export { FALLBACK_DEFAULTS, type FallbackOptions, type FallbackReason } from './fallback/fallback-options.js';
export {
  currentContext,
  remainingBudgetMs,
  withContext,
  type HyxContext,
  type HyxContextInit,
} from './context/hyx-context.js';
export { bulkhead, type BulkheadPolicy } from './bulkhead/bulkhead.js';
export { BULKHEAD_DEFAULTS, type BulkheadOptions } from './bulkhead/bulkhead-options.js';
export type { BulkheadState, BulkheadStateConfig, Lease } from './bulkhead/bulkhead-state.js';
export { MemoryBulkheadState } from './bulkhead/memory-bulkhead-state.js';
export { cache, type CachePolicy } from './cache/cache.js';
export { CACHE_DEFAULTS, type CacheOptions } from './cache/cache-options.js';
