/**
 * The policies a gateway puts around its calls to the inventory, built the same way in both modes:
 * on Redis (shared by every gateway process) or in memory (shared by the gateway instances of one
 * process). Only the factories differ; the pipeline and its order are one piece of code.
 *
 * Order, outermost first (docs/guides/patterns.md explains each choice):
 *   retry (with a shared retry budget) → circuit breaker → bulkhead → per-attempt timeout → fetch.
 * The request's overall deadline comes from `hyx-timeout-ms` through `protect`, and a per-item
 * fallback to the last good answer wraps it all (gateway-app.ts).
 */
import type { Redis } from 'ioredis';

import {
  leaderElection,
  type LeaderElection,
  redisBulkhead,
  redisCircuitBreaker,
  redisRateLimiter,
  redisRetryBudget,
} from '@hyx/distributed';
import {
  TimeoutError,
  backoff,
  bulkhead,
  circuitBreaker,
  compose,
  rateLimiter,
  retry,
  retryBudget,
  timeout,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
  type ExecutionContext,
  type Policy,
  type RateLimiter,
  type RetryBudget,
} from '@hyx/local';

import type { PixiSettings } from '../settings.js';
import { InProcessElectionGroup } from './in-process-election.js';

/** The inventory answered with an error status: worth a retry, and a failure for the breaker. */
export class InventoryError extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`inventory answered ${status}`);
    this.name = 'InventoryError';
    this.status = status;
  }
}

/** The per-attempt timeout's name: only its `TimeoutError` says the inventory was slow. */
const ATTEMPT_TIMEOUT = 'pixi-attempt';

/**
 * Failures of the inventory itself. Refusals of our own policies, and the request's own deadline
 * running out (`hyxFetch`'s `TimeoutError`, perhaps spent queueing for a permit), are neither
 * retried nor counted against the inventory.
 */
function isInventoryFailure(error: unknown): boolean {
  return (
    error instanceof InventoryError || (error instanceof TimeoutError && error.policyName === ATTEMPT_TIMEOUT)
  );
}

/** The stateful policies one gateway instance uses (shared through Redis, or through memory). */
export interface SharedPolicies {
  readonly limiter: RateLimiter;
  readonly breaker: CircuitBreakerPolicy;
  readonly bulkhead: BulkheadPolicy;
  readonly budget: RetryBudget;
  readonly election: LeaderElection;
  /** Closes what the policies opened (pub/sub connections); the Redis client is the caller's. */
  close(): Promise<void>;
}

/** Runs the breaker's health check: the gateway's own probe of the inventory. */
export type HealthCheck = (context: ExecutionContext) => Promise<void>;

/**
 * The names of the shared policies. On Redis they name the keys, so each run gets its own
 * (`runId`): a later run against the same Redis starts from a clean state.
 */
function namesOf(runId: string) {
  return {
    limiter: `pixi-${runId}-api`,
    breaker: `pixi-${runId}-inventory`,
    bulkhead: `pixi-${runId}-inventory`,
    budget: `pixi-${runId}-retries`,
    election: `pixi-${runId}-recovery`,
  } as const;
}

function breakerOptions(settings: PixiSettings, healthCheck: HealthCheck, name: string) {
  return {
    name,
    window: { kind: 'countWindow', size: settings.breakerWindowCalls },
    failureRate: settings.breakerFailureRate,
    minimumCalls: settings.breakerMinimumCalls,
    halfOpenAfterMs: settings.halfOpenAfterMs,
    permittedHalfOpenCalls: settings.permittedHalfOpenCalls,
    maxHalfOpenWaitMs: settings.requestBudgetMs * 2,
    shouldHandle: isInventoryFailure,
    healthCheck,
  } as const;
}

/** The policies of a gateway process, on Redis: every process that uses the same names shares them. */
export function redisPolicies(
  redis: Redis,
  settings: PixiSettings,
  healthCheck: HealthCheck,
  runId: string,
): SharedPolicies {
  const NAMES = namesOf(runId);
  const election = leaderElection({ redis, name: NAMES.election, leaseMs: settings.leaderLeaseMs });
  const bulkhead = redisBulkhead(redis, {
    name: NAMES.bulkhead,
    maxConcurrent: settings.bulkheadCap,
    maxQueue: settings.bulkheadCap * 4,
    queueTimeoutMs: settings.bulkheadQueueTimeoutMs,
    leaseMs: settings.bulkheadLeaseMs,
  });
  const breaker = redisCircuitBreaker(redis, {
    ...breakerOptions(settings, healthCheck, NAMES.breaker),
    subscribe: true,
    recoveryLeader: election,
  });
  return {
    limiter: redisRateLimiter(redis, {
      name: NAMES.limiter,
      algorithm: 'fixed-window',
      limit: settings.limitPerKey,
      windowMs: settings.windowMs,
    }),
    breaker,
    bulkhead,
    budget: redisRetryBudget(redis, { name: NAMES.budget, ratio: 0.2, minRetriesPerSecond: 5 }),
    election,
    close: async () => {
      await Promise.all([breaker.close(), bulkhead.close()]);
    },
  };
}

/**
 * The policies of the in-process mode: one set in memory, shared by every instance of the
 * process, with an in-memory election whose candidates are the instances.
 */
export class InProcessPolicies {
  readonly #shared: Omit<SharedPolicies, 'election' | 'close'>;
  readonly #group: InProcessElectionGroup;

  constructor(settings: PixiSettings, healthCheck: HealthCheck) {
    const NAMES = namesOf('local');
    this.#group = new InProcessElectionGroup(NAMES.election, settings.leaderLeaseMs);
    this.#shared = {
      limiter: rateLimiter({
        name: NAMES.limiter,
        algorithm: 'fixed-window',
        limit: settings.limitPerKey,
        windowMs: settings.windowMs,
      }),
      breaker: circuitBreaker(breakerOptions(settings, healthCheck, NAMES.breaker)),
      bulkhead: bulkhead({
        name: NAMES.bulkhead,
        maxConcurrent: settings.bulkheadCap,
        maxQueue: settings.bulkheadCap * 4,
        queueTimeoutMs: settings.bulkheadQueueTimeoutMs,
      }),
      budget: retryBudget({ ratio: 0.2, minRetriesPerSecond: 5 }),
    };
  }

  /** The shared policies, with a candidate of its own in the election, for one more instance. */
  forInstance(): SharedPolicies {
    return { ...this.#shared, election: this.#group.candidate(), close: () => Promise.resolve() };
  }
}

/** The pipeline around one call to the inventory (the order is explained at the top). */
export function inventoryPipeline(settings: PixiSettings, policies: SharedPolicies): Policy {
  return compose(
    retry({
      name: 'pixi-inventory',
      maxAttempts: settings.maxAttempts,
      // Jitter, so that gateways retrying together do not hit the inventory in step.
      backoff: backoff.exponential({ initialDelayMs: 25, maxDelayMs: 200, jitter: 'full' }),
      budget: policies.budget,
      shouldHandle: isInventoryFailure,
    }),
    policies.breaker,
    policies.bulkhead,
    timeout({ name: ATTEMPT_TIMEOUT, timeoutMs: settings.attemptTimeoutMs }),
  );
}
