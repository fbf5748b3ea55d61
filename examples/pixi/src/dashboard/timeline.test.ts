import { describe, expect, it } from 'vitest';

import type { CallRecord, GatewayRecord, InventoryProbe, KillRecord } from '../records.js';
import { PIXI_SETTINGS } from '../settings.js';

import { buildDashboardState, type TimelineInput } from './timeline.js';

// Wall-clock ms of the run's start, on a limiter window boundary so window indexes read easily.
const T0 = 1_700_000_000_000;

function input(overrides: Partial<TimelineInput> = {}): TimelineInput {
  return {
    mode: 'redis',
    instances: ['gw-1', 'gw-2'],
    phases: [
      { name: 'steady', startMs: 0, endMs: 1_000 },
      { name: 'surge', startMs: 1_000, endMs: 3_000 },
    ],
    runStartMs: T0,
    nowMs: T0 + 2_000,
    finished: false,
    settings: PIXI_SETTINGS,
    gatewayRecords: [],
    calls: [],
    probes: [],
    kills: [],
    ...overrides,
  };
}

function decision(instance: string, atMs: number, allowed: boolean): GatewayRecord {
  return {
    type: 'decision',
    instance,
    atMs: T0 + atMs,
    apiKey: 'key-alpha',
    allowed,
    window: Math.floor((T0 + atMs) / 1_000) + 1,
    source: 'redis',
  };
}

function call(startMs: number, status: number, stale = false): CallRecord {
  return { instance: 'gw-1', apiKey: 'key-alpha', startMs: T0 + startMs, latencyMs: 5, status, stale };
}

function breaker(
  instance: string,
  atMs: number,
  from: 'closed' | 'half-open' | 'open' | 'isolated',
  to: 'closed' | 'half-open' | 'open' | 'isolated',
  cause: 'local' | 'observed' = 'local',
): GatewayRecord {
  return { type: 'breaker', instance, atMs: T0 + atMs, from, to, cause, reason: 'test' };
}

function permit(startMs: number, endMs: number): GatewayRecord {
  return { type: 'permit', instance: 'gw-1', startMs: T0 + startMs, endMs: T0 + endMs };
}

function leader(
  instance: string,
  atMs: number,
  event: 'elected' | 'lost',
  fencingToken: string,
): GatewayRecord {
  return { type: 'leader', instance, atMs: T0 + atMs, event, fencingToken };
}

function kill(instance: string, atMs: number): KillRecord {
  return { instance, atMs: T0 + atMs };
}

