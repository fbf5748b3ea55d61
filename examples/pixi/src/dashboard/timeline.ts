/**
 * Turns the records of a run into what the dashboard draws (dashboard-state.ts). A pure function of
 * its input: the run calls it on every `GET /api/state` with the records gathered so far, and the
 * tests call it with hand-made records.
 *
 * Records carry wall-clock ms; the state carries ms since the run began, in buckets of `bucketMs`
 * (complete ones while the run goes on; the last one partial once it has finished).
 * A record belongs to the bucket its start falls in (a call to the bucket its request started in,
 * as its rate-limit decision did); records before the run or after `nowMs` are left out.
 */
import type {
  BreakerRecord,
  BreakerState,
  CallRecord,
  DecisionRecord,
  GatewayRecord,
  InventoryProbe,
  KillRecord,
  LeaderRecord,
  PermitRecord,
} from '../records.js';
import { sharedLimitPerWindow, type PixiSettings } from '../settings.js';

import type {
  DashboardInvariant,
  DashboardPhase,
  DashboardState,
  PlottedBreakerState,
} from './dashboard-state.js';

/** The dashboard's bucket, in ms: fine enough to see a window fill, coarse enough to read. */
const DASHBOARD_BUCKET_MS = 500;

/** Everything the dashboard state is built from. */
export interface TimelineInput {
  readonly mode: DashboardState['mode'];
  /** The gateway instances, in the order the charts list them. */
  readonly instances: readonly string[];
  /** The scenario's phases, in ms since the run began. */
  readonly phases: readonly DashboardPhase[];
  /** The wall clock when the run began, in ms (records carry the wall clock). */
  readonly runStartMs: number;
  /** The wall clock now, in ms. */
  readonly nowMs: number;
  readonly finished: boolean;
  readonly settings: PixiSettings;
  readonly gatewayRecords: readonly GatewayRecord[];
  readonly calls: readonly CallRecord[];
  /** Health checks as the inventory received them: what really reached the downstream. */
  readonly probes: readonly InventoryProbe[];
  readonly kills: readonly KillRecord[];
  readonly invariants?: readonly DashboardInvariant[] | undefined;
  readonly phaseChecks?: readonly DashboardInvariant[] | undefined;
  /** @defaultValue `500`: fine enough to see a window fill, coarse enough to read. */
  readonly bucketMs?: number | undefined;
}

const PLOTTED: Readonly<Record<BreakerState, Exclude<PlottedBreakerState, null>>> = {
  closed: 0,
  'half-open': 1,
  open: 2,
  // Isolated is an open breaker that an operator holds open: the chart shows it as open.
  isolated: 2,
};

/**
 * Builds the dashboard state from a run's records.
 *
 * @example
 * ```ts
 * import { PIXI_SETTINGS } from '../settings.js';
 * import { buildDashboardState } from './timeline.js';
 *
 * const state = buildDashboardState({
 *   mode: 'redis',
 *   instances: ['gw-1'],
 *   phases: [{ name: 'steady', startMs: 0, endMs: 5_000 }],
 *   runStartMs: 1_000_000,
 *   nowMs: 1_002_000,
 *   finished: false,
 *   settings: PIXI_SETTINGS,
 *   gatewayRecords: [],
 *   calls: [],
 *   probes: [],
 *   kills: [],
 * });
 * state.series.t; // [0, 500, 1000, 1500]: the complete buckets so far
 * ```
 */
