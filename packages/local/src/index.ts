/**
 * In-process resilience policies for Node.js: retry, timeout, fallback, hedge, cache, circuit
 * breaker, bulkhead and rate limiter, composable and observable.
 *
 * @packageDocumentation
 */
export type { ExecuteOptions, ExecutionContext, Policy, PolicyKind, Work } from './policy/policy.js';
export { compose, type AlternativeOf } from './compose/compose.js';
export { systemClock, MAX_TIMER_DELAY_MS, type Clock, type TimerHandle } from './clock/clock.js';
export { DeadlineQueue, settleWithin } from './internal/deadline-queue.js';
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
export type {
  BulkheadSettings,
  BulkheadState,
  BulkheadStateProvider,
  Lease,
} from './bulkhead/bulkhead-state.js';
export { MemoryBulkheadState, memoryBulkheadState } from './bulkhead/memory-bulkhead-state.js';
export { cache, type CachePolicy } from './cache/cache.js';
export { CACHE_DEFAULTS, type CacheOptions } from './cache/cache-options.js';
export {
  circuitBreaker,
  type CircuitBreakerPolicy,
  type IsolationHandle,
} from './circuit-breaker/circuit-breaker.js';
export {
  CIRCUIT_BREAKER_DEFAULTS,
  type CircuitBreakerMode,
  type CircuitBreakerOptions,
} from './circuit-breaker/circuit-breaker-options.js';
export {
  DEFAULT_CIRCUIT_KEY,
  type Admission,
  type AdmissionPurpose,
  type CallOutcome,
  type CircuitBreakerSettings,
  type CircuitBreakerSnapshot,
  type CircuitBreakerState,
  type CircuitBreakerStateContext,
  type CircuitBreakerStateProvider,
  type CircuitInspection,
  type CircuitMetrics,
  type CircuitWindow,
  type CircuitWindowSnapshot,
  type IsolationGrant,
  type Transition,
  type TransitionReason,
} from './circuit-breaker/circuit-breaker-state.js';
export { memoryCircuitBreakerState } from './circuit-breaker/memory-circuit-breaker-state.js';
export { retry } from './retry/retry.js';
export { RETRY_DEFAULTS, type RetryDelayContext, type RetryOptions } from './retry/retry-options.js';
export { retryAfterDelay } from './retry/retry-after-delay.js';
export { retryBudget, type RetryBudget } from './retry/retry-budget.js';
export { RETRY_BUDGET_DEFAULTS, type RetryBudgetOptions } from './retry/retry-budget-options.js';
export { backoff, type Backoff, type BackoffSequence } from './backoff/backoff.js';
export {
  BACKOFF_DEFAULTS,
  type BackoffJitterOptions,
  type GrowingBackoffOptions,
  type Jitter,
} from './backoff/backoff-options.js';
export type { ConstantBackoffOptions } from './backoff/constant-backoff.js';
export type { IntervalsBackoffOptions } from './backoff/intervals-backoff.js';
export type { LinearBackoffOptions } from './backoff/linear-backoff.js';
export type { ExponentialBackoffOptions } from './backoff/exponential-backoff.js';
export type { FibonacciBackoffOptions } from './backoff/fibonacci-backoff.js';
export type { DecorrelatedExponentialBackoffOptions } from './backoff/decorrelated-exponential-backoff.js';
export type { SoftExponentialBackoffOptions } from './backoff/soft-exponential-backoff.js';
export { timeout } from './timeout/timeout.js';
export { TIMEOUT_DEFAULTS, type TimeoutOptions, type TimeoutStrategy } from './timeout/timeout-options.js';
export { hedge } from './hedge/hedge.js';
export { HEDGE_DEFAULTS, type HedgeOptions } from './hedge/hedge-options.js';
export {
  rateLimiter,
  type RateLimiter,
  type RateLimitAcquireRequest,
  type RateLimitRequest,
} from './rate-limiter/rate-limiter.js';
export { RATE_LIMITER_DEFAULTS, type RateLimiterOptions } from './rate-limiter/rate-limiter-options.js';
export type {
  RateLimitDecision,
  RateLimiterConfig,
  RateLimiterState,
  RateLimiterStateFactory,
  RateLimitRefundRequest,
  RateLimitStateDecision,
  RateLimitStateRequest,
} from './rate-limiter/rate-limiter-state.js';
export {
  memoryRateLimiterState,
  type MemoryRateLimiterState,
} from './rate-limiter/memory-rate-limiter-state.js';
export {
  deriveAlgorithmConfig,
  type AlgorithmConfig,
  type AlgorithmParameters,
  type AlgorithmStep,
  type RateLimitAlgorithm,
  type RateLimitAlgorithmName,
} from './rate-limiter/algorithms/rate-limit-algorithm.js';
export { rateLimitAlgorithms } from './rate-limiter/algorithms/rate-limit-algorithms.js';
export type { TokenBucketState } from './rate-limiter/algorithms/token-bucket.js';
export type { GcraState } from './rate-limiter/algorithms/gcra.js';
export type { FixedWindowState } from './rate-limiter/algorithms/fixed-window.js';
export type { SlidingWindowCounterState } from './rate-limiter/algorithms/sliding-window-counter.js';
export type { SlidingWindowLogState } from './rate-limiter/algorithms/sliding-window-log.js';
export type { LeakyBucketState } from './rate-limiter/algorithms/leaky-bucket.js';
