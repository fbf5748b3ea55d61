import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

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
import type {
  Admission,
  CallOutcome,
  CircuitBreakerSettings,
  CircuitWindow,
  Transition,
} from './circuit-breaker-state.js';
import { epochOf } from './windows/time-window.js';

function at(nowMs: number): TimeSource {
  return { now: () => nowMs };
}

function settingsFor(
  window: CircuitWindow,
  overrides: Partial<CircuitBreakerSettings> = {},
): CircuitBreakerSettings {
  return {
    name: 'algorithm',
    window,
    failureRate: window.kind === 'consecutive' ? undefined : 0.5,
    failureCount: window.kind === 'consecutive' ? 3 : undefined,
    slowCallRate: window.kind === 'consecutive' ? undefined : 0.5,
    slowCallDurationMs: 100,
    minimumCalls: window.kind === 'consecutive' ? 1 : 3,
    openDurationsMs: [1000, 2000],
    permittedHalfOpenCalls: 2,
    maxHalfOpenWaitMs: 1500,
    usesHealthCheck: false,
    isMetricsOnly: false,
    ...overrides,
  };
}

const windowArbitrary: fc.Arbitrary<CircuitWindow> = fc.oneof(
  fc.constant<CircuitWindow>({ kind: 'consecutive' }),
  fc.integer({ min: 1, max: 8 }).map((size): CircuitWindow => ({ kind: 'countWindow', size })),
  fc
    .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 300 }))
    .map(([buckets, bucketMs]): CircuitWindow => ({
      kind: 'timeWindow',
      durationMs: buckets * bucketMs,
      buckets,
    })),
);

const outcomeArbitrary: fc.Arbitrary<CallOutcome> = fc.oneof(
  fc.record({ kind: fc.constant('success' as const), durationMs: fc.integer({ min: 0, max: 200 }) }),
  fc.record({ kind: fc.constant('failure' as const), durationMs: fc.integer({ min: 0, max: 200 }) }),
  fc.constant<CallOutcome>({ kind: 'ignored' }),
);

