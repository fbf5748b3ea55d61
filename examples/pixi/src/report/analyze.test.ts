import { describe, expect, it } from 'vitest';

import type { CallRecord, GatewayRecord } from '../records.js';
import { schedule } from '../run/scenario.js';
import { PIXI_SETTINGS } from '../settings.js';
import { analyze, type RunRecords } from './analyze.js';
import { maxOverlap, quantile } from './intervals.js';

const START = 1_000_000;
const settings = PIXI_SETTINGS;
const phases = schedule(['steady', 'surge'], 10_000, settings);

function run(overrides: Partial<RunRecords>): RunRecords {
  return {
    mode: 'redis',
    settings,
    instances: ['gw-1', 'gw-2'],
    runStartMs: START,
    runEndMs: START + 10_000,
    phases,
    gatewayRecords: [],
    calls: [],
    inventoryProbes: [],
    kills: [],
    ...overrides,
  };
}

const verdict = (records: RunRecords, name: string) =>
  analyze(records).invariants.find((invariant) => invariant.name === name);

function admitted(count: number, window: number, apiKey = 'key-alpha'): GatewayRecord[] {
  return Array.from({ length: count }, (_, index) => ({
    type: 'decision',
    instance: index % 2 === 0 ? 'gw-1' : 'gw-2',
    atMs: (window - 1) * settings.windowMs + index,
    apiKey,
    allowed: true,
    window,
    source: 'redis',
  }));
}

describe('analyze: invariants', () => {
  it('no over-admission holds at the limit and fails one above it, across instances', () => {
    const window = Math.ceil(START / settings.windowMs) + 2;
    const atLimit = run({ gatewayRecords: admitted(settings.limitPerKey, window) });
    expect(verdict(atLimit, 'no over-admission')?.holds).toBe(true);
    const over = run({ gatewayRecords: admitted(settings.limitPerKey + 1, window) });
    expect(verdict(over, 'no over-admission')).toMatchObject({
      holds: false,
      detail: expect.stringContaining(`key-alpha@${window}: ${settings.limitPerKey + 1}`) as unknown,
    });
    // The same counts on two keys are two limits.
    const twoKeys = run({
      gatewayRecords: [
        ...admitted(settings.limitPerKey, window),
        ...admitted(settings.limitPerKey, window, 'key-beta'),
      ],
    });
    expect(verdict(twoKeys, 'no over-admission')?.holds).toBe(true);
  });

  it('counts permits held at once across instances, touching intervals not overlapping', () => {
    const permits = (count: number, startMs: number): GatewayRecord[] =>
      Array.from({ length: count }, (_, index) => ({
        type: 'permit',
        instance: index % 2 === 0 ? 'gw-1' : 'gw-2',
        startMs,
        endMs: startMs + 50,
      }));
    const atCap = run({
      gatewayRecords: [...permits(settings.bulkheadCap, START), ...permits(settings.bulkheadCap, START + 50)],
    });
    expect(verdict(atCap, 'concurrency within the bulkhead cap')?.holds).toBe(true);
    const over = run({
      gatewayRecords: [...permits(settings.bulkheadCap, START), ...permits(1, START + 49)],
    });
    expect(verdict(over, 'concurrency within the bulkhead cap')).toMatchObject({ holds: false });
  });

  it('at most one leader: overlapping terms or a token that does not grow fail', () => {
    const leader = (
      instance: string,
      atMs: number,
      event: 'elected' | 'lost',
      fencingToken: string,
    ): GatewayRecord => ({
      type: 'leader',
      instance,
      atMs,
      event,
      fencingToken,
    });
    const handover = run({
      gatewayRecords: [leader('gw-1', START, 'elected', '1'), leader('gw-2', START + 2_100, 'elected', '2')],
      kills: [{ instance: 'gw-1', atMs: START + 100 }],
    });
    expect(verdict(handover, 'at most one leader')).toMatchObject({
      holds: true,
      detail: expect.stringContaining('gw-1#1 -> gw-2#2') as unknown,
    });
    const overlap = run({
      gatewayRecords: [
        leader('gw-1', START, 'elected', '1'),
        leader('gw-2', START + 50, 'elected', '2'),
        leader('gw-1', START + 100, 'lost', '1'),
      ],
    });
    expect(verdict(overlap, 'at most one leader')?.holds).toBe(false);
    const staleToken = run({
      gatewayRecords: [
        leader('gw-1', START, 'elected', '5'),
        leader('gw-1', START + 10, 'lost', '5'),
        leader('gw-2', START + 20, 'elected', '4'),
      ],
    });
    expect(verdict(staleToken, 'at most one leader')?.detail).toContain('does not increase');
  });

  it('probes: too many at once, or one by an instance not leading, fail', () => {
    const probe = { startMs: START + 100, endMs: START + 200, instance: 'gw-1', fencingToken: '1' };
    const leading: GatewayRecord = {
      type: 'leader',
      instance: 'gw-1',
      atMs: START,
      event: 'elected',
      fencingToken: '1',
    };
    const byLeader: GatewayRecord = {
      type: 'probe',
      instance: 'gw-1',
      startMs: START + 100,
      endMs: START + 200,
      healthy: true,
      fencingToken: '1',
    };
    const name = 'probes within the permitted number, run by the leader';
    expect(verdict(run({ gatewayRecords: [leading, byLeader], inventoryProbes: [probe] }), name)?.holds).toBe(
      true,
    );
    expect(
      verdict(
        run({
          gatewayRecords: [leading, byLeader],
          inventoryProbes: [probe, { ...probe, startMs: START + 150 }],
        }),
        name,
      )?.holds,
    ).toBe(false);
    const unnamed = { ...probe, instance: 'unknown', fencingToken: '' };
    expect(
      verdict(run({ gatewayRecords: [leading, byLeader], inventoryProbes: [unnamed] }), name)?.detail,
    ).toContain('1 naming no term');
    const byOther: GatewayRecord = { ...byLeader, instance: 'gw-2' };
    expect(
      verdict(run({ gatewayRecords: [leading, byOther], inventoryProbes: [probe] }), name)?.detail,
    ).toContain('1 run by an instance that was not leading');
  });

  it('breakers agree: an instance that learns late (beyond the bound and its own lag) fails the run', () => {
    const opened: GatewayRecord = {
      type: 'breaker',
      instance: 'gw-1',
      atMs: START + 1_000,
      from: 'closed',
      to: 'open',
      cause: 'local',
      reason: 'failure-rate',
    };
    const heard = (afterMs: number): GatewayRecord => ({
      ...opened,
      instance: 'gw-2',
      atMs: opened.atMs + afterMs,
      cause: 'observed',
    });
    const name = 'breakers agree within the promised time';
    expect(verdict(run({ gatewayRecords: [opened, heard(settings.breakerAgreementMs)] }), name)?.holds).toBe(
      true,
    );
    expect(
      verdict(run({ gatewayRecords: [opened, heard(settings.breakerAgreementMs + 1)] }), name)?.holds,
    ).toBe(false);
    expect(verdict(run({ gatewayRecords: [opened] }), name)?.holds).toBe(false);
    // A stalled observer is allowed its own stall: no message is handled before its loop runs.
    const lag: GatewayRecord = { type: 'lag', instance: 'gw-2', atMs: opened.atMs + 500, maxDelayMs: 300 };
    expect(
      verdict(run({ gatewayRecords: [opened, heard(settings.breakerAgreementMs + 200), lag] }), name)?.holds,
    ).toBe(true);
    // An instance killed before it could hear is not asked.
    expect(
      verdict(run({ gatewayRecords: [opened], kills: [{ instance: 'gw-2', atMs: opened.atMs + 10 }] }), name)
        ?.holds,
    ).toBe(true);
  });
});

