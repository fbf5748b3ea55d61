import { setImmediate as nextTurn } from 'node:timers/promises';

import {
  memoryCircuitBreakerState,
  type CircuitBreakerState,
  type CircuitBreakerStateProvider,
} from '@hyx/local';

import { describeCircuitBreakerContract } from './circuit-breaker-contract.js';

/**
 * The memory state behind promises that settle a turn of the event loop later, as a networked
 * state's would: every path of the shell that awaits the state runs, with the same rules.
 */
function behindPromises(provider: CircuitBreakerStateProvider): CircuitBreakerStateProvider {
  return (settings, context) => {
    const inner = provider(settings, context);
    const later = async <T>(answer: () => T | Promise<T>): Promise<T> => {
      await nextTurn();
      return answer();
    };
    const state: CircuitBreakerState = {
      admit: (...args) => later(() => inner.admit(...args)),
      record: (...args) => later(() => inner.record(...args)),
      inspect: (...args) => later(() => inner.inspect(...args)),
      isolate: (...args) => later(() => inner.isolate(...args)),
      releaseIsolation: (...args) => later(() => inner.releaseIsolation(...args)),
      reset: (...args) => later(() => inner.reset(...args)),
      snapshot: (...args) => later(() => inner.snapshot(...args)),
      restore: (...args) => later(() => inner.restore(...args)),
    };
    return state;
  };
}

describeCircuitBreakerContract('memory', () => memoryCircuitBreakerState());

describeCircuitBreakerContract('memory behind promises', async () => {
  await nextTurn();
  return behindPromises(memoryCircuitBreakerState());
});
