/**
 * The circuit breaker's algorithm: window math and state machine as plain functions over plain
 * data. No timers, no I/O: time comes in (`nowMs`, or a {@link TimeSource} read at most once per
 * step and only when the decision depends on it), the circuit comes in as a
 * JSON-shaped object that the function updates in place, and the decision comes out. The memory
 * state calls these functions directly; the Redis state runs the same steps in Lua
 * (docs/algorithms.md, "Circuit breaker", is the shared description), and a differential test
 * compares the two.
 *
 * @internal
 * @packageDocumentation
 */
import type { CircuitState } from '../events/resilience-event.js';
import type {
  Admission,
  AdmissionPurpose,
  CallOutcome,
  CircuitBreakerSettings,
  CircuitBreakerSnapshot,
  CircuitInspection,
  CircuitWindowSnapshot,
  IsolationGrant,
  Transition,
  TransitionReason,
} from './circuit-breaker-state.js';
import {
  createConsecutiveWindow,
  recordInConsecutiveWindow,
  type ConsecutiveWindowData,
} from './windows/consecutive-window.js';
import { createCountWindow, recordInCountWindow, type CountWindowData } from './windows/count-window.js';
import {
  advanceTimeWindow,
  createTimeWindow,
  recordInTimeWindow,
  type TimeWindowData,
} from './windows/time-window.js';
import {
  FAILURE_BIT,
  SLOW_BIT,
  outcomeCode,
  type OutcomeCode,
  type WindowTotals,
} from './windows/window-outcome.js';

/**
 * Where a step reads the time when it needs it: the breaker's clock, or a fixed instant.
 *
 * @internal
 */
export interface TimeSource {
  now(): number;
}

/** @internal */
type WindowData = ConsecutiveWindowData | CountWindowData | TimeWindowData;

/**
 * Everything one circuit remembers. Plain numbers and arrays, so it serialises to JSON and maps
 * onto a Redis hash.
 *
 * @internal
 */
export interface CircuitData {
  state: CircuitState;
  /** Goes up by one on every transition (and on reset and restore); admissions carry it. */
  generation: number;
  /** When the current state began. */
  sinceMs: number;
  /** When the open time ends (meaningful while open). */
  openUntilMs: number;
  /** Opens in a row without a close in between; picks the open duration. */
  consecutiveOpens: number;
  /** Half-open: probe slots taken, settled or not (an ignored probe gives its slot back). */
  probesAdmitted: number;
  probeSuccesses: number;
  probeFailures: number;
  probeSlowCalls: number;
  /** Isolated: how many isolations are held. */
  isolations: number;
  window: WindowData;
}

const NO_TRANSITIONS: readonly Transition[] = Object.freeze([]);

function createWindow(settings: CircuitBreakerSettings, nowMs: number): WindowData {
  const window = settings.window;
  switch (window.kind) {
    case 'consecutive':
      return createConsecutiveWindow();
    case 'countWindow':
      return createCountWindow(window.size);
    case 'timeWindow':
      return createTimeWindow(window.buckets, window.durationMs / window.buckets, nowMs);
  }
}

/**
 * A fresh, closed circuit.
 *
 * @internal
 */
export function createCircuit(settings: CircuitBreakerSettings, nowMs: number): CircuitData {
  return {
    state: 'closed',
    generation: 0,
    sinceMs: nowMs,
    openUntilMs: 0,
    consecutiveOpens: 0,
    probesAdmitted: 0,
    probeSuccesses: 0,
    probeFailures: 0,
    probeSlowCalls: 0,
    isolations: 0,
    window: createWindow(settings, nowMs),
  };
}

// ---------------------------------------------------------------------------------------------
// Transitions. Each one starts a new generation and returns the event that describes it.

function transition(
  circuit: CircuitData,
  to: CircuitState,
  reason: TransitionReason,
  atMs: number,
): Transition {
  const from = circuit.state;
  circuit.state = to;
  circuit.generation++;
  circuit.sinceMs = atMs;
  circuit.probesAdmitted = 0;
  circuit.probeSuccesses = 0;
  circuit.probeFailures = 0;
  circuit.probeSlowCalls = 0;
  return {
    from,
    to,
    reason,
    atMs,
    generation: circuit.generation,
    openUntilMs: to === 'open' ? circuit.openUntilMs : undefined,
  };
}

