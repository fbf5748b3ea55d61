import type { Clock } from '../clock/clock.js';
import type { CircuitState } from '../events/resilience-event.js';

/**
 * The circuit a call goes through when `execute` gets no `key`.
 *
 * @example
 * ```ts
 * import { DEFAULT_CIRCUIT_KEY } from '@hyx/local';
 * const isDefault = (key: string) => key === DEFAULT_CIRCUIT_KEY;
 * ```
 */
export const DEFAULT_CIRCUIT_KEY = '';

/**
 * How a breaker measures recent calls while closed.
 *
 * - `consecutive`: the run of failures in a row; any success ends the run.
 * - `countWindow`: the last `size` calls.
 * - `timeWindow`: the calls of the last `durationMs`, kept in `buckets` buckets of
 *   `durationMs / buckets` ms each; the oldest bucket drops out whole.
 *
 * @example
 * ```ts
 * import type { CircuitWindow } from '@hyx/local';
 * const lastMinute: CircuitWindow = { kind: 'timeWindow', durationMs: 60_000, buckets: 60 };
 * ```
 */
export type CircuitWindow =
  | { readonly kind: 'consecutive' }
  | { readonly kind: 'countWindow'; readonly size: number }
  | { readonly kind: 'timeWindow'; readonly durationMs: number; readonly buckets: number };

/**
 * The resolved rules of one breaker, handed to its state once. Every field is plain data, so a
 * Redis state can pass the same values to its Lua script.
 *
 * @example
 * ```ts
 * import type { CircuitBreakerSettings } from '@hyx/local';
 * const describe = (settings: CircuitBreakerSettings) => `${settings.name}: ${settings.window.kind}`;
 * ```
 */
export interface CircuitBreakerSettings {
  /** The breaker's name (a Redis state builds its key names from it). */
  readonly name: string;
  readonly window: CircuitWindow;
  /** Open when `failures / calls >= failureRate`; `undefined` when not used. */
  readonly failureRate: number | undefined;
  /** Open when `failures >= failureCount` (for `consecutive`: failures in a row); `undefined` when not used. */
  readonly failureCount: number | undefined;
  /** Open when `slowCalls / calls >= slowCallRate`; `undefined` when not used. */
  readonly slowCallRate: number | undefined;
  /** A call that took at least this long is slow (only when `slowCallRate` is set). */
  readonly slowCallDurationMs: number;
  /** Calls the window must hold before a rate or count threshold can open the breaker. */
  readonly minimumCalls: number;
  /**
   * How long the breaker stays open, by the number of opens in a row: the n-th consecutive open
   * waits `openDurationsMs[min(n, length) - 1]` ms.
   */
  readonly openDurationsMs: readonly number[];
  /** How many probes half-open admits. */
  readonly permittedHalfOpenCalls: number;
  /** Half-open that has not decided after this long re-opens (reason `half-open-timeout`). */
  readonly maxHalfOpenWaitMs: number;
  /** True when a health check, not live traffic, probes the breaker after the open time. */
  readonly usesHealthCheck: boolean;
  /** True in `metricsOnly` mode: calls are measured, the breaker never opens by itself. */
  readonly isMetricsOnly: boolean;
}

/**
 * Why a breaker changed state.
 *
 * @example
 * ```ts
 * import type { TransitionReason } from '@hyx/local';
 * const isManual = (reason: TransitionReason) => reason === 'isolate' || reason === 'reset';
 * ```
 */
export type TransitionReason =
  | 'failure-rate'
  | 'failure-count'
  | 'slow-call-rate'
  | 'probe-failed'
  | 'probes-succeeded'
  | 'open-elapsed'
  | 'half-open-timeout'
  | 'isolate'
  | 'isolation-released'
  | 'reset'
  | 'restore';

/**
 * One change of state, as the state reports it.
 *
 * @example
 * ```ts
 * import type { Transition } from '@hyx/local';
 * const log = (t: Transition) => console.log(`${t.from} -> ${t.to} (${t.reason})`);
 * ```
 */
export interface Transition {
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: TransitionReason;
  /** When the transition took effect (a half-open timeout takes effect at its deadline). */
  readonly atMs: number;
  /** The generation the circuit entered. */
  readonly generation: number;
  /** When the open time ends, for transitions to `open`. */
  readonly openUntilMs: number | undefined;
}

/**
 * Who asks for admission: live traffic, or the breaker's own health check.
 *
 * @example
 * ```ts
 * import type { AdmissionPurpose } from '@hyx/local';
 * const purpose: AdmissionPurpose = 'call';
 * ```
 */
