import type { Clock, TimerHandle } from '../clock/clock.js';
import { CircuitOpenError, TimeoutError } from '../errors/errors.js';
import type { ErrorSource } from '../errors/resilience-error.js';
import type { CircuitState } from '../events/resilience-event.js';
import { callSafely, raceWithAbort } from '../internal/abort.js';
import {
  CallScope,
  abortSourceOf,
  hasAborted,
  inheritedAttempt,
  rejectionOf,
  type AbortSource,
  startTimeOf,
} from '../internal/call-scope.js';
import { factoryOf } from '../options/parse-options.js';
import { BasePolicy } from '../policy/base-policy.js';
import type { ExecuteOptions, ExecutionContext, Policy, Work } from '../policy/policy.js';
import {
  circuitBreakerSnapshotSchema,
  resolveCircuitBreakerOptions,
  type CircuitBreakerMode,
  type CircuitBreakerOptions,
} from './circuit-breaker-options.js';
import {
  DEFAULT_CIRCUIT_KEY,
  type Admission,
  type CallOutcome,
  type CircuitBreakerSettings,
  type CircuitBreakerSnapshot,
  type CircuitBreakerState,
  type CircuitMetrics,
  type MaybePromise,
  type Transition,
} from './circuit-breaker-state.js';

/**
 * Undoes one `isolate()`. The breaker closes when the last handle is disposed.
 *
 * @example
 * ```ts
 * import { circuitBreaker } from '@hyx/local';
 * const breaker = circuitBreaker();
 * const handle = await breaker.isolate();
 * await handle.dispose();
 * ```
 */
export interface IsolationHandle {
  /** Releases this isolation; calling it again does nothing. */
  dispose(): Promise<void>;
}

/**
 * A circuit breaker: a {@link Policy} that stops calling a dependency that keeps failing, and
 * probes it again after a while. Each `key` passed to `execute` has its own circuit; methods
 * that take a `key` default to the circuit of calls without one.
 *
 * @example
 * ```ts
 * import { circuitBreaker } from '@hyx/local';
 * const breaker = circuitBreaker({ name: 'payments', window: { kind: 'consecutive' }, failureCount: 3 });
 * const receipt = await breaker.execute(async () => ({ id: 'r-1' }));
 * console.log(breaker.state, receipt.id);
 * ```
 */
export interface CircuitBreakerPolicy extends Policy {
  /** The last state this breaker saw of the keyless circuit (no round-trip to the state). */
  readonly state: CircuitState;
  /** The state of a circuit now, asked of the state. */
  getState(key?: string): Promise<CircuitState>;
  /** The circuit's window figures now (the only output of `metricsOnly` mode). */
  getMetrics(key?: string): Promise<CircuitMetrics>;
  /** Holds the circuit open until the returned handle is disposed (nestable). */
  isolate(key?: string): Promise<IsolationHandle>;
  /** Closes the circuit, empties its window and drops every isolation. */
  reset(key?: string): Promise<void>;
  /** A JSON-serialisable copy of the circuit, e.g. to survive a serverless cold start. */
  snapshot(key?: string): Promise<CircuitBreakerSnapshot>;
  /** Replaces the circuit with a snapshot; throws a TypeError for a malformed one. */
  restore(snapshot: CircuitBreakerSnapshot, key?: string): Promise<void>;
}

const IGNORED: CallOutcome = Object.freeze({ kind: 'ignored' });
const UNTIMED_SUCCESS: CallOutcome = Object.freeze({ kind: 'success', durationMs: 0 });
const UNTIMED_FAILURE: CallOutcome = Object.freeze({ kind: 'failure', durationMs: 0 });

function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return value instanceof Promise;
}

/** The optional `Clock.keepAlive` (clocks without it keep every timer referenced). */
interface TimerKeepAlive {
  keepAlive?(handle: TimerHandle, keepsProcessAlive: boolean): void;
}