/** The open duration of the n-th open in a row (n >= 1). */
function openDurationMs(settings: CircuitBreakerSettings, consecutiveOpens: number): number {
  const schedule = settings.openDurationsMs;
  return schedule[Math.min(consecutiveOpens, schedule.length) - 1] ?? 0;
}

function toOpen(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  atMs: number,
  reason: TransitionReason,
): Transition {
  circuit.consecutiveOpens++;
  circuit.openUntilMs = atMs + openDurationMs(settings, circuit.consecutiveOpens);
  return transition(circuit, 'open', reason, atMs);
}

function toClosed(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  atMs: number,
  reason: TransitionReason,
): Transition {
  circuit.consecutiveOpens = 0;
  circuit.openUntilMs = 0;
  circuit.isolations = 0;
  circuit.window = createWindow(settings, atMs);
  return transition(circuit, 'closed', reason, atMs);
}

function append(list: Transition[] | undefined, item: Transition): Transition[] {
  if (list === undefined) return [item];
  list.push(item);
  return list;
}

/**
 * Applies what time alone changes: a half-open that has not decided by its deadline re-opens,
 * and the open time is counted from that deadline (not from whenever somebody looks), so the
 * outcome does not depend on when the next call arrives.
 */
function applyElapsedTime(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  nowMs: number,
): Transition[] | undefined {
  if (circuit.state !== 'half-open') return undefined;
  const deadlineMs = circuit.sinceMs + settings.maxHalfOpenWaitMs;
  if (nowMs < deadlineMs) return undefined;
  return [toOpen(circuit, settings, deadlineMs, 'half-open-timeout')];
}

// ---------------------------------------------------------------------------------------------
// Admission.

function admission(
  circuit: CircuitData,
  isAllowed: boolean,
  isProbe: boolean,
  retryAfterMs: number | undefined,
  transitions: readonly Transition[] | undefined,
): Admission {
  return {
    isAllowed,
    isProbe,
    generation: circuit.generation,
    state: circuit.state,
    retryAfterMs,
    transitions: transitions ?? NO_TRANSITIONS,
  };
}

/**
 * Decides whether a call (or a health check) may run now.
 *
 * - closed: every call runs; a health check is refused (nothing to probe).
 * - isolated: everything is refused, with no known retry time.
 * - open: refused until `openUntilMs`; the first admission at or after it moves the circuit to
 *   half-open and takes a probe slot. With a health check configured, only the health check
 *   may do so: live calls stay refused.
 * - half-open: the first `permittedHalfOpenCalls` admissions are probes; later ones are refused
 *   until the half-open deadline (with a health check, live calls are always refused).
 *
 * @internal
 */
export function admitCall(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  time: TimeSource,
  purpose: AdmissionPurpose,
): Admission {
  const isHealthCheck = purpose === 'health-check';
  // Time changes nothing for a closed or isolated circuit (only half-open has a deadline), so
  // these answers never read the clock: the hot path of a healthy breaker costs no clock read.
  if (circuit.state === 'closed') return admission(circuit, !isHealthCheck, false, undefined, undefined);
  if (circuit.state === 'isolated') return admission(circuit, false, false, undefined, undefined);
  const nowMs = time.now();
  let transitions = applyElapsedTime(circuit, settings, nowMs);
  if (circuit.state === 'open') {
    const remainingMs = circuit.openUntilMs - nowMs;
    if (remainingMs > 0 || (settings.usesHealthCheck && !isHealthCheck)) {
      return admission(circuit, false, false, Math.max(0, remainingMs), transitions);
    }
    transitions = append(transitions, transition(circuit, 'half-open', 'open-elapsed', nowMs));
  }
  return admitProbe(circuit, settings, nowMs, isHealthCheck, transitions);
}

function admitProbe(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  nowMs: number,
  isHealthCheck: boolean,
  transitions: Transition[] | undefined,
): Admission {
  const mayProbe = isHealthCheck || !settings.usesHealthCheck;
  if (mayProbe && circuit.probesAdmitted < settings.permittedHalfOpenCalls) {
    circuit.probesAdmitted++;
    return admission(circuit, true, true, undefined, transitions);
  }
  const untilDeadlineMs = circuit.sinceMs + settings.maxHalfOpenWaitMs - nowMs;
  return admission(circuit, false, false, Math.max(0, untilDeadlineMs), transitions);
}

// ---------------------------------------------------------------------------------------------
// Recording.

