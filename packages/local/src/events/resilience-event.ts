import type { PolicyKind } from '../policy/policy.js';

/** Fields every event carries: which policy emitted it. */
export interface EventSource {
  /** The kind of the policy that emitted the event. */
  readonly policyKind: PolicyKind;
  /** The name of the policy that emitted the event. */
  readonly policyName: string;
  /**
   * The correlation id of the hyx context the event was emitted in (see `withContext`); the event hub
   * fills it in, so policies never set it. Absent outside every context.
   */
  readonly correlationId?: string;
}

/** The work finished with a value the policy passed on. */
export interface ExecutionSucceededEvent extends EventSource {
  readonly type: 'execution.succeeded';
  /** Wall time of the whole execution through this policy, retries included. */
  readonly durationMs: number;
}

/** The execution through this policy ended in an error. */
export interface ExecutionFailedEvent extends EventSource {
  readonly type: 'execution.failed';
  readonly durationMs: number;
  readonly error: unknown;
}

/** A retry was scheduled after a handled failure. */
export interface RetryScheduledEvent extends EventSource {
  readonly type: 'retry.scheduled';
  /** The attempt that failed (1 for the first call). */
  readonly attempt: number;
  /** How long the retry waits before the next attempt. */
  readonly delayMs: number;
  /** The error of the failed attempt, when it failed with an error. */
  readonly error?: unknown;
  /** The result of the failed attempt, when `shouldHandleResult` rejected it. */
  readonly result?: unknown;
}

/** Retrying stopped although the last attempt failed. */
export interface RetryExhaustedEvent extends EventSource {
  readonly type: 'retry.exhausted';
  readonly attempts: number;
  /** Why no further attempt is made. */
  readonly reason: 'max-attempts' | 'budget';
}

/** A timeout's deadline passed before the work finished. */
export interface TimeoutElapsedEvent extends EventSource {
  readonly type: 'timeout.elapsed';
  readonly timeoutMs: number;
}

/** A fallback replaced an error or a result. */
export interface FallbackUsedEvent extends EventSource {
  readonly type: 'fallback.used';
  readonly reason: 'error' | 'result';
}

/** A hedge started another attempt because the earlier ones were slow. */
export interface HedgeStartedEvent extends EventSource {
  readonly type: 'hedge.started';
  /** The number of the attempt started (2 for the first hedge). */
  readonly attempt: number;
}

/** A cache answered from a stored result. */
export interface CacheHitEvent extends EventSource {
  readonly type: 'cache.hit';
}

/** A cache found nothing and ran the work. */
export interface CacheMissEvent extends EventSource {
  readonly type: 'cache.miss';
}

/** A cache joined a call to an execution already running for the same key. */
export interface CacheCoalescedEvent extends EventSource {
  readonly type: 'cache.coalesced';
}

/** The state a circuit breaker can be in. */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated';

/** A circuit breaker changed state. */
export interface CircuitTransitionedEvent extends EventSource {
  readonly type: 'circuit.transitioned';
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** What caused it, e.g. `failure-rate`, `failure-count`, `slow-call-rate`, `probe-succeeded`, `isolate`. */
  readonly reason: string;
}

/**
 * A circuit breaker whose state is shared (a Redis breaker) learned of a transition another
 * instance made: from a reply of its state, or from a pub/sub message. `reason` is the other
 * instance's reason, or `'unknown'` when several transitions may have happened in between.
 */
export interface CircuitObservedEvent extends EventSource {
  readonly type: 'circuit.observed';
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: string;
}

/** A call was refused without running. */
export interface CallRejectedEvent extends EventSource {
  readonly type: 'call.rejected';
  readonly reason: 'circuit-open' | 'bulkhead-full' | 'rate-limited' | 'queue-timeout';
  /** When trying again may succeed, if the policy knows. */
  readonly retryAfterMs?: number;
}

/** A bulkhead granted a permit. */
export interface BulkheadAcquiredEvent extends EventSource {
  readonly type: 'bulkhead.acquired';
  readonly inFlight: number;
  readonly queued: number;
  /** How long the caller waited in the queue. */
  readonly waitedMs: number;
}

/** A bulkhead got a permit back. */
export interface BulkheadReleasedEvent extends EventSource {
  readonly type: 'bulkhead.released';
  readonly inFlight: number;
  readonly queued: number;
}

/** A rate limiter decided on a request. */
export interface RateLimitDecidedEvent extends EventSource {
  readonly type: 'rate-limit.decided';
  readonly allowed: boolean;
  readonly cost: number;
  /** Which path decided, when the limiter's state is remote (see `RateLimitDecision.source`). */
  readonly source?: 'redis' | 'fallback';
}

/**
 * A policy's remote state (Redis) failed or answered later than its command timeout: once per
 * outage, not per call; `backend.recovered` follows when it answers again.
 */
export interface BackendFailedEvent extends EventSource {
  readonly type: 'backend.failed';
  /** The first error of the outage (a timeout, a connection error, ...). */
  readonly error: unknown;
  /** What the policy does while the backend is down, its `onBackendFailure` option. */
  readonly fallback: 'reject' | 'allow' | 'local';
}

/** The remote state answered again after a `backend.failed`. */
export interface BackendRecoveredEvent extends EventSource {
  readonly type: 'backend.recovered';
  /** From the first failure to the first success, in ms of the policy's clock. */
  readonly outageMs: number;
}

/** This instance became the leader of a `leaderElection`. */
export interface LeaderElectedEvent extends EventSource {
  readonly type: 'leader.elected';
  /** The term's fencing token, in decimal (a `bigint` on the API; text here so events stay JSON-safe). */
  readonly fencingToken: string;
}

/** This instance stopped being the leader of a `leaderElection`. */
export interface LeaderLostEvent extends EventSource {
  readonly type: 'leader.lost';
  /** The fencing token of the term that ended, in decimal. */
  readonly fencingToken: string;
  /**
   * `released`: the work ended or the caller stopped, and the lease was given back; `not-owner`: a
   * renewal found the lease gone; `renewal-deadline`: no renewal succeeded in time, so it stepped down.
   */
  readonly reason: 'released' | 'not-owner' | 'renewal-deadline';
  /**
   * When the term stopped being valid, in ms of the election's clock. For `renewal-deadline` it
   * is the term's validity deadline, earlier than this event when the event loop stalled past it
   * (`isLeader` was already false from then on); otherwise the time the loss was seen.
   */
  readonly endedAtMs: number;
}

/**
 * Every event a hyx policy emits, told apart by `type`.
 *
 * @example
 * ```ts
 * import { retry, type ResilienceEvent } from '@hyx/local';
 * const log = (event: ResilienceEvent) => {
 *   if (event.type === 'retry.scheduled') console.log(`retry in ${event.delayMs} ms`);
 * };
 * retry({ maxAttempts: 3 }).onEvent(log);
 * ```
 */
export type ResilienceEvent =
  | ExecutionSucceededEvent
  | ExecutionFailedEvent
  | RetryScheduledEvent
  | RetryExhaustedEvent
  | TimeoutElapsedEvent
  | FallbackUsedEvent
  | HedgeStartedEvent
  | CacheHitEvent
  | CacheMissEvent
  | CacheCoalescedEvent
  | CircuitTransitionedEvent
  | CircuitObservedEvent
  | CallRejectedEvent
  | BulkheadAcquiredEvent
  | BulkheadReleasedEvent
  | RateLimitDecidedEvent
  | BackendFailedEvent
  | BackendRecoveredEvent
  | LeaderElectedEvent
  | LeaderLostEvent;

/** The `type` of every event. */
export type ResilienceEventType = ResilienceEvent['type'];