describe('circuit breaker algorithm', () => {
  it('keeps window totals equal to a brute-force recount of the last N calls / W ms at every step', () => {
    const countOrTime = windowArbitrary.filter((window) => window.kind !== 'consecutive');
    const stepArbitrary = fc.record({
      advanceMs: fc.integer({ min: 0, max: 400 }),
      outcome: outcomeArbitrary,
    });
    fc.assert(
      fc.property(countOrTime, fc.array(stepArbitrary, { maxLength: 120 }), (window, steps) => {
        // metricsOnly: the breaker never opens, so every call lands in the window.
        const settings = settingsFor(window, { isMetricsOnly: true });
        let nowMs = 1_000_000;
        const circuit = createCircuit(settings, nowMs);
        const counted: { atMs: number; isFailure: boolean; isSlow: boolean }[] = [];
        for (const step of steps) {
          nowMs += step.advanceMs;
          const admission = admitCall(circuit, settings, at(nowMs), 'call');
          expect(admission.isAllowed).toBe(true);
          recordCall(circuit, settings, step.outcome, admission, at(nowMs));
          if (step.outcome.kind !== 'ignored') {
            counted.push({
              atMs: nowMs,
              isFailure: step.outcome.kind === 'failure',
              isSlow: step.outcome.durationMs >= settings.slowCallDurationMs,
            });
          }
          let inWindow = counted;
          if (window.kind === 'countWindow') inWindow = counted.slice(-window.size);
          if (window.kind === 'timeWindow') {
            const bucketMs = window.durationMs / window.buckets;
            const nowEpoch = epochOf(nowMs, bucketMs);
            inWindow = counted.filter((call) => nowEpoch - epochOf(call.atMs, bucketMs) < window.buckets);
          }
          const metrics = inspectCircuit(circuit, settings, nowMs);
          expect({ calls: metrics.calls, failures: metrics.failures, slowCalls: metrics.slowCalls }).toEqual({
            calls: inWindow.length,
            failures: inWindow.filter((call) => call.isFailure).length,
            slowCalls: inWindow.filter((call) => call.isSlow).length,
          });
        }
      }),
    );
  });

  type Operation =
    | { readonly type: 'admit' }
    | { readonly type: 'record'; readonly pick: number; readonly outcome: CallOutcome }
    | { readonly type: 'advance'; readonly ms: number }
    | { readonly type: 'isolate' }
    | { readonly type: 'release'; readonly pick: number }
    | { readonly type: 'reset' }
    | { readonly type: 'restore' };

  const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
    { weight: 6, arbitrary: fc.constant<Operation>({ type: 'admit' }) },
    {
      weight: 6,
      arbitrary: fc.record({
        type: fc.constant('record' as const),
        pick: fc.nat(),
        outcome: outcomeArbitrary,
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({ type: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2500 }) }),
    },
    { weight: 1, arbitrary: fc.constant<Operation>({ type: 'isolate' }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('release' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.constant<Operation>({ type: 'reset' }) },
    { weight: 1, arbitrary: fc.constant<Operation>({ type: 'restore' }) },
  );

  function expectInvariants(circuit: CircuitData, settings: CircuitBreakerSettings): void {
    const window = circuit.window;
    const counters = [
      circuit.generation,
      circuit.consecutiveOpens,
      circuit.probesAdmitted,
      circuit.probeSuccesses,
      circuit.probeFailures,
      circuit.probeSlowCalls,
      circuit.isolations,
      window.calls,
      window.failures,
      window.slowCalls,
    ];
    if (window.kind === 'timeWindow') {
      counters.push(...window.bucketCalls, ...window.bucketFailures, ...window.bucketSlowCalls);
    }
    for (const counter of counters) expect(counter).toBeGreaterThanOrEqual(0);
    expect(window.failures).toBeLessThanOrEqual(window.calls);
    expect(window.slowCalls).toBeLessThanOrEqual(window.calls);
    expect(circuit.probesAdmitted).toBeLessThanOrEqual(settings.permittedHalfOpenCalls);
    expect(circuit.probeSuccesses + circuit.probeFailures).toBeLessThanOrEqual(circuit.probesAdmitted);
    expect(circuit.isolations > 0).toBe(circuit.state === 'isolated');
    if (window.kind === 'countWindow') expect(window.calls).toBeLessThanOrEqual(window.outcomes.length);
  }

  it('never makes a counter negative, and reports every transition as a chain from the state it left', () => {
    fc.assert(
      fc.property(
        windowArbitrary,
        fc.boolean(),
        fc.array(operationArbitrary, { maxLength: 150 }),
        (window, usesHealthCheck, operations) => {
          const settings = settingsFor(window, { usesHealthCheck });
          let nowMs = 5_000_000;
          const circuit = createCircuit(settings, nowMs);
          const pending: Admission[] = [];
          const isolations: number[] = [];
          for (const operation of operations) {
            const before = circuit.state;
            const generationBefore = circuit.generation;
            let transitions: readonly Transition[] = [];
            switch (operation.type) {
              case 'admit': {
                const admission = admitCall(
                  circuit,
                  settings,
                  at(nowMs),
                  usesHealthCheck && pending.length % 2 === 0 ? 'health-check' : 'call',
                );
                transitions = admission.transitions;
                if (admission.isAllowed) pending.push(admission);
                else expect(admission.retryAfterMs === undefined || admission.retryAfterMs >= 0).toBe(true);
                break;
              }
              case 'record': {
                if (pending.length === 0) break;
                const [admission] = pending.splice(operation.pick % pending.length, 1);
                if (admission !== undefined)
                  transitions = recordCall(circuit, settings, operation.outcome, admission, at(nowMs));
                break;
              }
              case 'advance':
                nowMs += operation.ms;
                transitions = inspectCircuit(circuit, settings, nowMs).transitions;
                break;
              case 'isolate': {
                const grant = isolateCircuit(circuit, settings, nowMs);
                isolations.push(grant.generation);
                transitions = grant.transitions;
                break;
              }
              case 'release': {
                if (isolations.length === 0) break;
                const [generation] = isolations.splice(operation.pick % isolations.length, 1);
                if (generation !== undefined)
                  transitions = releaseIsolation(circuit, settings, generation, nowMs);
                break;
              }
              case 'reset':
                transitions = resetCircuit(circuit, settings, nowMs);
                break;
              case 'restore':
                transitions = restoreCircuit(
                  circuit,
                  settings,
                  JSON.parse(JSON.stringify(snapshotCircuit(circuit))) as ReturnType<typeof snapshotCircuit>,
                  nowMs,
                );
                break;
            }
            expectInvariants(circuit, settings);
            expect(circuit.generation).toBeGreaterThanOrEqual(generationBefore);
            let state = before;
            for (const change of transitions) {
              expect(change.from).toBe(state);
              expect(change.to).not.toBe(change.from);
              expect(change.atMs).toBeLessThanOrEqual(nowMs);
              state = change.to;
            }
            expect(circuit.state).toBe(state);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a half-open that times out re-opens at its deadline, not when it is next looked at', () => {
    const settings = settingsFor({ kind: 'consecutive' }, { failureCount: 1, permittedHalfOpenCalls: 1 });
    const circuit = createCircuit(settings, 0);
    recordCall(
      circuit,
      settings,
      { kind: 'failure', durationMs: 0 },
      admitCall(circuit, settings, at(0), 'call'),
      at(0),
    );
    admitCall(circuit, settings, at(1000), 'call');
    const { transitions } = inspectCircuit(circuit, settings, 9000);
    expect(transitions).toEqual([
      {
        from: 'half-open',
        to: 'open',
        reason: 'half-open-timeout',
        atMs: 2500,
        generation: 3,
        openUntilMs: 4500,
      },
    ]);
  });

  it('recounts a restored count window from its slots instead of trusting its totals', () => {
    const settings = settingsFor({ kind: 'countWindow', size: 3 });
    const circuit = createCircuit(settings, 0);
    const snapshot = snapshotCircuit(circuit);
    restoreCircuit(
      circuit,
      settings,
      {
        ...snapshot,
        window: { kind: 'countWindow', outcomes: [1, 1, 0], next: 2, calls: 2, failures: 0, slowCalls: 9 },
      },
      0,
    );
    expect(inspectCircuit(circuit, settings, 0)).toMatchObject({ calls: 2, failures: 2, slowCalls: 0 });
  });
});