function codeOf(outcome: CallOutcome, settings: CircuitBreakerSettings): OutcomeCode {
  const durationMs = outcome.kind === 'ignored' ? 0 : outcome.durationMs;
  const isSlow = settings.slowCallRate !== undefined && durationMs >= settings.slowCallDurationMs;
  return outcomeCode(outcome.kind === 'failure', isSlow);
}

function bucketMsOf(settings: CircuitBreakerSettings): number {
  const window = settings.window;
  return window.kind === 'timeWindow' ? window.durationMs / window.buckets : 1;
}

/**
 * The threshold a set of calls reaches, checked in this order: failure rate, failure count, slow
 * call rate. Rates are the doubles `failures / calls` and `slowCalls / calls` compared with
 * `>=`. Nothing is decided below `minimumCalls` calls.
 */
function reachedThreshold(
  settings: CircuitBreakerSettings,
  totals: WindowTotals,
  minimumCalls: number,
  failureCount: number | undefined,
): TransitionReason | undefined {
  if (totals.calls < minimumCalls || totals.calls === 0) return undefined;
  if (settings.failureRate !== undefined && totals.failures / totals.calls >= settings.failureRate) {
    return 'failure-rate';
  }
  if (failureCount !== undefined && totals.failures >= failureCount) return 'failure-count';
  if (settings.slowCallRate !== undefined && totals.slowCalls / totals.calls >= settings.slowCallRate) {
    return 'slow-call-rate';
  }
  return undefined;
}

/**
 * Records how an admitted call ended.
 *
 * - A call admitted in an older generation (before any transition since) changes nothing: its
 *   result describes a circuit that no longer exists.
 * - closed: the outcome enters the window (unless `ignored`), then the thresholds are checked;
 *   reaching one opens the circuit (never in `metricsOnly` mode).
 * - half-open: an `ignored` probe gives its slot back. For `consecutive`, a failed probe
 *   re-opens at once and `permittedHalfOpenCalls` successful probes close. For the other windows
 *   the probes are judged together once all have settled: the thresholds apply to them with
 *   `minimumCalls = permittedHalfOpenCalls` and a failure count of at most that many.
 *
 * @internal
 */
export function recordCall(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  outcome: CallOutcome,
  admitted: Admission,
  time: TimeSource,
): readonly Transition[] {
  if (circuit.state === 'closed') {
    // A closed circuit has no deadline: time matters only to a time window and to opening.
    // Generations: a result from before the last transition describes a circuit that is gone.
    if (admitted.generation !== circuit.generation || !admitted.isAllowed) return NO_TRANSITIONS;
    if (outcome.kind === 'ignored') return NO_TRANSITIONS;
    const window = circuit.window;
    let nowMs: number | undefined;
    if (window.kind === 'timeWindow') {
      nowMs = time.now();
      recordInTimeWindow(window, bucketMsOf(settings), codeOf(outcome, settings), nowMs);
    } else if (window.kind === 'countWindow') recordInCountWindow(window, codeOf(outcome, settings));
    else recordInConsecutiveWindow(window, codeOf(outcome, settings));
    if (settings.isMetricsOnly) return NO_TRANSITIONS;
    const reason = reachedThreshold(settings, window, settings.minimumCalls, settings.failureCount);
    if (reason === undefined) return NO_TRANSITIONS;
    return [toOpen(circuit, settings, nowMs ?? time.now(), reason)];
  }
  const nowMs = time.now();
  const transitions = applyElapsedTime(circuit, settings, nowMs);
  if (admitted.generation !== circuit.generation || circuit.state !== 'half-open' || !admitted.isProbe) {
    return transitions ?? NO_TRANSITIONS;
  }
  const verdict = recordProbe(circuit, settings, outcome);
  if (verdict === undefined) return transitions ?? NO_TRANSITIONS;
  const change =
    verdict === 'probes-succeeded'
      ? toClosed(circuit, settings, nowMs, verdict)
      : toOpen(circuit, settings, nowMs, verdict);
  return append(transitions, change);
}