export type AdmissionPurpose = 'call' | 'health-check';

/**
 * The state's answer to "may this call run?". An allowed admission is handed back to
 * {@link CircuitBreakerState.record} with the call's outcome.
 *
 * @example
 * ```ts
 * import type { Admission } from '@hyx/local';
 * const waitMs = (admission: Admission) => (admission.isAllowed ? 0 : (admission.retryAfterMs ?? 1000));
 * ```
 */
export interface Admission {
  readonly isAllowed: boolean;
  /** True when the call is a half-open probe. */
  readonly isProbe: boolean;
  /**
   * The circuit's generation when the call was admitted. Every transition starts a new
   * generation; a result recorded under an older one changes nothing.
   */
  readonly generation: number;
  /** The state after the decision. */
  readonly state: CircuitState;
  /** For a refused call: when a call may be admitted again, if known. */
  readonly retryAfterMs: number | undefined;
  /** Transitions the decision made (open to half-open, or a half-open timeout). */
  readonly transitions: readonly Transition[];
}

/**
 * How an admitted call ended. `ignored` (an error `shouldHandle` declines, the caller's abort)
 * frees a probe slot and counts nowhere.
 *
 * @example
 * ```ts
 * import type { CallOutcome } from '@hyx/local';
 * const failed: CallOutcome = { kind: 'failure', durationMs: 12 };
 * ```
 */
export type CallOutcome =
  | { readonly kind: 'success'; readonly durationMs: number }
  | { readonly kind: 'failure'; readonly durationMs: number }
  | { readonly kind: 'ignored' };

/**
 * What a breaker's window says right now.
 *
 * @example
 * ```ts
 * import type { CircuitMetrics } from '@hyx/local';
 * const summary = (m: CircuitMetrics) => `${m.state}: ${m.failures}/${m.calls} failed`;
 * ```
 */
export interface CircuitMetrics {
  readonly state: CircuitState;
  /** Calls in the window (for `consecutive`: the current run of failures). */
  readonly calls: number;
  readonly failures: number;
  readonly slowCalls: number;
  /** `failures / calls`, or 0 when the window is empty. */
  readonly failureRate: number;
  /** `slowCalls / calls`, or 0 when the window is empty. */
  readonly slowCallRate: number;
  /** When refused calls may be admitted again; `undefined` when calls are admitted or it is unknown. */
  readonly retryAfterMs: number | undefined;
  /** How many times in a row the breaker has opened (0 once it closes). */
  readonly consecutiveOpens: number;
}

/**
 * {@link CircuitMetrics} plus the transitions that looking at the circuit made (a half-open
 * past its deadline re-opens when it is next looked at).
 *
 * @example
 * ```ts
 * import type { CircuitInspection } from '@hyx/local';
 * const changed = (inspection: CircuitInspection) => inspection.transitions.length > 0;
 * ```
 */
export interface CircuitInspection extends CircuitMetrics {
  readonly transitions: readonly Transition[];
}

/**
 * What {@link CircuitBreakerState.isolate} returns: the generation the isolation belongs to
 * (its release must present it) and the transitions it made.
 *
 * @example
 * ```ts
 * import type { IsolationGrant } from '@hyx/local';
 * const generationOf = (grant: IsolationGrant) => grant.generation;
 * ```
 */
export interface IsolationGrant {
  readonly generation: number;
  readonly transitions: readonly Transition[];
}

/**
 * A JSON-serialisable copy of one circuit, for {@link CircuitBreakerState.restore}.
 *
 * @example
 * ```ts
 * import type { CircuitBreakerSnapshot } from '@hyx/local';
 * const save = (snapshot: CircuitBreakerSnapshot) => JSON.stringify(snapshot);
 * ```
 */
export interface CircuitBreakerSnapshot {
  readonly version: 1;
  readonly state: CircuitState;
  readonly generation: number;
  readonly sinceMs: number;
  readonly openUntilMs: number;
  readonly consecutiveOpens: number;
  readonly isolations: number;
  readonly window: CircuitWindowSnapshot;
}

/**
 * The window part of a {@link CircuitBreakerSnapshot}.
 *
 * @example
 * ```ts
 * import type { CircuitWindowSnapshot } from '@hyx/local';
 * const callsIn = (window: CircuitWindowSnapshot) => window.calls;
 * ```
 */
