import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
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

/**
 * The in-process state: one {@link CircuitData} per key, changed by the pure algorithm. Every
 * method answers synchronously, so the shell's hot path never waits for a promise job.
 */
class MemoryCircuitBreakerState implements CircuitBreakerState {
  readonly #settings: CircuitBreakerSettings;
  readonly #clock: Clock;
  /** The circuit of calls without a key, kept out of the map so they skip a hash lookup. */
  #defaultCircuit: CircuitData | undefined;
  readonly #keyedCircuits = new Map<string, CircuitData>();

  constructor(settings: CircuitBreakerSettings, clock: Clock) {
    this.#settings = settings;
    this.#clock = clock;
  }

  admit(key: string, nowMs = this.#clock.now(), purpose: AdmissionPurpose = 'call'): Admission {
    return admitCall(this.#circuit(key, nowMs), this.#settings, nowMs, purpose);
  }

  record(
    key: string,
    outcome: CallOutcome,
    admission: Admission,
    nowMs = this.#clock.now(),
  ): readonly Transition[] {
    return recordCall(this.#circuit(key, nowMs), this.#settings, outcome, admission, nowMs);
  }

  inspect(key: string, nowMs = this.#clock.now()): CircuitInspection {
    return inspectCircuit(this.#circuit(key, nowMs), this.#settings, nowMs);
  }

  isolate(key: string, nowMs = this.#clock.now()): IsolationGrant {
    return isolateCircuit(this.#circuit(key, nowMs), this.#settings, nowMs);
  }

  releaseIsolation(key: string, generation: number, nowMs = this.#clock.now()): readonly Transition[] {
    return releaseIsolation(this.#circuit(key, nowMs), this.#settings, generation, nowMs);
  }

  reset(key: string, nowMs = this.#clock.now()): readonly Transition[] {
    return resetCircuit(this.#circuit(key, nowMs), this.#settings, nowMs);
  }

  snapshot(key: string, nowMs = this.#clock.now()): CircuitBreakerSnapshot {
    return snapshotCircuit(this.#circuit(key, nowMs));
  }

  restore(key: string, snapshot: CircuitBreakerSnapshot, nowMs = this.#clock.now()): readonly Transition[] {
    return restoreCircuit(this.#circuit(key, nowMs), this.#settings, snapshot, nowMs);
  }

  #circuit(key: string, nowMs: number): CircuitData {
    if (key === DEFAULT_CIRCUIT_KEY) {
      this.#defaultCircuit ??= createCircuit(this.#settings, nowMs);
      return this.#defaultCircuit;
    }
    let circuit = this.#keyedCircuits.get(key);
    if (circuit === undefined) {
      circuit = createCircuit(this.#settings, nowMs);
      this.#keyedCircuits.set(key, circuit);
    }
    return circuit;
  }
}

/**
 * Options of {@link memoryCircuitBreakerState}.
 *
 * @example
 * ```ts
 * import { memoryCircuitBreakerState, systemClock } from '@hyx/local';
 * const provider = memoryCircuitBreakerState({ clock: systemClock });
 * ```
 */
export interface MemoryCircuitBreakerStateOptions {
  /**
   * The time used when a caller leaves out `nowMs` (the breaker shell always passes it).
   * @defaultValue {@link systemClock}
   */
  readonly clock?: Clock | undefined;
}

/**
 * The in-process circuit breaker state, and the default `state` of `circuitBreaker`. Each key
 * keeps its circuit (and window) for the life of the breaker.
 *
 * @example
 * ```ts
 * import { circuitBreaker, memoryCircuitBreakerState } from '@hyx/local';
 * const breaker = circuitBreaker({ name: 'payments', state: memoryCircuitBreakerState() });
 * ```
 */
export function memoryCircuitBreakerState(
  options: MemoryCircuitBreakerStateOptions = {},
): CircuitBreakerStateProvider {
  const clock = options.clock ?? systemClock;
  return (settings) => new MemoryCircuitBreakerState(settings, clock);
}