function recordProbe(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  outcome: CallOutcome,
): TransitionReason | undefined {
  if (outcome.kind === 'ignored') {
    circuit.probesAdmitted = Math.max(
      circuit.probeSuccesses + circuit.probeFailures,
      circuit.probesAdmitted - 1,
    );
    return undefined;
  }
  const code = codeOf(outcome, settings);
  if ((code & FAILURE_BIT) !== 0) circuit.probeFailures++;
  else circuit.probeSuccesses++;
  if ((code & SLOW_BIT) !== 0) circuit.probeSlowCalls++;
  const permitted = settings.permittedHalfOpenCalls;
  if (settings.window.kind === 'consecutive') {
    if (circuit.probeFailures > 0) return 'probe-failed';
    return circuit.probeSuccesses >= permitted ? 'probes-succeeded' : undefined;
  }
  const settled = circuit.probeSuccesses + circuit.probeFailures;
  if (settled < permitted) return undefined;
  const totals = { calls: settled, failures: circuit.probeFailures, slowCalls: circuit.probeSlowCalls };
  const failureCount =
    settings.failureCount === undefined ? undefined : Math.min(settings.failureCount, permitted);
  return reachedThreshold(settings, totals, permitted, failureCount) ?? 'probes-succeeded';
}

// ---------------------------------------------------------------------------------------------
// Reading and manual control.

/**
 * The circuit's state and window totals at `nowMs` (applying elapsed time first).
 *
 * @internal
 */
export function inspectCircuit(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  nowMs: number,
): CircuitInspection {
  const transitions = applyElapsedTime(circuit, settings, nowMs);
  const window = circuit.window;
  if (window.kind === 'timeWindow') advanceTimeWindow(window, bucketMsOf(settings), nowMs);
  let retryAfterMs: number | undefined;
  if (circuit.state === 'open') retryAfterMs = Math.max(0, circuit.openUntilMs - nowMs);
  else if (circuit.state === 'half-open' && circuit.probesAdmitted >= settings.permittedHalfOpenCalls) {
    retryAfterMs = Math.max(0, circuit.sinceMs + settings.maxHalfOpenWaitMs - nowMs);
  }
  return {
    state: circuit.state,
    calls: window.calls,
    failures: window.failures,
    slowCalls: window.slowCalls,
    failureRate: window.calls === 0 ? 0 : window.failures / window.calls,
    slowCallRate: window.calls === 0 ? 0 : window.slowCalls / window.calls,
    retryAfterMs,
    consecutiveOpens: circuit.consecutiveOpens,
    transitions: transitions ?? NO_TRANSITIONS,
  };
}

/**
 * Takes one isolation: the first moves the circuit to `isolated`. Returns the generation the
 * isolation belongs to, which its release must present.
 *
 * @internal
 */
export function isolateCircuit(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  nowMs: number,
): IsolationGrant {
  let transitions = applyElapsedTime(circuit, settings, nowMs);
  if (circuit.state !== 'isolated') {
    transitions = append(transitions, transition(circuit, 'isolated', 'isolate', nowMs));
  }
  circuit.isolations++;
  return { generation: circuit.generation, transitions: transitions ?? NO_TRANSITIONS };
}

/**
 * Releases one isolation of `generation`; the last one closes the circuit with a fresh window.
 * A release from an older generation (the circuit was reset or restored since) does nothing.
 *
 * @internal
 */
export function releaseIsolation(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  generation: number,
  nowMs: number,
): readonly Transition[] {
  if (circuit.state !== 'isolated' || circuit.generation !== generation || circuit.isolations === 0) {
    return NO_TRANSITIONS;
  }
  circuit.isolations--;
  if (circuit.isolations > 0) return NO_TRANSITIONS;
  return [toClosed(circuit, settings, nowMs, 'isolation-released')];
}

/**
 * Closes the circuit with a fresh window, forgets every isolation and open, and starts a new
 * generation even when it was closed already (so calls admitted before the reset do not count).
 *
 * @internal
 */
export function resetCircuit(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  nowMs: number,
): readonly Transition[] {
  const wasClosed = circuit.state === 'closed';
  const change = toClosed(circuit, settings, nowMs, 'reset');
  return wasClosed ? NO_TRANSITIONS : [change];
}

/**
 * A deep, JSON-serialisable copy of the circuit. Probe slots are left out: they belong to calls
 * of this process, which a restored copy will never see settle.
 *
 * @internal
 */
export function snapshotCircuit(circuit: CircuitData): CircuitBreakerSnapshot {
  return {
    version: 1,
    state: circuit.state,
    generation: circuit.generation,
    sinceMs: circuit.sinceMs,
    openUntilMs: circuit.openUntilMs,
    consecutiveOpens: circuit.consecutiveOpens,
    isolations: circuit.isolations,
    window: copyWindow(circuit.window),
  };
}