export type CircuitWindowSnapshot =
  | {
      readonly kind: 'consecutive';
      readonly calls: number;
      readonly failures: number;
      readonly slowCalls: number;
    }
  | {
      readonly kind: 'countWindow';
      readonly outcomes: readonly number[];
      readonly next: number;
      readonly calls: number;
      readonly failures: number;
      readonly slowCalls: number;
    }
  | {
      readonly kind: 'timeWindow';
      readonly headEpoch: number;
      readonly bucketCalls: readonly number[];
      readonly bucketFailures: readonly number[];
      readonly bucketSlowCalls: readonly number[];
      readonly calls: number;
      readonly failures: number;
      readonly slowCalls: number;
    };

/**
 * A value now or later: the memory state answers synchronously so the hot path never waits for
 * a promise job; a Redis state answers with a promise.
 *
 * @example
 * ```ts
 * import type { CircuitBreakerState } from '@hyx/local';
 * declare const state: CircuitBreakerState;
 * // `admit` answers a MaybePromise<Admission>: `await` takes either form.
 * const admission = await state.admit('orders');
 * ```
 */
export type MaybePromise<T> = T | Promise<T>;

/**
 * The state port of a circuit breaker (DESIGN §4): the memory state and the Redis state implement
 * it, the shell does everything else. Every method takes the circuit's `key` and an optional
 * `nowMs`: given, it is the time of the step (tests, differential runs); left out, the state
 * reads the time itself, and only when the decision depends on it, so that the hot path of a
 * closed breaker reads no clock. The shell leaves it out. Methods may answer synchronously or
 * with a promise.
 *
 * @example
 * ```ts
 * import { memoryCircuitBreakerState, type CircuitBreakerState } from '@hyx/local';
 * import { systemClock, type CircuitBreakerSettings } from '@hyx/local';
 * declare const settings: CircuitBreakerSettings;
 * const state: CircuitBreakerState = memoryCircuitBreakerState()(settings, { clock: systemClock });
 * const admission = await state.admit('', 0);
 * if (admission.isAllowed) await state.record('', { kind: 'success', durationMs: 3 }, admission, 3);
 * ```
 */
export interface CircuitBreakerState {
  /** Decides whether a call may run now, taking a half-open probe slot when it is a probe. */
  admit(key: string, nowMs?: number, purpose?: AdmissionPurpose): MaybePromise<Admission>;
  /** Records the outcome of an admitted call; returns the transitions it caused. */
  record(
    key: string,
    outcome: CallOutcome,
    admission: Admission,
    nowMs?: number,
  ): MaybePromise<readonly Transition[]>;
  /** The circuit's state and window now, without admitting anything. */
  inspect(key: string, nowMs?: number): MaybePromise<CircuitInspection>;
  /** Holds the circuit open until every isolation is released; returns the isolation's generation. */
  isolate(key: string, nowMs?: number): MaybePromise<IsolationGrant>;
  /** Releases one isolation taken in `generation`; a stale generation does nothing. */
  releaseIsolation(key: string, generation: number, nowMs?: number): MaybePromise<readonly Transition[]>;
  /** Closes the circuit, empties its window and drops every isolation. */
  reset(key: string, nowMs?: number): MaybePromise<readonly Transition[]>;
  /** A JSON-serialisable copy of the circuit. */
  snapshot(key: string, nowMs?: number): MaybePromise<CircuitBreakerSnapshot>;
  /** Replaces the circuit with a snapshot (validated by the shell); calls admitted before go stale. */
  restore(key: string, snapshot: CircuitBreakerSnapshot, nowMs?: number): MaybePromise<readonly Transition[]>;
}

/**
 * What a breaker hands to its state besides the settings.
 *
 * @example
 * ```ts
 * import { systemClock, type CircuitBreakerStateContext } from '@hyx/local';
 * const context: CircuitBreakerStateContext = { clock: systemClock };
 * ```
 */
export interface CircuitBreakerStateContext {
  /**
   * The breaker's clock. The memory state reads it when a method gets no `nowMs`, and only when
   * the decision depends on the time; a Redis state reads its server's `TIME` instead, unless
   * configured to follow this clock (in tests).
   */
  readonly clock: Clock;
}

/**
 * Builds the state of one breaker from its settings: the `state` option of `circuitBreaker`.
 *
 * @example
 * ```ts
 * import { circuitBreaker, memoryCircuitBreakerState } from '@hyx/local';
 * const breaker = circuitBreaker({ state: memoryCircuitBreakerState() });
 * ```
 */
export type CircuitBreakerStateProvider = (
  settings: CircuitBreakerSettings,
  context: CircuitBreakerStateContext,
) => CircuitBreakerState;
