import { Counter, Registry } from 'prom-client';
import { backoff, bulkhead, circuitBreaker, compose, fallback, retry, timeout, type Work } from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';
import { beforeEach, describe, expect, it } from 'vitest';

import { ScriptedPolicy } from '../test-support/scripted-policy.js';
import { instrument } from './instrument.js';

let clock: FakeClock;
let registry: Registry;

beforeEach(() => {
  clock = new FakeClock();
  registry = new Registry();
});

/** Work that takes `durationMs` on the fake clock and then resolves or rejects. */
function takes(durationMs: number, outcome: { value: string } | { error: Error }): Work<string> {
  return () =>
    new Promise<string>((resolve, reject) => {
      clock.setTimeout(() => {
        if ('value' in outcome) resolve(outcome.value);
        else reject(outcome.error);
      }, durationMs);
    });
}

/** The scrape's sample lines (no HELP/TYPE) of one metric family. */
async function samplesOf(name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

describe('Prometheus', () => {
  it('renders a pipeline of five policies as exact scrape lines', async () => {
    const pipeline = compose(
      fallback({ name: 'fb', value: 'cached', clock }),
      retry({ name: 'api', maxAttempts: 2, backoff: backoff.constant({ delayMs: 20 }), clock }),
      circuitBreaker({ name: 'payments', window: { kind: 'consecutive' }, failureCount: 2, clock }),
      timeout({ name: 'db', timeoutMs: 1000, clock }),
      bulkhead({ name: 'pool', maxConcurrent: 4, clock }),
    );
    const { policy } = instrument(pipeline, { registry });

    // Call 1 succeeds in 5 ms. Call 2 fails twice (30 ms, 20 ms backoff, 30 ms), which opens the
    // breaker (2 consecutive failures), and falls back.
    const first = policy.execute(takes(5, { value: 'fresh' }));
    await clock.advance(5);
    await expect(first).resolves.toBe('fresh');
    const second = policy.execute(takes(30, { error: new RangeError('upstream 503') }));
    await clock.advance(80);
    await expect(second).resolves.toBe('cached');

    expect(await registry.metrics()).toContain(
      '# HELP hyx_events_total Events emitted by hyx policies, by policy and event type\n# TYPE hyx_events_total counter',
    );
    // Series are listed in creation order, which follows the policies' async steps; compare as sets.
    expect((await samplesOf('hyx_events_total')).sort()).toEqual(
      [
        'hyx_events_total{policy_kind="bulkhead",policy_name="pool",event_type="bulkhead.acquired"} 3',
        'hyx_events_total{policy_kind="bulkhead",policy_name="pool",event_type="bulkhead.released"} 3',
        'hyx_events_total{policy_kind="bulkhead",policy_name="pool",event_type="execution.succeeded"} 1',
        'hyx_events_total{policy_kind="timeout",policy_name="db",event_type="execution.succeeded"} 1',
        'hyx_events_total{policy_kind="circuit-breaker",policy_name="payments",event_type="execution.succeeded"} 1',
        'hyx_events_total{policy_kind="retry",policy_name="api",event_type="execution.succeeded"} 1',
        'hyx_events_total{policy_kind="fallback",policy_name="fb",event_type="execution.succeeded"} 2',
        'hyx_events_total{policy_kind="bulkhead",policy_name="pool",event_type="execution.failed",error_type="RangeError"} 2',
        'hyx_events_total{policy_kind="timeout",policy_name="db",event_type="execution.failed",error_type="RangeError"} 2',
        'hyx_events_total{policy_kind="circuit-breaker",policy_name="payments",event_type="execution.failed",error_type="RangeError"} 2',
        'hyx_events_total{policy_kind="circuit-breaker",policy_name="payments",event_type="circuit.transitioned",reason="failure-count"} 1',
        'hyx_events_total{policy_kind="retry",policy_name="api",event_type="retry.scheduled",reason="error",error_type="RangeError"} 1',
        'hyx_events_total{policy_kind="retry",policy_name="api",event_type="retry.exhausted",reason="max-attempts"} 1',
        'hyx_events_total{policy_kind="retry",policy_name="api",event_type="execution.failed",error_type="RetryExhaustedError"} 1',
        'hyx_events_total{policy_kind="fallback",policy_name="fb",event_type="fallback.used",reason="error"} 1',
      ].sort(),
    );
    expect(await samplesOf('hyx_circuit_state')).toEqual([
      'hyx_circuit_state{policy_kind="circuit-breaker",policy_name="payments",state="closed"} 0',
      'hyx_circuit_state{policy_kind="circuit-breaker",policy_name="payments",state="open"} 1',
      'hyx_circuit_state{policy_kind="circuit-breaker",policy_name="payments",state="half-open"} 0',
      'hyx_circuit_state{policy_kind="circuit-breaker",policy_name="payments",state="isolated"} 0',
    ]);
    expect(await samplesOf('hyx_bulkhead_in_flight')).toEqual([
      'hyx_bulkhead_in_flight{policy_kind="bulkhead",policy_name="pool"} 0',
    ]);
    expect(await samplesOf('hyx_bulkhead_queued')).toEqual([
      'hyx_bulkhead_queued{policy_kind="bulkhead",policy_name="pool"} 0',
    ]);
  });

  it('renders the duration histogram in seconds with cumulative buckets, sum and count', async () => {
    const { policy } = instrument(timeout({ name: 'db', timeoutMs: 1000, clock }), { registry });
    const calls = [policy.execute(takes(250, { value: 'a' })), policy.execute(takes(500, { value: 'b' }))];
    await clock.advance(500);
    await Promise.all(calls);
    const labels = 'policy_kind="timeout",policy_name="db",outcome="success"';
    expect(await samplesOf('hyx_execution_duration_seconds_bucket')).toEqual([
      `hyx_execution_duration_seconds_bucket{${labels},le="0.001"} 0`,
      `hyx_execution_duration_seconds_bucket{${labels},le="0.005"} 0`,
      `hyx_execution_duration_seconds_bucket{${labels},le="0.01"} 0`,
      `hyx_execution_duration_seconds_bucket{${labels},le="0.025"} 0`,
      `hyx_execution_duration_seconds_bucket{${labels},le="0.05"} 0`,
      `hyx_execution_duration_seconds_bucket{${labels},le="0.1"} 0`,
      `hyx_execution_duration_seconds_bucket{${labels},le="0.25"} 1`,
      `hyx_execution_duration_seconds_bucket{${labels},le="0.5"} 2`,
      `hyx_execution_duration_seconds_bucket{${labels},le="1"} 2`,
      `hyx_execution_duration_seconds_bucket{${labels},le="2.5"} 2`,
      `hyx_execution_duration_seconds_bucket{${labels},le="5"} 2`,
      `hyx_execution_duration_seconds_bucket{${labels},le="10"} 2`,
      `hyx_execution_duration_seconds_bucket{${labels},le="30"} 2`,
      `hyx_execution_duration_seconds_bucket{${labels},le="+Inf"} 2`,
    ]);
    expect(await samplesOf('hyx_execution_duration_seconds_sum')).toEqual([
      `hyx_execution_duration_seconds_sum{${labels}} 0.75`,
    ]);
    expect(await samplesOf('hyx_execution_duration_seconds_count')).toEqual([
      `hyx_execution_duration_seconds_count{${labels}} 2`,
    ]);
    expect(await registry.metrics()).toContain('# TYPE hyx_execution_duration_seconds histogram');
  });

  it('counts rate-limit decisions by outcome and source, and follows breaker transitions', async () => {
    const limiter = new ScriptedPolicy('rate-limiter', 'search');
    instrument(limiter, { registry });
    const decided = {
      type: 'rate-limit.decided',
      policyKind: 'rate-limiter',
      policyName: 'search',
      cost: 1,
    } as const;
    limiter.emit({ ...decided, allowed: true });
    limiter.emit({ ...decided, allowed: false });
    limiter.emit({ ...decided, allowed: false, source: 'redis' });
    expect(await samplesOf('hyx_rate_limit_decisions_total')).toEqual([
      'hyx_rate_limit_decisions_total{policy_kind="rate-limiter",policy_name="search",outcome="allowed"} 1',
      'hyx_rate_limit_decisions_total{policy_kind="rate-limiter",policy_name="search",outcome="rejected"} 1',
      'hyx_rate_limit_decisions_total{policy_kind="rate-limiter",policy_name="search",outcome="rejected",source="redis"} 1',
    ]);

    const breaker = circuitBreaker({
      name: 'payments',
      window: { kind: 'consecutive' },
      failureCount: 1,
      clock,
    });
    instrument(breaker, { registry });
    await expect(breaker.execute(() => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await clock.flush();
    expect(await samplesOf('hyx_circuit_state')).toEqual([
      'hyx_circuit_state{policy_kind="circuit-breaker",policy_name="payments",state="closed"} 0',
      'hyx_circuit_state{policy_kind="circuit-breaker",policy_name="payments",state="open"} 1',
      'hyx_circuit_state{policy_kind="circuit-breaker",policy_name="payments",state="half-open"} 0',
      'hyx_circuit_state{policy_kind="circuit-breaker",policy_name="payments",state="isolated"} 0',
    ]);
  });

  it('shares one registry between policies and drops a policy’s series on detach', async () => {
    const a = fallback({ name: 'a', value: 0, clock });
    const b = fallback({ name: 'b', value: 0, clock });
    instrument(a, { registry });
    const { detach } = instrument(b, { registry });
    await a.execute(() => 1);
    await b.execute(() => 1);
    expect(await samplesOf('hyx_events_total')).toEqual([
      'hyx_events_total{policy_kind="fallback",policy_name="a",event_type="execution.succeeded"} 1',
      'hyx_events_total{policy_kind="fallback",policy_name="b",event_type="execution.succeeded"} 1',
    ]);
    detach();
    await b.execute(() => 1);
    expect(await samplesOf('hyx_events_total')).toEqual([
      'hyx_events_total{policy_kind="fallback",policy_name="a",event_type="execution.succeeded"} 1',
    ]);
  });

  it('zeroes its series when the registry is reset', async () => {
    const policy = fallback({ name: 'a', value: 0, clock });
    instrument(policy, { registry });
    await policy.execute(() => 1);
    registry.resetMetrics();
    await policy.execute(() => 1);
    expect(await samplesOf('hyx_events_total')).toEqual([
      'hyx_events_total{policy_kind="fallback",policy_name="a",event_type="execution.succeeded"} 1',
    ]);
  });

  it('refuses a registry that already has a metric of the same name from elsewhere', () => {
    new Counter({ name: 'hyx_events_total', help: 'not ours', registers: [registry] });
    expect(() => instrument(fallback({ value: 0 }), { registry })).toThrow(
      'instrument: the registry already has a metric named hyx_events_total that @hyx/telemetry did not create',
    );
  });

  it('uses prom-client’s default registry when none is given', async () => {
    const { register } = await import('prom-client');
    const policy = fallback({ name: 'default-registry', value: 0, clock });
    const { detach } = instrument(policy);
    await policy.execute(() => 1);
    expect(await register.metrics()).toContain(
      'hyx_events_total{policy_kind="fallback",policy_name="default-registry",event_type="execution.succeeded"} 1',
    );
    detach();
  });
});
