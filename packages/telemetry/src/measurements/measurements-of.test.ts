import { TimeoutError, type ResilienceEvent } from '@hyx/local';
import { describe, expect, it } from 'vitest';

import { INSTRUMENTS } from './instruments.js';
import { boundedWord, circuitStateMeasurements, errorTypeOf, measurementsOf } from './measurements-of.js';

const retrySource = { policyKind: 'retry', policyName: 'api' } as const;

describe('measurementsOf', () => {
  it.each<[string, ResilienceEvent, ReturnType<typeof measurementsOf>]>([
    [
      'a success: one event and its duration in seconds',
      { type: 'execution.succeeded', ...retrySource, durationMs: 250 },
      [
        { instrument: 'events', value: 1, labels: { ...retrySource, eventType: 'execution.succeeded' } },
        { instrument: 'execution.duration', value: 0.25, labels: { ...retrySource, outcome: 'success' } },
      ],
    ],
    [
      'a failure: the error class, never its message',
      {
        type: 'execution.failed',
        ...retrySource,
        durationMs: 1500,
        error: new TypeError('GET https://x/?token=1'),
      },
      [
        {
          instrument: 'events',
          value: 1,
          labels: { ...retrySource, eventType: 'execution.failed', errorType: 'TypeError' },
        },
        { instrument: 'execution.duration', value: 1.5, labels: { ...retrySource, outcome: 'failure' } },
      ],
    ],
    [
      'a retry after an error',
      { type: 'retry.scheduled', ...retrySource, attempt: 2, delayMs: 400, error: new RangeError('x') },
      [
        {
          instrument: 'events',
          value: 1,
          labels: { ...retrySource, eventType: 'retry.scheduled', reason: 'error', errorType: 'RangeError' },
        },
      ],
    ],
    [
      'a retry after a rejected result',
      { type: 'retry.scheduled', ...retrySource, attempt: 1, delayMs: 100, result: { status: 503 } },
      [
        {
          instrument: 'events',
          value: 1,
          labels: { ...retrySource, eventType: 'retry.scheduled', reason: 'result' },
        },
      ],
    ],
    [
      'an exhausted retry',
      { type: 'retry.exhausted', ...retrySource, attempts: 3, reason: 'budget' },
      [
        {
          instrument: 'events',
          value: 1,
          labels: { ...retrySource, eventType: 'retry.exhausted', reason: 'budget' },
        },
      ],
    ],
    [
      'an elapsed timeout: counted by type only',
      { type: 'timeout.elapsed', policyKind: 'timeout', policyName: 'db', timeoutMs: 50 },
      [
        {
          instrument: 'events',
          value: 1,
          labels: { policyKind: 'timeout', policyName: 'db', eventType: 'timeout.elapsed' },
        },
      ],
    ],
    [
      'a cache hit',
      { type: 'cache.hit', policyKind: 'cache', policyName: 'users' },
      [
        {
          instrument: 'events',
          value: 1,
          labels: { policyKind: 'cache', policyName: 'users', eventType: 'cache.hit' },
        },
      ],
    ],
    [
      'a rejected call',
      {
        type: 'call.rejected',
        policyKind: 'bulkhead',
        policyName: 'pool',
        reason: 'bulkhead-full',
        retryAfterMs: 20,
      },
      [
        {
          instrument: 'events',
          value: 1,
          labels: {
            policyKind: 'bulkhead',
            policyName: 'pool',
            eventType: 'call.rejected',
            reason: 'bulkhead-full',
          },
        },
      ],
    ],
    [
      'a bulkhead grant: both levels',
      {
        type: 'bulkhead.acquired',
        policyKind: 'bulkhead',
        policyName: 'pool',
        inFlight: 3,
        queued: 2,
        waitedMs: 7,
      },
      [
        {
          instrument: 'events',
          value: 1,
          labels: { policyKind: 'bulkhead', policyName: 'pool', eventType: 'bulkhead.acquired' },
        },
        {
          instrument: 'bulkhead.in_flight',
          value: 3,
          labels: { policyKind: 'bulkhead', policyName: 'pool' },
        },
        { instrument: 'bulkhead.queued', value: 2, labels: { policyKind: 'bulkhead', policyName: 'pool' } },
      ],
    ],
    [
      'a rate-limit decision, never its key or cost',
      {
        type: 'rate-limit.decided',
        policyKind: 'rate-limiter',
        policyName: 'search',
        allowed: false,
        cost: 5,
      },
      [
        {
          instrument: 'events',
          value: 1,
          labels: { policyKind: 'rate-limiter', policyName: 'search', eventType: 'rate-limit.decided' },
        },
        {
          instrument: 'rate_limit.decisions',
          value: 1,
          labels: { policyKind: 'rate-limiter', policyName: 'search', outcome: 'rejected' },
        },
      ],
    ],
  ])('maps %s', (_name, event, expected) => {
    expect(measurementsOf(event)).toEqual(expected);
  });

  it('maps a breaker transition to one-hot states, and bounds a free-form reason', () => {
    const source = { policyKind: 'circuit-breaker', policyName: 'payments' } as const;
    expect(
      measurementsOf({
        type: 'circuit.transitioned',
        ...source,
        from: 'closed',
        to: 'open',
        reason: 'failure-rate',
      }),
    ).toEqual([
      {
        instrument: 'events',
        value: 1,
        labels: { ...source, eventType: 'circuit.transitioned', reason: 'failure-rate' },
      },
      { instrument: 'circuit.state', value: 0, labels: { ...source, state: 'closed' } },
      { instrument: 'circuit.state', value: 1, labels: { ...source, state: 'open' } },
      { instrument: 'circuit.state', value: 0, labels: { ...source, state: 'half-open' } },
      { instrument: 'circuit.state', value: 0, labels: { ...source, state: 'isolated' } },
    ]);
    const [counted] = measurementsOf({
      type: 'circuit.transitioned',
      ...source,
      from: 'open',
      to: 'half-open',
      reason: 'probe for https://payments/charge?id=42',
    });
    expect(counted?.labels.reason).toBe('other');
  });

  it('moves the state on a transition another instance made, seen through shared state', () => {
    const source = { policyKind: 'circuit-breaker', policyName: 'payments' } as const;
    const measurements = measurementsOf({
      type: 'circuit.observed',
      ...source,
      from: 'closed',
      to: 'open',
      reason: 'unknown',
    });
    expect(
      measurements.map((m) => [m.instrument, m.labels.eventType ?? m.labels.state, m.labels.reason, m.value]),
    ).toEqual([
      ['events', 'circuit.observed', 'unknown', 1],
      ['circuit.state', 'closed', undefined, 0],
      ['circuit.state', 'open', undefined, 1],
      ['circuit.state', 'half-open', undefined, 0],
      ['circuit.state', 'isolated', undefined, 0],
    ]);
  });

  it('takes a rate limiter’s source when the event carries one, bounded', () => {
    const decided = {
      type: 'rate-limit.decided',
      policyKind: 'rate-limiter',
      policyName: 'r',
      allowed: true,
      cost: 1,
    } as const;
    const withSource = (source: unknown) =>
      measurementsOf({ ...decided, source } as ResilienceEvent)[1]?.labels.source;
    expect(withSource('redis')).toBe('redis');
    expect(withSource('fallback')).toBe('fallback');
    expect(withSource('user:42 from 10.0.0.1')).toBe('other');
  });

  it('counts event types it does not know yet', () => {
    const future = {
      type: 'lease.renewed',
      policyKind: 'lock',
      policyName: 'l',
    } as unknown as ResilienceEvent;
    expect(measurementsOf(future)).toEqual([
      {
        instrument: 'events',
        value: 1,
        labels: { policyKind: 'lock', policyName: 'l', eventType: 'lease.renewed' },
      },
    ]);
  });

  it('maps a backend outage to the path taken and the error class, and its recovery to a count', () => {
    const source = { policyKind: 'rate-limiter', policyName: 'r' } as const;
    expect(
      measurementsOf({
        type: 'backend.failed',
        ...source,
        error: new Error('ECONNREFUSED 10.0.0.1:6379'),
        fallback: 'local',
      }),
    ).toEqual([
      {
        instrument: 'events',
        value: 1,
        labels: { ...source, eventType: 'backend.failed', reason: 'local', errorType: 'Error' },
      },
    ]);
    expect(measurementsOf({ type: 'backend.recovered', ...source, outageMs: 900 })).toEqual([
      { instrument: 'events', value: 1, labels: { ...source, eventType: 'backend.recovered' } },
    ]);
  });

  it('uses only labels its instrument declares', () => {
    const events: ResilienceEvent[] = [
      { type: 'execution.failed', ...retrySource, durationMs: 1, error: new Error('x') },
      { type: 'retry.scheduled', ...retrySource, attempt: 1, delayMs: 1, error: new Error('x') },
      {
        type: 'circuit.transitioned',
        policyKind: 'circuit-breaker',
        policyName: 'c',
        from: 'open',
        to: 'closed',
        reason: 'reset',
      },
      { type: 'bulkhead.released', policyKind: 'bulkhead', policyName: 'b', inFlight: 0, queued: 0 },
      { type: 'rate-limit.decided', policyKind: 'rate-limiter', policyName: 'r', allowed: true, cost: 1 },
    ];
    for (const measurement of events.flatMap((event) => measurementsOf(event))) {
      expect(INSTRUMENTS[measurement.instrument].labels).toEqual(
        expect.arrayContaining(Object.keys(measurement.labels)),
      );
    }
  });

  it('never copies the correlation id into labels', () => {
    const [counted] = measurementsOf({
      type: 'cache.miss',
      policyKind: 'cache',
      policyName: 'c',
      correlationId: 'req-1',
    });
    expect(JSON.stringify(counted)).not.toContain('req-1');
  });
});