class CircuitBreakerShell extends BasePolicy implements CircuitBreakerPolicy {
  readonly #state: CircuitBreakerState;
  readonly #settings: CircuitBreakerSettings;
  readonly #mode: CircuitBreakerMode;
  readonly #clock: Clock;
  readonly #shouldHandle: (error: unknown) => boolean;
  readonly #shouldHandleResult: (result: unknown) => boolean;
  readonly #healthCheck: ((context: ExecutionContext) => unknown) | undefined;
  readonly #source: ErrorSource;
  /** Durations matter only for slow calls; otherwise a call reads no clock (unless someone listens). */
  readonly #isTimed: boolean;
  #lastState: CircuitState = 'closed';
  readonly #healthCheckTimers = new Map<string, TimerHandle>();
  readonly #healthChecksRunning = new Set<string>();

  constructor(options: CircuitBreakerOptions | undefined) {
    const resolved = resolveCircuitBreakerOptions(options);
    super('circuit-breaker', resolved.settings.name, factoryOf(options, 'circuitBreaker'));
    this.#settings = resolved.settings;
    this.#mode = resolved.mode;
    this.#clock = resolved.clock;
    this.#shouldHandle = resolved.shouldHandle;
    this.#shouldHandleResult = resolved.shouldHandleResult;
    this.#healthCheck = resolved.healthCheck;
    this.#state = resolved.stateProvider(resolved.settings, { clock: resolved.clock });
    this.#source = Object.freeze({ policyKind: 'circuit-breaker', policyName: resolved.settings.name });
    this.#isTimed = resolved.settings.slowCallRate !== undefined;
  }

  get state(): CircuitState {
    return this.#lastState;
  }

