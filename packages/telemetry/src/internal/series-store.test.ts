import fc from 'fast-check';
import type { CircuitState, PolicyKind, ResilienceEvent } from '@hyx/local';
import { describe, expect, it } from 'vitest';

import { DURATION_BUCKETS_SECONDS, INSTRUMENTS } from '../measurements/instruments.js';
import type { MeasurementLabels } from '../measurements/measurement.js';
import { measurementsOf } from '../measurements/measurements-of.js';
import { SeriesStore } from './series-store.js';

function storeOf(options: Partial<ConstructorParameters<typeof SeriesStore<MeasurementLabels>>[0]> = {}) {
  return new SeriesStore<MeasurementLabels>({
    exportLabels: (labels) => labels,
    bucketBounds: DURATION_BUCKETS_SECONDS,
    maxSeries: 2000,
    onOverflow: () => {},
    ...options,
  });
}

/** What a store holds, as plain data keyed by instrument and labels. */
function snapshotOf(store: SeriesStore<MeasurementLabels>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const id of Object.keys(INSTRUMENTS) as (keyof typeof INSTRUMENTS)[]) {
    for (const series of store.seriesOf(id)) {
      result[`${id} ${JSON.stringify(series.labels)}`] = [series.value, series.sum, series.bucketCounts];
    }
  }
  return result;
}

/** The reference: fold measurementsOf over the events with no caching at all. */
function referenceOf(events: readonly ResilienceEvent[]): Record<string, unknown> {
  const result: Record<string, [number, number, number[] | undefined]> = {};
  for (const measurement of events.flatMap((event) => measurementsOf(event))) {
    const key = `${measurement.instrument} ${JSON.stringify(measurement.labels)}`;
    const type = INSTRUMENTS[measurement.instrument].type;
    const entry = (result[key] ??= [0, 0, type === 'histogram' ? new Array<number>(14).fill(0) : undefined]);
    if (type === 'counter') entry[0] += measurement.value;
    if (type === 'gauge') entry[0] = measurement.value;
    if (type === 'histogram') {
      entry[0] += 1;
      entry[1] += measurement.value;
      const index = DURATION_BUCKETS_SECONDS.findIndex((bound) => measurement.value <= bound);
      (entry[2] as number[])[index === -1 ? 13 : index]! += 1;
    }
  }
  return result;
}

const kinds: PolicyKind[] = ['retry', 'timeout', 'circuit-breaker', 'bulkhead', 'rate-limiter'];
const states: CircuitState[] = ['closed', 'open', 'half-open', 'isolated'];
const source = fc.record({ policyKind: fc.constantFrom(...kinds), policyName: fc.constantFrom('a', 'b') });
const anError = fc.constantFrom<unknown>(new Error('x'), new TypeError('y'), 'thrown string', undefined);
const anEvent: fc.Arbitrary<ResilienceEvent> = fc
  .oneof(
    fc.record({ type: fc.constant('execution.succeeded'), durationMs: fc.nat(40_000) }),
    fc.record({ type: fc.constant('execution.failed'), durationMs: fc.nat(40_000), error: anError }),
    fc.record({
      type: fc.constant('retry.scheduled'),
      attempt: fc.nat(5),
      delayMs: fc.nat(1000),
      error: anError,
    }),
    fc.record({
      type: fc.constant('retry.scheduled'),
      attempt: fc.nat(5),
      delayMs: fc.nat(1000),
      result: fc.anything(),
    }),
    fc.record({
      type: fc.constant('retry.exhausted'),
      attempts: fc.nat(5),
      reason: fc.constantFrom('max-attempts', 'budget'),
    }),
    fc.record({ type: fc.constant('timeout.elapsed'), timeoutMs: fc.nat(100) }),
    fc.record({ type: fc.constant('fallback.used'), reason: fc.constantFrom('error', 'result') }),
    fc.record({
      type: fc.constant('circuit.transitioned'),
      from: fc.constantFrom(...states),
      to: fc.constantFrom(...states),
      reason: fc.constantFrom('failure-rate', 'reset', 'not a word!'),
    }),
    fc.record({
      type: fc.constant('call.rejected'),
      reason: fc.constantFrom('circuit-open', 'bulkhead-full', 'rate-limited', 'queue-timeout'),
    }),
    fc.record({
      type: fc.constant('bulkhead.acquired'),
      inFlight: fc.nat(9),
      queued: fc.nat(9),
      waitedMs: fc.nat(9),
    }),
    fc.record({ type: fc.constant('bulkhead.released'), inFlight: fc.nat(9), queued: fc.nat(9) }),
    fc.record({ type: fc.constant('rate-limit.decided'), allowed: fc.boolean(), cost: fc.nat(9) }),
    fc.record({
      type: fc.constant('backend.failed'),
      error: anError,
      fallback: fc.constantFrom('reject', 'allow', 'local'),
    }),
    fc.record({ type: fc.constant('backend.recovered'), outageMs: fc.nat(9) }),
    fc.record({
      type: fc.constant('rate-limit.decided'),
      allowed: fc.boolean(),
      cost: fc.nat(9),
      source: fc.constantFrom('redis', 'fallback'),
    }),
  )
  .chain((body) => source.map((from) => ({ ...from, ...body })));

