/**
 * Redis-backed state for hyx policies, so every instance of a service shares one rate limit,
 * breaker or concurrency cap; plus the foundation those rest on: atomic Lua scripts run with
 * EVALSHA, hash-tagged key names, and the Redis server's clock.
 *
 * @packageDocumentation
 */
export type { LuaArgument, RedisLike } from './redis-like.js';
export {
  LuaScript,
  isNoScriptError,
  type EmbeddedLuaScript,
  type LuaArity,
  type LuaScriptDefinition,
} from './lua-script.js';
export { LuaReplyError, arrayReply, integerReply } from './lua-reply.js';
export {
  HYX_KEY_PREFIX,
  MAX_LITERAL_KEY_BYTES,
  RedisKeyspace,
  assertOneSlot,
  escapeKeySegment,
  hashSlotOf,
  type RedisKeyspaceOptions,
} from './redis-keys.js';
export { LUA_COMMANDS, LUA_SCRIPTS } from './lua.generated.js';
export { serverTimeMs } from './clock/server-time.js';
export type { Lock, LockAcquireOptions, LockHandle } from './lock/lock.js';
export { LockLostError, LockUnavailableError, type LockLossReason } from './lock/lock-errors.js';
export { REDIS_LOCK_DEFAULTS, type RedisLockOptions } from './lock/redis-lock-options.js';
export { redisLock } from './lock/redis-lock.js';
export {
  REDIS_RATE_LIMITER_DEFAULTS,
  type AdditionalRateLimit,
  type BackendFailureMode,
  type RedisRateLimiterOptions,
  type RedisRateLimiterStateOptions,
} from './rate-limiter/redis-rate-limiter-options.js';
export type { BackendTransition } from './backend-guard.js';
export {
  RedisRateLimiterState,
  redisRateLimiterState,
  type RedisRateLimiterStateFactoryOptions,
} from './rate-limiter/redis-rate-limiter-state.js';
export { redisRateLimiter } from './rate-limiter/redis-rate-limiter.js';
export {
  leaderElection,
  type LeaderElection,
  type LeadershipContext,
} from './leader-election/leader-election.js';
export type { LeaderElectionOptions } from './leader-election/leader-election-options.js';
export {
  REDIS_BULKHEAD_DEFAULTS,
  type DuplicableRedis,
  type RedisBulkheadOptions,
  type RedisBulkheadStateOptions,
  type RedisSubscriberLike,
} from './bulkhead/redis-bulkhead-options.js';
export { RedisBulkheadState, redisBulkheadState } from './bulkhead/redis-bulkhead-state.js';
export { redisBulkhead, type RedisBulkheadPolicy } from './bulkhead/redis-bulkhead.js';
export { redlockLock } from './lock/redlock-lock.js';
export {
  REDIS_CIRCUIT_BREAKER_DEFAULTS,
  type RecoveryLeader,
  type RedisCircuitBreakerOptions,
  type RedisCircuitBreakerStateOptions,
} from './circuit-breaker/redis-circuit-breaker-options.js';
export {
  RedisCircuitBreakerState,
  redisCircuitBreakerState,
  type ObservedTransition,
  type RedisCircuitBreakerStateFactoryOptions,
} from './circuit-breaker/redis-circuit-breaker-state.js';
export {
  redisCircuitBreaker,
  type RedisCircuitBreakerPolicy,
} from './circuit-breaker/redis-circuit-breaker.js';
export {
  REDIS_RETRY_BUDGET_DEFAULTS,
  type RedisRetryBudgetOptions,
  type RetryBudgetBackendFailureMode,
} from './retry/redis-retry-budget-options.js';
export { redisRetryBudget } from './retry/redis-retry-budget.js';
