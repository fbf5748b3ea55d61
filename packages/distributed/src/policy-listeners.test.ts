import type { ResilienceEvent } from '@hyx/local';
import { describe, expect, it } from 'vitest';

import { PolicyListeners } from './policy-listeners.js';

const limiter = { kind: 'rate-limiter', name: 'api' } as const;

describe('PolicyListeners', () => {
  it("emits a state's backend transitions as backend.failed and backend.recovered of the policy", () => {
    const listeners = new PolicyListeners();
    const heard: ResilienceEvent[] = [];
    listeners.subscribe(
      (event) => heard.push(event),
      () => undefined,
    );
    const error = new Error('ECONNREFUSED');
    listeners.emitBackend(limiter, { type: 'failed', error, fallback: 'local' });
    listeners.emitBackend(limiter, { type: 'recovered', outageMs: 250 });
    expect(heard).toEqual([
      { policyKind: 'rate-limiter', policyName: 'api', type: 'backend.failed', error, fallback: 'local' },
      { policyKind: 'rate-limiter', policyName: 'api', type: 'backend.recovered', outageMs: 250 },
    ]);
  });

  it('reads the policy name when it emits, not when it subscribes', () => {
    const listeners = new PolicyListeners();
    const heard: ResilienceEvent[] = [];
    const policy = { kind: 'bulkhead' as const, name: 'before' };
    listeners.subscribe(
      (event) => heard.push(event),
      () => undefined,
    );
    policy.name = 'db';
    listeners.emitBackend(policy, { type: 'recovered', outageMs: 1 });
    expect(heard[0]?.policyName).toBe('db');
  });

  it('keeps calling the other listeners when one throws', () => {
    const listeners = new PolicyListeners();
    const heard: string[] = [];
    listeners.subscribe(
      () => {
        throw new Error('listener bug');
      },
      () => undefined,
    );
    listeners.subscribe(
      (event) => heard.push(event.type),
      () => undefined,
    );
    expect(() => {
      listeners.emitBackend(limiter, { type: 'recovered', outageMs: 0 });
    }).not.toThrow();
    expect(heard).toEqual(['backend.recovered']);
  });

  it('unsubscribes from itself and from the shell once, however often it is called', () => {
    const listeners = new PolicyListeners();
    const heard: string[] = [];
    let shellUnsubscribes = 0;
    const unsubscribe = listeners.subscribe(
      (event) => heard.push(event.type),
      () => {
        shellUnsubscribes++;
      },
    );
    unsubscribe();
    unsubscribe();
    listeners.emitBackend(limiter, { type: 'recovered', outageMs: 0 });
    expect(heard).toEqual([]);
    expect(shellUnsubscribes).toBe(1);
  });

  it('hands other events to every listener as they are', () => {
    const listeners = new PolicyListeners();
    const heard: ResilienceEvent[] = [];
    listeners.subscribe(
      (event) => heard.push(event),
      () => undefined,
    );
    const observed: ResilienceEvent = {
      type: 'circuit.observed',
      policyKind: 'circuit-breaker',
      policyName: 'payments',
      from: 'closed',
      to: 'open',
      reason: 'unknown',
    };
    listeners.emit(observed);
    expect(heard).toEqual([observed]);
  });
});