export function buildDashboardState(input: TimelineInput): DashboardState {
  const bucketMs = input.bucketMs ?? DASHBOARD_BUCKET_MS;
  const { runStartMs, settings } = input;
  const elapsedMs = Math.max(0, input.nowMs - runStartMs);
  // While the run goes on, the bucket still filling is left out: its bars would show a drop that is
  // only the present (and the records that reach the run a little late).
  const bucketCount = (input.finished ? Math.ceil : Math.floor)(elapsedMs / bucketMs);
  const bucketOf = (wallMs: number): number | undefined => {
    const relative = wallMs - runStartMs;
    if (relative < 0 || relative >= elapsedMs) return undefined;
    return Math.floor(relative / bucketMs);
  };

  const decisions: DecisionRecord[] = [];
  const permits: PermitRecord[] = [];
  const breakers: BreakerRecord[] = [];
  const leaders: LeaderRecord[] = [];
  for (const record of input.gatewayRecords) {
    if (record.type === 'decision') decisions.push(record);
    else if (record.type === 'permit') permits.push(record);
    else if (record.type === 'breaker') breakers.push(record);
    else if (record.type === 'leader') leaders.push(record);
  }
  const killedAt = firstKills(input.kills);

  const admitted = admittedSeries(
    decisions,
    input.instances,
    runStartMs,
    bucketMs,
    settings.windowMs,
    bucketCount,
    bucketOf,
  );
  const rateLimited = zeros(bucketCount);
  const degraded = zeros(bucketCount);
  for (const call of input.calls) {
    const bucket = bucketOf(call.startMs);
    if (bucket === undefined) continue;
    if (call.status === 429) rateLimited[bucket] = (rateLimited[bucket] ?? 0) + 1;
    else if (call.stale || call.status >= 500 || call.status === 0)
      degraded[bucket] = (degraded[bucket] ?? 0) + 1;
  }
  const probes = zeros(bucketCount);
  for (const probe of input.probes) {
    const bucket = bucketOf(probe.startMs);
    if (bucket !== undefined) probes[bucket] = (probes[bucket] ?? 0) + 1;
  }

  const breakerByInstance: Record<string, PlottedBreakerState[]> = {};
  for (const instance of input.instances) {
    breakerByInstance[instance] = breakerSeries(
      breakers.filter((record) => record.instance === instance),
      killedAt.get(instance),
      runStartMs,
      bucketMs,
      bucketCount,
    );
  }

  const terms = leaderTermsOf(leaders, killedAt, input.nowMs);
  const current = terms.findLast((term) => term.endMs === undefined);
  const elapsedPhase = input.phases.find((phase) => phase.startMs <= elapsedMs && elapsedMs < phase.endMs);

  return {
    mode: input.mode,
    instances: input.instances,
    phases: input.phases,
    currentPhase: elapsedPhase?.name,
    elapsedMs,
    finished: input.finished,
    bucketMs,
    limitPerBucket: (sharedLimitPerWindow(settings) * bucketMs) / settings.windowMs,
    limitPerWindow: sharedLimitPerWindow(settings),
    windowMs: settings.windowMs,
    bulkheadCap: settings.bulkheadCap,
    permittedHalfOpenCalls: settings.permittedHalfOpenCalls,
    series: {
      t: Array.from({ length: bucketCount }, (_, index) => index * bucketMs),
      admittedByInstance: admitted.byInstance,
      admittedTotal: admitted.total,
      admittedInWindow: admitted.inWindow,
      rateLimited,
      degraded,
      breakerByInstance,
      probes,
      inFlightMax: inFlightMaxSeries(permits, runStartMs, bucketMs, bucketCount),
    },
    leader:
      current === undefined ? undefined : { instance: current.instance, fencingToken: current.fencingToken },
    leaderTerms: terms.map((term) => ({
      instance: term.instance,
      fencingToken: term.fencingToken,
      startMs: term.startMs - runStartMs,
      ...(term.endMs === undefined ? {} : { endMs: term.endMs - runStartMs }),
    })),
    kills: input.kills.map((kill) => ({ instance: kill.instance, atMs: kill.atMs - runStartMs })),
    invariants: input.invariants,
    phaseChecks: input.phaseChecks,
  };
}

function zeros(length: number): number[] {
  return new Array<number>(length).fill(0);
}

/** The first kill of each instance (a killed process does not come back under the same name). */
function firstKills(kills: readonly KillRecord[]): Map<string, number> {
  const killedAt = new Map<string, number>();
  for (const kill of kills) {
    const known = killedAt.get(kill.instance);
    if (known === undefined || kill.atMs < known) killedAt.set(kill.instance, kill.atMs);
  }
  return killedAt;
}

function admittedSeries(
  decisions: readonly DecisionRecord[],
  instances: readonly string[],
  runStartMs: number,
  bucketMs: number,
  windowMs: number,
  bucketCount: number,
  bucketOf: (wallMs: number) => number | undefined,
): { byInstance: Record<string, number[]>; total: number[]; inWindow: number[] } {
  const byInstance: Record<string, number[]> = {};
  for (const instance of instances) byInstance[instance] = zeros(bucketCount);
  const total = zeros(bucketCount);
  const perWindow = new Map<number, number>();
  for (const decision of decisions) {
    if (!decision.allowed) continue;
    // A window counts every admission in it, even those outside the plotted range; one the
    // gateway could not place (window null, after a stall) is left out, as the report does.
    if (decision.window !== null) perWindow.set(decision.window, (perWindow.get(decision.window) ?? 0) + 1);
    const bucket = bucketOf(decision.atMs);
    if (bucket === undefined) continue;
    total[bucket] = (total[bucket] ?? 0) + 1;
    const series = byInstance[decision.instance];
    if (series !== undefined) series[bucket] = (series[bucket] ?? 0) + 1;
  }
  // Window `w` ends at `w * windowMs` (records.ts), so it spans [(w - 1) * windowMs, w * windowMs):
  // a bucket shows the fullest window it overlaps, and an idle bucket of a full window still shows it full.
  const inWindow = Array.from({ length: bucketCount }, (_, bucket) => {
    const startMs = runStartMs + bucket * bucketMs;
    let most = 0;
    for (
      let window = Math.floor(startMs / windowMs) + 1;
      (window - 1) * windowMs < startMs + bucketMs;
      window += 1
    ) {
      most = Math.max(most, perWindow.get(window) ?? 0);
    }
    return most;
  });
  return { byInstance, total, inWindow };
}