function copyWindow(window: WindowData): CircuitWindowSnapshot {
  switch (window.kind) {
    case 'consecutive':
      return { ...window };
    case 'countWindow':
      return { ...window, outcomes: [...window.outcomes] };
    case 'timeWindow':
      return {
        ...window,
        bucketCalls: [...window.bucketCalls],
        bucketFailures: [...window.bucketFailures],
        bucketSlowCalls: [...window.bucketSlowCalls],
      };
  }
}

/**
 * The window of a snapshot, when it has the shape the settings ask for; totals are recounted
 * from the slots rather than trusted, so a hand-edited snapshot cannot make a counter negative.
 */
function windowFromSnapshot(
  snapshot: CircuitWindowSnapshot,
  settings: CircuitBreakerSettings,
): WindowData | undefined {
  const expected = settings.window;
  if (snapshot.kind === 'consecutive' && expected.kind === 'consecutive') {
    return { kind: 'consecutive', calls: snapshot.failures, failures: snapshot.failures, slowCalls: 0 };
  }
  if (snapshot.kind === 'countWindow' && expected.kind === 'countWindow') {
    const size = expected.size;
    if (snapshot.outcomes.length !== size || snapshot.next >= size || snapshot.calls > size) return undefined;
    const window = createCountWindow(size);
    window.next = snapshot.next;
    window.calls = snapshot.calls;
    for (let age = 1; age <= snapshot.calls; age++) {
      const slot = (snapshot.next - age + size) % size;
      const code = (snapshot.outcomes[slot] ?? 0) as OutcomeCode;
      window.outcomes[slot] = code;
      window.failures += code & FAILURE_BIT;
      window.slowCalls += (code & SLOW_BIT) >> 1;
    }
    return window;
  }
  if (snapshot.kind === 'timeWindow' && expected.kind === 'timeWindow') {
    const buckets = expected.buckets;
    const lengths = [snapshot.bucketCalls, snapshot.bucketFailures, snapshot.bucketSlowCalls].map(
      (a) => a.length,
    );
    if (lengths.some((length) => length !== buckets)) return undefined;
    const window = createTimeWindow(buckets, expected.durationMs / buckets, 0);
    window.headEpoch = snapshot.headEpoch;
    for (let slot = 0; slot < buckets; slot++) {
      const calls = snapshot.bucketCalls[slot] ?? 0;
      const failures = Math.min(calls, snapshot.bucketFailures[slot] ?? 0);
      const slowCalls = Math.min(calls, snapshot.bucketSlowCalls[slot] ?? 0);
      window.bucketCalls[slot] = calls;
      window.bucketFailures[slot] = failures;
      window.bucketSlowCalls[slot] = slowCalls;
      window.calls += calls;
      window.failures += failures;
      window.slowCalls += slowCalls;
    }
    return window;
  }
  return undefined;
}

/**
 * Replaces the circuit with a snapshot. The generation moves past both the current one and the
 * snapshot's, so every call admitted before is stale; half-open starts its probes again (its
 * deadline still counts from `sinceMs`). A window whose shape no longer matches the settings
 * (the options changed between snapshot and restore) is replaced by an empty one.
 *
 * @internal
 */
export function restoreCircuit(
  circuit: CircuitData,
  settings: CircuitBreakerSettings,
  snapshot: CircuitBreakerSnapshot,
  nowMs: number,
): readonly Transition[] {
  const from = circuit.state;
  circuit.state = snapshot.state;
  circuit.generation = Math.max(circuit.generation, snapshot.generation) + 1;
  circuit.sinceMs = snapshot.sinceMs;
  circuit.openUntilMs = snapshot.openUntilMs;
  circuit.consecutiveOpens = snapshot.consecutiveOpens;
  circuit.isolations = snapshot.state === 'isolated' ? Math.max(1, snapshot.isolations) : 0;
  circuit.probesAdmitted = 0;
  circuit.probeSuccesses = 0;
  circuit.probeFailures = 0;
  circuit.probeSlowCalls = 0;
  circuit.window = windowFromSnapshot(snapshot.window, settings) ?? createWindow(settings, nowMs);
  if (from === circuit.state) return NO_TRANSITIONS;
  return [
    {
      from,
      to: circuit.state,
      reason: 'restore',
      atMs: nowMs,
      generation: circuit.generation,
      openUntilMs: circuit.state === 'open' ? circuit.openUntilMs : undefined,
    },
  ];
}