describe('errorTypeOf', () => {
  it('is the class name of an error, the name of a DOMException, and non-error otherwise', () => {
    class PaymentDeclinedError extends Error {}
    expect(errorTypeOf(new PaymentDeclinedError('card 4242 declined'))).toBe('PaymentDeclinedError');
    expect(errorTypeOf(new TimeoutError({ policyKind: 'timeout', policyName: 't' }, 5))).toBe('TimeoutError');
    expect(errorTypeOf(new DOMException('stop', 'AbortError'))).toBe('AbortError');
    expect(errorTypeOf('a string')).toBe('non-error');
    expect(errorTypeOf(undefined)).toBe('non-error');
  });

  it('falls back to other for a class name that is not a short identifier', () => {
    const Anonymous = (() => class extends Error {})();
    Object.defineProperty(Anonymous, 'name', { value: 'Error for user 42 <x@y>' });
    expect(errorTypeOf(new Anonymous('x'))).toBe('other');
  });
});

describe('boundedWord', () => {
  it.each([
    ['failure-rate', 'failure-rate'],
    ['probes-succeeded', 'probes-succeeded'],
    ['a'.repeat(64), 'a'.repeat(64)],
    ['a'.repeat(65), 'other'],
    ['has space', 'other'],
    ['/path', 'other'],
    ['', 'other'],
    [42, 'other'],
  ])('keeps %j as %j', (value, expected) => {
    expect(boundedWord(value)).toBe(expected);
  });
});

describe('circuitStateMeasurements', () => {
  it('writes one series per state, 1 for the current one', () => {
    expect(
      circuitStateMeasurements('circuit-breaker', 'c', 'isolated').map((m) => [m.labels.state, m.value]),
    ).toEqual([
      ['closed', 0],
      ['open', 0],
      ['half-open', 0],
      ['isolated', 1],
    ]);
  });
});