  protected run<T>(fn: Work<T>, options: ExecuteOptions | undefined): Promise<T> {
    const abortSource = abortSourceOf(options);
    if (abortSource?.aborted === true) return Promise.reject(abortSource.reason);
    if (this.#mode === 'disabled') return this.#runUnguarded(fn, abortSource);
    const key = options?.key ?? DEFAULT_CIRCUIT_KEY;
    let pending: MaybePromise<Admission>;
    try {
      pending = this.#state.admit(key, undefined, 'call');
    } catch (error) {
      return Promise.reject(error);
    }
    // The memory state answers at once: no promise job between admission and the work.
    if (!isPromise(pending)) return this.#runAdmitted(fn, key, pending, abortSource, options);
    return pending.then(async (admission) => {
      if (admission.isAllowed && hasAborted(abortSource)) {
        // The caller gave up while a remote state decided: hand the slot back, run nothing.
        await this.#record(key, IGNORED, admission);
        throw abortSource.reason;
      }
      return this.#runAdmitted(fn, key, admission, abortSource, options);
    });
  }

  async #runAdmitted<T>(
    fn: Work<T>,
    key: string,
    admission: Admission,
    abortSource: AbortSource | undefined,
    options: ExecuteOptions | undefined,
  ): Promise<T> {
    this.#observe(key, admission.transitions, admission.state);
    if (!admission.isAllowed) {
      if (this.#healthCheck !== undefined)
        this.#ensureHealthCheck(key, admission.state, admission.retryAfterMs);
      throw this.#reject(admission);
    }
    const isStarted = this.#isTimed || this.events.hasListeners;
    const startedMs = isStarted ? startTimeOf(options, this.#clock) : 0;
    let result: T;
    try {
      const scope = CallScope.forwarding(abortSource, inheritedAttempt(abortSource));
      // The next layer of a pipeline starts inside this call: it takes the same reading.
      if (isStarted) scope.stamp(this.#clock, startedMs);
      const work = callSafely(fn, scope);
      scope.unstamp();
      result = await work;
    } catch (error) {
      const recording = this.#recordError(key, admission, error, abortSource, startedMs);
      if (recording !== undefined) await recording;
      // A caller that aborted gets its reason back, whatever the work rejected with.
      const rejection = rejectionOf(abortSource, error);
      this.#emitOutcome(startedMs, rejection, true);
      throw rejection;
    }
    const recording = this.#recordResult(key, admission, result, startedMs);
    if (recording !== undefined) await recording;
    this.#emitOutcome(startedMs, undefined, false);
    return result;
  }

  async getState(key: string = DEFAULT_CIRCUIT_KEY): Promise<CircuitState> {
    return (await this.getMetrics(key)).state;
  }

  async getMetrics(key: string = DEFAULT_CIRCUIT_KEY): Promise<CircuitMetrics> {
    const { transitions, ...metrics } = await this.#state.inspect(key);
    this.#observe(key, transitions, metrics.state);
    return metrics;
  }

  async isolate(key: string = DEFAULT_CIRCUIT_KEY): Promise<IsolationHandle> {
    const grant = await this.#state.isolate(key);
    this.#observe(key, grant.transitions, undefined);
    let isDisposed = false;
    return {
      dispose: async () => {
        if (isDisposed) return;
        isDisposed = true;
        const transitions = await this.#state.releaseIsolation(key, grant.generation);
        this.#observe(key, transitions, undefined);
      },
    };
  }

  async reset(key: string = DEFAULT_CIRCUIT_KEY): Promise<void> {
    const transitions = await this.#state.reset(key);
    this.#cancelHealthCheck(key);
    this.#observe(key, transitions, 'closed');
  }

  async snapshot(key: string = DEFAULT_CIRCUIT_KEY): Promise<CircuitBreakerSnapshot> {
    return this.#state.snapshot(key);
  }

  async restore(snapshot: CircuitBreakerSnapshot, key: string = DEFAULT_CIRCUIT_KEY): Promise<void> {
    const parsed = circuitBreakerSnapshotSchema.safeParse(snapshot);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue === undefined ? 'snapshot' : ['snapshot', ...issue.path.map(String)].join('.');
      throw new TypeError(
        `${this.label}: restore got a malformed snapshot: ${where}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const transitions = await this.#state.restore(key, parsed.data);
    this.#observe(key, transitions, parsed.data.state);
    if (this.#healthCheck !== undefined) {
      // The restored open time may differ from the one a pending health check was planned for.
      this.#cancelHealthCheck(key);
      const metrics = await this.getMetrics(key);
      this.#ensureHealthCheck(key, metrics.state, metrics.retryAfterMs);
    }
  }

  // -------------------------------------------------------------------------------------------

  #success(startedMs: number): CallOutcome {
    return this.#isTimed ? { kind: 'success', durationMs: this.#clock.now() - startedMs } : UNTIMED_SUCCESS;
  }

  #failure(startedMs: number): CallOutcome {
    return this.#isTimed ? { kind: 'failure', durationMs: this.#clock.now() - startedMs } : UNTIMED_FAILURE;
  }

  /**
   * Records how the work's error counts: a failure if `shouldHandle` says so and it is not the
   * caller's own abort, otherwise `ignored`. If `shouldHandle` throws, the call is recorded as
   * `ignored` (so a probe slot is never lost) and the predicate's error is thrown.
   */
  #recordError(
    key: string,
    admission: Admission,
    error: unknown,
    abortSource: AbortSource | undefined,
    startedMs: number,
  ): Promise<void> | undefined {
    let outcome: CallOutcome;
    try {
      // Once the caller aborted, any error is the abort's doing (work stopped through its signal
      // often rejects with its own AbortError, not signal.reason): never a failure of the callee.
      outcome = !hasAborted(abortSource) && this.#shouldHandle(error) ? this.#failure(startedMs) : IGNORED;
    } catch (predicateError) {
      return this.#recordThenThrow(key, admission, predicateError);
    }
    return this.#record(key, outcome, admission);
  }

  /** Records a result as a success, or as a failure if `shouldHandleResult` says so (see above). */
  #recordResult(
    key: string,
    admission: Admission,
    result: unknown,
    startedMs: number,
  ): Promise<void> | undefined {
    let outcome: CallOutcome;
    try {
      outcome = this.#shouldHandleResult(result) ? this.#failure(startedMs) : this.#success(startedMs);
    } catch (predicateError) {
      return this.#recordThenThrow(key, admission, predicateError);
    }
    return this.#record(key, outcome, admission);
  }

  #recordThenThrow(key: string, admission: Admission, error: unknown): Promise<never> {
    return Promise.resolve(this.#record(key, IGNORED, admission)).then(() => Promise.reject(error));
  }

  /** Records an outcome; returns a promise only when the state answers with one. */
  #record(key: string, outcome: CallOutcome, admission: Admission): Promise<void> | undefined {
    const transitions = this.#state.record(key, outcome, admission);
    if (!isPromise(transitions)) {
      if (transitions.length > 0) this.#observe(key, transitions, undefined);
      return undefined;
    }
    return transitions.then((settled) => {
      this.#observe(key, settled, undefined);
    });
  }

  /** Updates the last known state, emits one event per transition and plans health checks. */
  #observe(key: string, transitions: readonly Transition[], current: CircuitState | undefined): void {
    for (const change of transitions) {
      if (key === DEFAULT_CIRCUIT_KEY) this.#lastState = change.to;
      if (this.events.hasListeners) {
        this.events.emit({
          type: 'circuit.transitioned',
          policyKind: this.kind,
          policyName: this.name,
          from: change.from,
          to: change.to,
          reason: change.reason,
        });
      }
      if (this.#healthCheck !== undefined) this.#planHealthCheck(key, change);
    }
    if (current !== undefined && key === DEFAULT_CIRCUIT_KEY) this.#lastState = current;
  }

  #reject(admission: Admission): CircuitOpenError {
    if (this.events.hasListeners) {
      this.events.emit({
        type: 'call.rejected',
        policyKind: this.kind,
        policyName: this.name,
        reason: 'circuit-open',
        ...(admission.retryAfterMs === undefined ? {} : { retryAfterMs: admission.retryAfterMs }),
      });
    }
    return new CircuitOpenError(this.#source, admission.retryAfterMs);
  }

  async #runUnguarded<T>(fn: Work<T>, abortSource: AbortSource | undefined): Promise<T> {
    const startedMs = this.events.hasListeners ? this.#clock.now() : 0;
    try {
      const result = await callSafely(fn, CallScope.forwarding(abortSource, inheritedAttempt(abortSource)));
      this.#emitOutcome(startedMs, undefined, false);
      return result;
    } catch (error) {
      const rejection = rejectionOf(abortSource, error);
      this.#emitOutcome(startedMs, rejection, true);
      throw rejection;
    }
  }

  #emitOutcome(startedMs: number, error: unknown, isFailure: boolean): void {
    if (!this.events.hasListeners) return;
    const durationMs = this.#clock.now() - startedMs;
    this.events.emit(
      isFailure
        ? { type: 'execution.failed', policyKind: this.kind, policyName: this.name, durationMs, error }
        : { type: 'execution.succeeded', policyKind: this.kind, policyName: this.name, durationMs },
    );
  }

  // -------------------------------------------------------------------------------------------
  // Health checks: with `healthCheck` set, the breaker probes by itself once the open time ends.

  #planHealthCheck(key: string, change: Transition): void {
    if (change.to === 'open') this.#scheduleHealthCheck(key, change.openUntilMs ?? this.#clock.now());
    else if (change.to === 'half-open') {
      // A half-open this shell did not start itself (restored, or opened by another instance
      // sharing the state) still needs its probes.
      if (!this.#healthChecksRunning.has(key)) this.#scheduleHealthCheck(key, this.#clock.now());
    } else this.#cancelHealthCheck(key);
  }

  /**
   * Plans a health check for a circuit seen open or half-open when none is planned or running:
   * the circuit may have been opened by another instance sharing the state, or restored.
   */
  #ensureHealthCheck(key: string, state: CircuitState, retryAfterMs: number | undefined): void {
    if (state !== 'open' && state !== 'half-open') return;
    if (this.#healthCheckTimers.has(key) || this.#healthChecksRunning.has(key)) return;
    this.#scheduleHealthCheck(key, this.#clock.now() + (state === 'open' ? (retryAfterMs ?? 0) : 0));
  }

  #scheduleHealthCheck(key: string, atMs: number): void {
    this.#cancelHealthCheck(key);
    const timer = this.#clock.setTimeout(
      () => {
        this.#healthCheckTimers.delete(key);
        void this.#runHealthChecks(key);
      },
      Math.max(0, atMs - this.#clock.now()),
    );
    // Only a pending health check holds this timer: it must not keep the process alive.
    (this.#clock as TimerKeepAlive).keepAlive?.(timer, false);
    this.#healthCheckTimers.set(key, timer);
  }

  #cancelHealthCheck(key: string): void {
    const timer = this.#healthCheckTimers.get(key);
    if (timer === undefined) return;
    this.#clock.clearTimeout(timer);
    this.#healthCheckTimers.delete(key);
  }

  /** Runs probes one after another until the half-open decides or no probe is admitted. */
  async #runHealthChecks(key: string): Promise<void> {
    if (this.#healthChecksRunning.has(key)) return;
    this.#healthChecksRunning.add(key);
    try {
      for (;;) {
        const admission = await this.#state.admit(key, undefined, 'health-check');
        this.#observe(key, admission.transitions, admission.state);
        if (!admission.isAllowed) {
          // Still open (or every probe slot is held elsewhere): look again when that may change.
          if (admission.state === 'open' || admission.state === 'half-open') {
            this.#scheduleHealthCheck(key, this.#clock.now() + (admission.retryAfterMs ?? 0));
          }
          return;
        }
        const outcome = await this.#probeHealth();
        const transitions = await this.#state.record(key, outcome, admission);
        this.#observe(key, transitions, undefined);
        if (transitions.length > 0) return;
      }
    } catch {
      // The state itself failed (a remote store is down): try again after one open duration.
      this.#scheduleHealthCheck(key, this.#clock.now() + (this.#settings.openDurationsMs[0] ?? 0));
    } finally {
      this.#healthChecksRunning.delete(key);
    }
  }

  /** One health check, abandoned (and counted as failed) at the half-open deadline. */
  async #probeHealth(): Promise<CallOutcome> {
    const check = this.#healthCheck;
    if (check === undefined) return IGNORED;
    const limitMs = this.#settings.maxHalfOpenWaitMs;
    const scope = CallScope.abortable(undefined, 1);
    const timer = this.#clock.setTimeout(() => {
      scope.abort(new TimeoutError(this.#source, limitMs));
    }, limitMs);
    const startedMs = this.#clock.now();
    try {
      await raceWithAbort(callSafely(check, scope), scope);
      return { kind: 'success', durationMs: this.#clock.now() - startedMs };
    } catch {
      return { kind: 'failure', durationMs: this.#clock.now() - startedMs };
    } finally {
      this.#clock.clearTimeout(timer);
      scope.dispose();
    }
  }
}

/**
 * A circuit breaker: counts failures over a window (`consecutive`, `countWindow` or
 * `timeWindow`), opens when a threshold is reached (failure rate, failure count, slow-call rate,
 * after `minimumCalls`), refuses calls with a {@link CircuitOpenError} while open, then lets
 * `permittedHalfOpenCalls` probes through (or runs `healthCheck`) and closes or re-opens on
 * their outcome. The state lives behind a port (`state`), in memory by default.
 *
 * @example
 * ```ts
 * import { circuitBreaker, CircuitOpenError } from '@hyx/local';
 * const breaker = circuitBreaker({
 *   name: 'payments',
 *   window: { kind: 'countWindow', size: 20 },
 *   failureRate: 0.5,
 *   halfOpenAfterMs: 10_000,
 * });
 * try {
 *   await breaker.execute(async ({ signal }) => (signal.aborted ? 'stopped' : 'charged'));
 * } catch (error) {
 *   if (error instanceof CircuitOpenError) console.log(`retry in ${error.retryAfterMs ?? 0} ms`);
 * }
 * ```
 */
export function circuitBreaker(options?: CircuitBreakerOptions): CircuitBreakerPolicy {
  return new CircuitBreakerShell(options);
}