describe('buildDashboardState', () => {
  it('shows each bucket the fuller of the limiter windows it overlaps', () => {
    const state = buildDashboardState(
      input({
        // Buckets straddle windows: [250, 750) lies in window [0, 1000), [750, 1250) overlaps it and [1000, 2000).
        runStartMs: T0 + 250,
        nowMs: T0 + 250 + 2_000,
        gatewayRecords: [
          decision('gw-1', 300, true),
          decision('gw-1', 1_000, true),
          decision('gw-1', 1_100, true),
          decision('gw-2', 1_200, false),
          decision('gw-2', 2_100, true),
        ],
      }),
    );

    expect(state.series.admittedTotal).toEqual([1, 2, 0, 1]);
    expect(state.series.admittedInWindow).toEqual([1, 2, 2, 2]);
  });

  it('gives the complete buckets of a live run, and every bucket of a finished one', () => {
    expect(buildDashboardState(input({ nowMs: T0 + 1_200 })).series.t).toEqual([0, 500]);
    expect(buildDashboardState(input({ nowMs: T0 + 1_200, finished: true })).series.t).toEqual([
      0, 500, 1_000,
    ]);
  });

  it('gives empty buckets up to now, the phase running now and the limit lines', () => {
    const state = buildDashboardState(input({ nowMs: T0 + 1_200, finished: true }));

    expect(state.series.t).toEqual([0, 500, 1_000]);
    expect(state.elapsedMs).toBe(1_200);
    expect(state.currentPhase).toBe('surge');
    expect(state.bucketMs).toBe(500);
    // 10 per key, 3 keys, per 1000 ms window: 15 per 500 ms bucket.
    expect(state.limitPerBucket).toBe(15);
    expect(state.limitPerWindow).toBe(30);
    expect(state.bulkheadCap).toBe(PIXI_SETTINGS.bulkheadCap);
    expect(state.series.admittedByInstance).toEqual({ 'gw-1': [0, 0, 0], 'gw-2': [0, 0, 0] });
    expect(state.series.admittedTotal).toEqual([0, 0, 0]);
    expect(state.series.breakerByInstance).toEqual({ 'gw-1': [0, 0, 0], 'gw-2': [0, 0, 0] });
    expect(state.series.inFlightMax).toEqual([0, 0, 0]);
    expect(state.leader).toBeUndefined();
    expect(state.leaderTerms).toEqual([]);
    expect(state.invariants).toBeUndefined();
  });

  it('has no phase before the first or after the last, and no buckets before the start', () => {
    expect(buildDashboardState(input({ nowMs: T0 - 5 })).series.t).toEqual([]);
    expect(buildDashboardState(input({ nowMs: T0 + 3_000 })).currentPhase).toBeUndefined();
    expect(
      buildDashboardState(input({ phases: [{ name: 'steady', startMs: 100, endMs: 200 }], nowMs: T0 + 50 }))
        .currentPhase,
    ).toBeUndefined();
  });

  it('counts admitted decisions per instance and in all, and the fullest window of each bucket', () => {
    const state = buildDashboardState(
      input({
        gatewayRecords: [
          decision('gw-1', 10, true),
          decision('gw-1', 20, true),
          decision('gw-2', 30, true),
          decision('gw-2', 40, false),
          decision('gw-2', 600, true),
          decision('gw-1', 1_100, true),
          decision('gw-3', 1_200, true),
          // Before the run and after now: left out of the buckets.
          decision('gw-1', -10, true),
          decision('gw-1', 2_000, true),
        ],
      }),
    );

    expect(state.series.admittedByInstance).toEqual({ 'gw-1': [2, 0, 1, 0], 'gw-2': [1, 1, 0, 0] });
    // An instance not listed still counts in the total.
    expect(state.series.admittedTotal).toEqual([3, 1, 2, 0]);
    // Window [0, 1000) admitted 4 in the run; window [1000, 2000) 2; the one before the run had 1.
    expect(state.series.admittedInWindow).toEqual([4, 4, 2, 2]);
  });

  it('counts 429s as rate limited and stale, 5xx and unanswered calls as degraded', () => {
    const state = buildDashboardState(
      input({
        calls: [
          call(0, 200),
          call(10, 429),
          call(20, 429),
          call(30, 503),
          call(600, 0),
          call(700, 200, true),
          call(800, 500),
          call(900, 404),
          call(1_600, 429),
        ],
      }),
    );

    expect(state.series.rateLimited).toEqual([2, 0, 0, 1]);
    expect(state.series.degraded).toEqual([1, 3, 0, 0]);
  });

  it('plots each breaker at the end of each bucket from its own and observed transitions, none after a kill', () => {
    const state = buildDashboardState(
      input({
        nowMs: T0 + 3_000,
        gatewayRecords: [
          // Out of order on purpose: records from several pages need not be sorted.
          breaker('gw-1', 2_300, 'open', 'half-open'),
          breaker('gw-1', 1_200, 'closed', 'open'),
          breaker('gw-1', 2_600, 'half-open', 'closed'),
          breaker('gw-2', 1_250, 'closed', 'open', 'observed'),
          // Opened and closed within one bucket: the end of the bucket is what is plotted.
          breaker('gw-2', 400, 'closed', 'isolated'),
          breaker('gw-2', 450, 'isolated', 'closed'),
        ],
        kills: [kill('gw-2', 2_100)],
      }),
    );

    expect(state.series.breakerByInstance).toEqual({
      'gw-1': [0, 0, 2, 2, 1, 0],
      'gw-2': [0, 0, 2, 2, null, null],
    });
    expect(state.kills).toEqual([{ instance: 'gw-2', atMs: 2_100 }]);
  });

  it('plots an isolated breaker as open', () => {
    const state = buildDashboardState(
      input({ instances: ['gw-1'], gatewayRecords: [breaker('gw-1', 100, 'closed', 'isolated')] }),
    );

    expect(state.series.breakerByInstance['gw-1']).toEqual([2, 2, 2, 2]);
  });

  it('counts health checks by when they started', () => {
    const probe = (startMs: number): InventoryProbe => ({
      startMs: T0 + startMs,
      endMs: T0 + startMs + 30,
      instance: 'gw-1',
      fencingToken: '7',
    });
    const state = buildDashboardState(
      input({ probes: [probe(480), probe(1_100), probe(1_400), probe(2_100)] }),
    );

    expect(state.series.probes).toEqual([1, 0, 2, 0]);
  });

  it('takes the most permits held at once within each bucket', () => {
    const state = buildDashboardState(
      input({
        nowMs: T0 + 2_500,
        gatewayRecords: [
          // Bucket 0: three overlap in [100, 150).
          permit(50, 200),
          permit(100, 150),
          permit(120, 300),
          // One given back as another is taken: one at a time.
          permit(300, 400),
          // Held across buckets 0 to 2.
          permit(450, 1_200),
          // Released at the very start of bucket 3: not held in it; taken at its start: held.
          permit(1_300, 1_500),
          permit(1_500, 1_600),
          permit(1_520, 1_520),
          // Bucket 4: nothing.
        ],
      }),
    );

    expect(state.series.inFlightMax).toEqual([3, 1, 1, 2, 0]);
  });

  it('follows leader terms: a term ends when lost or when its instance is killed', () => {
    const state = buildDashboardState(
      input({
        nowMs: T0 + 5_000,
        gatewayRecords: [
          leader('gw-1', 100, 'elected', '1'),
          // Recorded again on renewal: the same term.
          leader('gw-1', 900, 'elected', '1'),
          leader('gw-2', 2_300, 'elected', '2'),
          leader('gw-2', 3_000, 'lost', '2'),
          leader('gw-3', 3_100, 'elected', '3'),
          // After now: not yet.
          leader('gw-3', 6_000, 'lost', '3'),
        ],
        kills: [kill('gw-1', 2_000)],
        instances: ['gw-1', 'gw-2', 'gw-3'],
      }),
    );

    expect(state.leaderTerms).toEqual([
      { instance: 'gw-1', fencingToken: '1', startMs: 100, endMs: 2_000 },
      { instance: 'gw-2', fencingToken: '2', startMs: 2_300, endMs: 3_000 },
      { instance: 'gw-3', fencingToken: '3', startMs: 3_100 },
    ]);
    expect(state.leader).toEqual({ instance: 'gw-3', fencingToken: '3' });
  });

  it('has no leader once the last one was killed, and passes the verdicts through', () => {
    const invariants = [{ name: 'at most one leader', holds: true, detail: '2 terms, none overlapping' }];
    const state = buildDashboardState(
      input({
        nowMs: T0 + 3_000,
        finished: true,
        gatewayRecords: [leader('gw-1', 100, 'elected', '1')],
        kills: [kill('gw-1', 2_000)],
        invariants,
      }),
    );

    expect(state.leader).toBeUndefined();
    expect(state.finished).toBe(true);
    expect(state.invariants).toEqual(invariants);
  });
});
