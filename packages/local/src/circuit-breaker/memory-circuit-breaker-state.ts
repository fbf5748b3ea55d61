import type { Clock } from '../clock/clock.js';
import {
  admitCall,
  createCircuit,
  inspectCircuit,
  isolateCircuit,
  recordCall,
  releaseIsolation,
  resetCircuit,
  restoreCircuit,
  snapshotCircuit,
  type CircuitData,
  type TimeSource,
} from './circuit-breaker-algorithm.js';
import {
  DEFAULT_CIRCUIT_KEY,
  type Admission,
  type AdmissionPurpose,
  type CallOutcome,
  type CircuitBreakerSettings,
  type CircuitBreakerSnapshot,
  type CircuitBreakerState,
  type CircuitBreakerStateProvider,
  type CircuitInspection,
  type IsolationGrant,
  type Transition,
} from './circuit-breaker-state.js';

/** A fixed instant, for callers that pass `nowMs`. */
function instant(nowMs: number): TimeSource {
  return { now: () => nowMs };
}

/**
 * The in-process state: one {@link CircuitData} per key, changed by the pure algorithm. Every
 * method answers synchronously, so the shell's hot path never waits for a promise job, and
 * admitting or recording a call of a closed circuit reads no clock (see `admitCall`).
 */
class MemoryCircuitBreakerState implements CircuitBreakerState {
  readonly #settings: CircuitBreakerSettings;
  readonly #clock: Clock;
  /** The circuit of calls without a key, kept out of the map so they skip a hash lookup. */
  #defaultCircuit: CircuitData | undefined;
  readonly #keyedCircuits = new Map<string, CircuitData>();
  /** The default circuit's answer to a call while closed, for its current generation. */
  #closedAdmission: Admission | undefined;

  constructor(settings: CircuitBreakerSettings, clock: Clock) {
    this.#settings = settings;
    this.#clock = clock;
  }

  admit(key: string, nowMs?: number, purpose: AdmissionPurpose = 'call'): Admission {
    const time = nowMs === undefined ? this.#clock : instant(nowMs);
    const circuit = this.#circuit(key, time);
    if (key !== DEFAULT_CIRCUIT_KEY || circuit.state !== 'closed' || purpose !== 'call') {
      return admitCall(circuit, this.#settings, time, purpose);
    }
    // A closed circuit admits every call with the same answer until its generation changes: the
    // hot path hands out that one frozen answer instead of allocating it per call.
    const cached = this.#closedAdmission;
    if (cached !== undefined && cached.generation === circuit.generation) return cached;
    const admission = Object.freeze(admitCall(circuit, this.#settings, time, purpose));
    this.#closedAdmission = admission;
    return admission;
  }

  record(key: string, outcome: CallOutcome, admission: Admission, nowMs?: number): readonly Transition[] {
    const time = nowMs === undefined ? this.#clock : instant(nowMs);
    return recordCall(this.#circuit(key, time), this.#settings, outcome, admission, time);
  }

  inspect(key: string, nowMs = this.#clock.now()): CircuitInspection {
    return inspectCircuit(this.#circuit(key, instant(nowMs)), this.#settings, nowMs);
  }

  isolate(key: string, nowMs = this.#clock.now()): IsolationGrant {
    return isolateCircuit(this.#circuit(key, instant(nowMs)), this.#settings, nowMs);
  }

  releaseIsolation(key: string, generation: number, nowMs = this.#clock.now()): readonly Transition[] {
    return releaseIsolation(this.#circuit(key, instant(nowMs)), this.#settings, generation, nowMs);
  }

  reset(key: string, nowMs = this.#clock.now()): readonly Transition[] {
    return resetCircuit(this.#circuit(key, instant(nowMs)), this.#settings, nowMs);
  }

  snapshot(key: string, nowMs = this.#clock.now()): CircuitBreakerSnapshot {
    return snapshotCircuit(this.#circuit(key, instant(nowMs)));
  }

  restore(key: string, snapshot: CircuitBreakerSnapshot, nowMs = this.#clock.now()): readonly Transition[] {
    return restoreCircuit(this.#circuit(key, instant(nowMs)), this.#settings, snapshot, nowMs);
  }

  #circuit(key: string, time: TimeSource): CircuitData {
    if (key === DEFAULT_CIRCUIT_KEY) {
      this.#defaultCircuit ??= createCircuit(this.#settings, time.now());
      return this.#defaultCircuit;
    }
    let circuit = this.#keyedCircuits.get(key);
    if (circuit === undefined) {
      circuit = createCircuit(this.#settings, time.now());
      this.#keyedCircuits.set(key, circuit);
    }
    return circuit;
  }
}

/**
 * The in-process circuit breaker state, and the default `state` of `circuitBreaker`. It reads
 * time from the breaker's clock. Each key keeps its circuit (and window) for the life of the
 * breaker.
 *
 * @example
 * ```ts
 * import { circuitBreaker, memoryCircuitBreakerState } from '@hyx/local';
 * const breaker = circuitBreaker({ name: 'payments', state: memoryCircuitBreakerState() });
 * ```
 */
export function memoryCircuitBreakerState(): CircuitBreakerStateProvider {
  return (settings, context) => new MemoryCircuitBreakerState(settings, context.clock);
}