describe('analyze: phases', () => {
  it('counts answers, admissions and latency per phase, and judges the surge by its refusals', () => {
    const call = (startOffsetMs: number, status: number, latencyMs: number, stale = false): CallRecord => ({
      instance: 'gw-1',
      apiKey: 'key-alpha',
      startMs: START + startOffsetMs,
      latencyMs,
      status,
      stale,
    });
    const surgeStart = phases[1]?.startMs ?? 0;
    const report = analyze(
      run({
        calls: [
          call(10, 200, 10),
          call(20, 200, 30, true),
          call(surgeStart + 10, 429, 2),
          call(surgeStart + 20, 200, 20),
        ],
      }),
    );
    const [steady, surge] = report.phases;
    expect(steady?.answers).toEqual({ fresh: 1, stale: 1, rateLimited: 0, unavailable: 0, noAnswer: 0 });
    expect(steady?.latencyMs).toEqual({ p50: 10, p99: 30 });
    expect(steady?.checks[0]?.holds).toBe(true);
    expect(surge?.answers.rateLimited).toBe(1);
    expect(surge?.checks[0]).toMatchObject({ name: 'the excess was refused', holds: true });
  });
});

describe('intervals', () => {
  it('maxOverlap and quantile', () => {
    expect(maxOverlap([])).toBe(0);
    expect(
      maxOverlap([
        { startMs: 0, endMs: 10 },
        { startMs: 5, endMs: 15 },
        { startMs: 10, endMs: 20 },
      ]),
    ).toBe(2);
    expect(maxOverlap([{ startMs: 0, endMs: 0 }])).toBe(0);
    expect(quantile([5, 1, 3], 0.5)).toBe(3);
    expect(quantile([5, 1, 3], 0.99)).toBe(5);
    expect(quantile([], 0.5)).toBe(0);
  });
});