describe('SeriesStore', () => {
  it('records exactly what measurementsOf says, for any sequence of events (cached shapes never drift)', () => {
    fc.assert(
      fc.property(fc.array(anEvent, { maxLength: 60 }), (events) => {
        const store = storeOf();
        for (const event of events) store.recordEvent(event);
        expect(snapshotOf(store)).toEqual(referenceOf(events));
      }),
      { numRuns: 300 },
    );
  });

  it('records the same through a per-policy recorder, and an event of another source through the general path', () => {
    fc.assert(
      fc.property(fc.array(anEvent, { maxLength: 60 }), (events) => {
        const store = storeOf();
        // Bound to one source the events rarely come from: most take the fallback, some the fast path.
        const record = store.recorderOf('retry', 'a');
        for (const event of events) record(event);
        expect(snapshotOf(store)).toEqual(referenceOf(events));
      }),
      { numRuns: 200 },
    );
  });

  it('pushes only the instruments isPushed selects', () => {
    const pushed: string[] = [];
    const store = storeOf({
      onRecord: (series) => pushed.push(series.instrument),
      isPushed: (instrument) => instrument === 'execution.duration',
    });
    store.recordEvent({ type: 'execution.succeeded', policyKind: 'retry', policyName: 'a', durationMs: 1 });
    store.recordEvent({
      type: 'bulkhead.released',
      policyKind: 'bulkhead',
      policyName: 'b',
      inFlight: 0,
      queued: 0,
    });
    expect(pushed).toEqual(['execution.duration']);
  });

  it('drops new series past maxSeries, tells once, and keeps counting the existing ones', () => {
    let overflows = 0;
    const store = storeOf({ maxSeries: 3, onOverflow: () => overflows++ });
    const succeeded = (policyName: string): ResilienceEvent => ({
      type: 'execution.succeeded',
      policyKind: 'retry',
      policyName,
      durationMs: 1,
    });
    store.recordEvent(succeeded('a')); // two series: events and duration
    store.recordEvent(succeeded('b')); // one fits, one is dropped
    store.recordEvent(succeeded('c'));
    store.recordEvent(succeeded('a'));
    expect(store.size).toBe(3);
    expect(overflows).toBe(1);
    expect([...store.seriesOf('events')].map((series) => [series.labels.policyName, series.value])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
  });

  it('keeps a series it was told not to record, but never counts it', () => {
    const store = storeOf({ isRecorded: (measurement) => measurement.instrument !== 'execution.duration' });
    store.recordEvent({ type: 'execution.succeeded', policyKind: 'retry', policyName: 'a', durationMs: 1 });
    expect([...store.seriesOf('execution.duration')]).toEqual([]);
    expect([...store.seriesOf('events')].map((series) => series.value)).toEqual([1]);
  });

  it('hands every recorded measurement to onRecord, with the backend’s labels', () => {
    const seen: [string, number, unknown][] = [];
    const store = new SeriesStore<string>({
      exportLabels: (labels) => `${labels.policyName}/${labels.outcome ?? labels.eventType ?? ''}`,
      bucketBounds: DURATION_BUCKETS_SECONDS,
      maxSeries: 10,
      onOverflow: () => {},
      onRecord: (series, value) => seen.push([series.instrument, value, series.exported]),
    });
    store.recordEvent({
      type: 'execution.failed',
      policyKind: 'timeout',
      policyName: 'db',
      durationMs: 20,
      error: 1,
    });
    expect(seen).toEqual([
      ['events', 1, 'db/execution.failed'],
      ['execution.duration', 0.02, 'db/failure'],
    ]);
  });
});