/** One instance's breaker state at the end of each bucket: closed until a record says otherwise, none once killed. */
function breakerSeries(
  records: readonly BreakerRecord[],
  killedAtMs: number | undefined,
  runStartMs: number,
  bucketMs: number,
  bucketCount: number,
): PlottedBreakerState[] {
  const ordered = [...records].sort((a, b) => a.atMs - b.atMs);
  const series: PlottedBreakerState[] = [];
  let state: PlottedBreakerState = 0;
  let next = 0;
  for (let bucket = 0; bucket < bucketCount; bucket += 1) {
    const endMs = runStartMs + (bucket + 1) * bucketMs;
    for (let record = ordered[next]; record !== undefined && record.atMs < endMs; record = ordered[++next]) {
      state = PLOTTED[record.to];
    }
    series.push(killedAtMs !== undefined && killedAtMs < endMs ? null : state);
  }
  return series;
}

/**
 * The most permits held at once within each bucket. A permit holds `[startMs, endMs)`, so one given
 * back as another is taken at the same ms is not an overlap (the records lie inside the real holds,
 * which the report's invariant accounts for); an empty interval still counts at its instant.
 */
function inFlightMaxSeries(
  permits: readonly PermitRecord[],
  runStartMs: number,
  bucketMs: number,
  bucketCount: number,
): number[] {
  const events: { atMs: number; delta: 1 | -1 }[] = [];
  for (const permit of permits) {
    events.push({ atMs: permit.startMs, delta: 1 });
    // An empty interval ends just after it starts, so it is counted rather than cancelled at once.
    events.push({ atMs: Math.max(permit.endMs, permit.startMs + 1e-3), delta: -1 });
  }
  // At the same instant the releases come first.
  events.sort((a, b) => a.atMs - b.atMs || a.delta - b.delta);

  const series = zeros(bucketCount);
  let held = 0;
  let next = 0;
  for (let bucket = 0; bucket < bucketCount; bucket += 1) {
    const startMs = runStartMs + bucket * bucketMs;
    const endMs = startMs + bucketMs;
    // Releases and grants up to the bucket's start set what it begins with; the permits held then
    // are held within it too (a release exactly at its start is not).
    for (let event = events[next]; event !== undefined && event.atMs <= startMs; event = events[++next]) {
      if (event.atMs === startMs && event.delta === 1) break;
      held += event.delta;
    }
    let most = held;
    for (let event = events[next]; event !== undefined && event.atMs < endMs; event = events[++next]) {
      held += event.delta;
      most = Math.max(most, held);
    }
    series[bucket] = most;
  }
  return series;
}

interface Term {
  readonly instance: string;
  readonly fencingToken: string;
  readonly startMs: number;
  endMs: number | undefined;
}

/** Leader terms in wall-clock ms, oldest first: each ends at its `lost` or at its instance's kill. */
function leaderTermsOf(
  records: readonly LeaderRecord[],
  killedAt: ReadonlyMap<string, number>,
  nowMs: number,
): Term[] {
  const ordered = [...records].sort((a, b) => a.atMs - b.atMs);
  const terms: Term[] = [];
  for (const record of ordered) {
    if (record.atMs > nowMs) break;
    const open = terms.find((term) => term.instance === record.instance && term.endMs === undefined);
    if (record.event === 'elected') {
      // A renewed term may be recorded again; it is still the same term.
      if (open?.fencingToken === record.fencingToken) continue;
      if (open !== undefined) open.endMs = record.atMs;
      terms.push({
        instance: record.instance,
        fencingToken: record.fencingToken,
        startMs: record.atMs,
        endMs: undefined,
      });
    } else if (open !== undefined) {
      open.endMs = record.atMs;
    }
  }
  for (const term of terms) {
    const killedAtMs = killedAt.get(term.instance);
    if (killedAtMs === undefined || killedAtMs > nowMs || killedAtMs < term.startMs) continue;
    if (term.endMs === undefined || killedAtMs < term.endMs) term.endMs = killedAtMs;
  }
  return terms;
}
