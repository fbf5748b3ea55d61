/**
 * Judges a run from its records alone: per phase, what happened (requests, admissions against the
 * limit, breaker transitions, probes, concurrency, leaders, latency) and whether the phase did
 * what it claims; over the whole run, whether each cluster-wide invariant held. Pure: records in,
 * report out, so every verdict can be tested with hand-made records.
 */
import type { BreakerRecord, CallRecord, GatewayRecord, InventoryProbe, KillRecord } from '../records.js';
import type { ScheduledPhase } from '../run/scenario.js';
import type { PixiSettings } from '../settings.js';
import { maxOverlap, quantile } from './intervals.js';
import { termAt, termsOf, type Term } from './leadership.js';

/** Everything a run recorded. Times are wall-clock ms, except the phases' (ms since `runStartMs`). */
export interface RunRecords {
  readonly mode: 'redis' | 'in-process';
  readonly settings: PixiSettings;
  readonly instances: readonly string[];
  readonly runStartMs: number;
  readonly runEndMs: number;
  readonly phases: readonly ScheduledPhase[];
  readonly gatewayRecords: readonly GatewayRecord[];
  readonly calls: readonly CallRecord[];
  readonly inventoryProbes: readonly InventoryProbe[];
  readonly kills: readonly KillRecord[];
}

/** A verdict with the evidence for it. */
export interface Verdict {
  readonly name: string;
  readonly holds: boolean;
  readonly detail: string;
}

/** What one phase did. Times are seconds since the run began. */
export interface PhaseReport {
  readonly name: string;
  readonly purpose: string;
  readonly startS: number;
  readonly endS: number;
  readonly requests: number;
  readonly answers: {
    readonly fresh: number;
    readonly stale: number;
    readonly rateLimited: number;
    readonly unavailable: number;
    readonly noAnswer: number;
  };
  /** Requests the shared limit admitted, cluster-wide. */
  readonly admitted: number;
  /** What the shared limit allows in the phase's windows, all keys together. */
  readonly limitInPhase: number;
  /** The most requests one API key got admitted in one window, cluster-wide. */
  readonly maxAdmittedInWindow: number;
  readonly limitPerKeyPerWindow: number;
  /** Each instance's breaker transitions (those it made and those it observed). */
  readonly breaker: Readonly<
    Record<string, readonly { readonly atS: number; readonly to: string; readonly cause: string }[]>
  >;
  /** Health checks the inventory received, cluster-wide. */
  readonly probes: number;
  /** The most bulkhead permits held at once, cluster-wide. */
  readonly maxConcurrent: number;
  readonly bulkheadCap: number;
  /** Terms of the recovery leader held during the phase (begun before it, or in it). */
  readonly leadersElected: readonly {
    readonly instance: string;
    readonly fencingToken: string;
    readonly atS: number;
  }[];
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  /** Whether the phase did what it is there to show. */
  readonly checks: readonly Verdict[];
}

/** The report of a run. */
export interface PixiReport {
  readonly mode: 'redis' | 'in-process';
  readonly instances: readonly string[];
  readonly durationS: number;
  readonly settings: PixiSettings;
  readonly phases: readonly PhaseReport[];
  readonly invariants: readonly Verdict[];
  /** Every invariant held. */
  readonly passed: boolean;
  /** Every phase showed what it is there to show (its `checks`). */
  readonly phasesShown: boolean;
}

const seconds = (ms: number): number => Math.round(ms) / 1000;

function isRateLimited(call: CallRecord): boolean {
  return call.status === 429;
}

// ---------------------------------------------------------------------------------------------
// Invariants

function noOverAdmission(records: readonly GatewayRecord[], settings: PixiSettings): Verdict {
  const counts = new Map<string, number>();
  let uncertain = 0;
  for (const record of records) {
    if (record.type !== 'decision' || !record.allowed || record.source === 'fallback') continue;
    if (record.window === null) {
      uncertain++;
      continue;
    }
    const key = `${record.apiKey}@${record.window}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const over = [...counts].filter(([, count]) => count > settings.limitPerKey);
  const most = Math.max(0, ...counts.values());
  return {
    name: 'no over-admission',
    holds: over.length === 0,
    detail:
      over.length === 0
        ? `at most ${most} of ${settings.limitPerKey} admitted per API key in any ${settings.windowMs} ms window (${counts.size} windows` +
          (uncertain > 0
            ? `; ${uncertain} admission(s) after a stall as long as a window could not be placed`
            : '') +
          ')'
        : `${over.length} window(s) over the limit of ${settings.limitPerKey}: ${over
            .slice(0, 3)
            .map(([key, count]) => `${key}: ${count}`)
            .join(', ')}`,
  };
}

/** The worst event-loop delay `instance` reported around `[fromMs, toMs]`. */
function lagAround(
  records: readonly GatewayRecord[],
  instance: string,
  fromMs: number,
  toMs: number,
): number {
  let worst = 0;
  for (const record of records) {
    // A lag record covers the second before it.
    if (
      record.type === 'lag' &&
      record.instance === instance &&
      record.atMs >= fromMs &&
      record.atMs - 1_000 <= toMs
    )
      worst = Math.max(worst, record.maxDelayMs);
  }
  return worst;
}

function breakersAgree(run: RunRecords): Verdict {
  const { gatewayRecords: records, settings, kills, instances } = run;
  const breakerRecords = records.filter((record): record is BreakerRecord => record.type === 'breaker');
  const made = breakerRecords.filter(
    (record) => record.cause === 'local' && (record.to === 'open' || record.to === 'closed'),
  );
  const diedAt = (instance: string): number =>
    kills.find((kill) => kill.instance === instance)?.atMs ?? Infinity;
  let checked = 0;
  let worstLagMs = 0;
  const misses: string[] = [];
  for (const transition of made) {
    for (const other of instances) {
      if (other === transition.instance) continue;
      const boundMs =
        settings.breakerAgreementMs + lagAround(records, other, transition.atMs, transition.atMs + 1_000);
      // An instance that died before it could have heard is not asked to agree.
      if (diedAt(other) <= transition.atMs + boundMs) continue;
      checked++;
      // The maker may record its own transition late (its loop stalled): others may hear first.
      const earliestMs =
        settings.breakerAgreementMs +
        lagAround(records, transition.instance, transition.atMs - 1_000, transition.atMs);
      const heard = breakerRecords
        .filter((record) => record.instance === other && record.to === transition.to)
        .map((record) => record.atMs - transition.atMs)
        .filter((lagMs) => lagMs >= -earliestMs)
        .sort((a, b) => Math.abs(a) - Math.abs(b))[0];
      if (heard === undefined || heard > boundMs) {
        misses.push(
          `${other} did not learn of ${transition.instance}'s ${transition.from} -> ${transition.to} at ${seconds(transition.atMs - run.runStartMs)} s within ${boundMs} ms`,
        );
      } else worstLagMs = Math.max(worstLagMs, heard);
    }
  }
  return {
    name: 'breakers agree within the promised time',
    holds: misses.length === 0,
    detail:
      misses.length === 0
        ? `${checked} (transition, instance) pairs checked; slowest to learn: ${Math.round(worstLagMs)} ms (promise: ${settings.breakerAgreementMs} ms plus the observer's event-loop delay)`
        : `${misses.length} of ${checked} missed: ${misses.slice(0, 3).join('; ')}`,
  };
}

function probesWithinPermitted(run: RunRecords, terms: readonly Term[]): Verdict {
  const { settings, inventoryProbes, gatewayRecords } = run;
  const atOnce = maxOverlap(inventoryProbes);
  const byNonLeader = gatewayRecords.filter(
    (record) => record.type === 'probe' && termAt(terms, record.instance, record.startMs) === undefined,
  );
  // From the receiving end too: every probe must name a term that was really held.
  const unknownTerm = inventoryProbes.filter(
    (probe) =>
      !terms.some((term) => term.instance === probe.instance && term.fencingToken === probe.fencingToken),
  );
  const holds =
    atOnce <= settings.permittedHalfOpenCalls && byNonLeader.length === 0 && unknownTerm.length === 0;
  return {
    name: 'probes within the permitted number, run by the leader',
    holds,
    detail:
      `${inventoryProbes.length} health checks reached the inventory, at most ${atOnce} at once ` +
      `(permitted: ${settings.permittedHalfOpenCalls}); ${byNonLeader.length} run by an instance that was not leading, ` +
      `${unknownTerm.length} naming no term the inventory could match`,
  };
}

function concurrencyWithinCap(run: RunRecords): Verdict {
  const permits = run.gatewayRecords.filter((record) => record.type === 'permit');
  const most = maxOverlap(permits);
  return {
    name: 'concurrency within the bulkhead cap',
    holds: most <= run.settings.bulkheadCap,
    detail: `at most ${most} calls to the inventory at once across all instances (cap: ${run.settings.bulkheadCap}; ${permits.length} permits)`,
  };
}

function oneLeaderAtATime(terms: readonly Term[]): Verdict {
  const problems: string[] = [];
  for (let index = 1; index < terms.length; index++) {
    const previous = terms[index - 1] as Term;
    const next = terms[index] as Term;
    if (next.startMs < previous.endMs)
      problems.push(
        `${next.instance} (token ${next.fencingToken}) began before ${previous.instance}'s term ended`,
      );
    if (BigInt(next.fencingToken) <= BigInt(previous.fencingToken))
      problems.push(`token ${next.fencingToken} after ${previous.fencingToken} does not increase`);
  }
  return {
    name: 'at most one leader',
    holds: problems.length === 0,
    detail:
      problems.length === 0
        ? `${terms.length} term(s): ${terms.map((term) => `${term.instance}#${term.fencingToken}`).join(' -> ') || 'none'}; never two at once, tokens increasing`
        : problems.slice(0, 3).join('; '),
  };
}

// ---------------------------------------------------------------------------------------------
// Phases

function breakerAt(records: readonly BreakerRecord[], instance: string, atMs: number): string {
  let state = 'closed';
  for (const record of records) if (record.instance === instance && record.atMs <= atMs) state = record.to;
  return state;
}

/** Whether `instance`'s breaker went to open within `window`. */
function openedDuring(
  records: readonly BreakerRecord[],
  instance: string,
  window: { readonly fromMs: number; readonly toMs: number },
): boolean {
  return records.some(
    (record) =>
      record.instance === instance &&
      record.to === 'open' &&
      record.atMs >= window.fromMs &&
      record.atMs <= window.toMs,
  );
}

function phaseChecks(
  phase: ScheduledPhase,
  report: Omit<PhaseReport, 'checks'>,
  run: RunRecords,
  window: { readonly fromMs: number; readonly toMs: number },
  terms: readonly Term[],
): Verdict[] {
  const breakerRecords = run.gatewayRecords
    .filter((record): record is BreakerRecord => record.type === 'breaker')
    .sort((a, b) => a.atMs - b.atMs);
  const alive = run.instances.filter(
    (instance) => !run.kills.some((kill) => kill.instance === instance && kill.atMs <= window.toMs),
  );
  const states = alive.map((instance) => `${instance}: ${breakerAt(breakerRecords, instance, window.toMs)}`);
  switch (phase.name) {
    case 'steady':
      return [
        {
          name: 'traffic under the limit was never refused',
          holds: report.answers.rateLimited === 0,
          detail: `${report.answers.rateLimited} of ${report.requests} rate-limited; ${report.answers.fresh} answered fresh`,
        },
      ];
    case 'surge':
      return [
        {
          name: 'the excess was refused',
          holds: report.answers.rateLimited > 0 && report.admitted <= report.limitInPhase,
          detail: `${report.answers.rateLimited} of ${report.requests} refused with 429; ${report.admitted} admitted of ${report.limitInPhase} allowed`,
        },
      ];
    case 'outage': {
      const opened = alive.filter((instance) => openedDuring(breakerRecords, instance, window));
      return [
        {
          name: 'the breaker opened for every instance',
          holds: opened.length === alive.length,
          detail: `opened at ${opened.length} of ${alive.length} instances`,
        },
        {
          name: 'callers got cached answers',
          holds: report.answers.stale > 0,
          detail: `${report.answers.stale} stale answers`,
        },
      ];
    }
    case 'recovery':
    case 'leader-crash': {
      const allClosed = states.every((state) => state.endsWith(': closed'));
      // Closed proves a recovery only if it was open at some point of the phase.
      const wasOpen = alive.some(
        (instance) =>
          breakerAt(breakerRecords, instance, window.fromMs) !== 'closed' ||
          openedDuring(breakerRecords, instance, window),
      );
      const checks: Verdict[] = [
        {
          name: 'the breaker is closed again everywhere',
          holds: allClosed && wasOpen,
          detail: wasOpen
            ? states.join(', ')
            : 'nothing to recover: the breaker was not open during the phase (run outage before recovery)',
        },
      ];
      if (phase.name === 'leader-crash') {
        const kill = run.kills.find(
          (candidate) => candidate.atMs >= window.fromMs && candidate.atMs <= window.toMs,
        );
        const successor = kill === undefined ? undefined : terms.find((term) => term.startMs > kill.atMs);
        checks.push({
          name: 'another instance took over the leadership',
          holds: kill !== undefined && successor !== undefined && successor.instance !== kill.instance,
          detail:
            kill === undefined
              ? 'no instance was killed'
              : successor === undefined
                ? `nobody was elected after ${kill.instance} was killed`
                : `${kill.instance} killed at ${seconds(kill.atMs - run.runStartMs)} s; ${successor.instance} elected ${Math.round(successor.startMs - kill.atMs)} ms later with token ${successor.fencingToken} (lease: ${run.settings.leaderLeaseMs} ms)`,
        });
      }
      return checks;
    }
  }
}

function phaseReport(run: RunRecords, phase: ScheduledPhase, terms: readonly Term[]): PhaseReport {
  const { settings } = run;
  const fromMs = run.runStartMs + phase.startMs;
  const toMs = run.runStartMs + phase.endMs;
  const within = (atMs: number): boolean => atMs >= fromMs && atMs < toMs;
  const calls = run.calls.filter((call) => within(call.startMs));
  const answers = {
    fresh: calls.filter((call) => call.status === 200 && !call.stale).length,
    stale: calls.filter((call) => call.status === 200 && call.stale).length,
    rateLimited: calls.filter(isRateLimited).length,
    unavailable: calls.filter((call) => call.status >= 500).length,
    noAnswer: calls.filter((call) => call.status === 0).length,
  };
  // A window belongs to the phase its start falls in.
  const windowInPhase = (window: number): boolean => within((window - 1) * settings.windowMs);
  const perWindow = new Map<string, number>();
  let admitted = 0;
  for (const record of run.gatewayRecords) {
    if (
      record.type !== 'decision' ||
      !record.allowed ||
      record.window === null ||
      !windowInPhase(record.window)
    )
      continue;
    admitted++;
    const key = `${record.apiKey}@${record.window}`;
    perWindow.set(key, (perWindow.get(key) ?? 0) + 1);
  }
  const firstWindow = Math.ceil(fromMs / settings.windowMs) + 1;
  const lastWindow = Math.ceil(toMs / settings.windowMs);
  const windows = Math.max(0, lastWindow - firstWindow + 1);
  const breaker: Record<string, { atS: number; to: string; cause: string }[]> = {};
  for (const instance of run.instances) breaker[instance] = [];
  for (const record of run.gatewayRecords) {
    if (record.type !== 'breaker' || !within(record.atMs)) continue;
    breaker[record.instance]?.push({
      atS: seconds(record.atMs - run.runStartMs),
      to: record.to,
      cause: record.cause,
    });
  }
  for (const list of Object.values(breaker)) list.sort((a, b) => a.atS - b.atS);
  const base = {
    name: phase.name,
    purpose: phase.purpose,
    startS: seconds(phase.startMs),
    endS: seconds(phase.endMs),
    requests: calls.length,
    answers,
    admitted,
    limitInPhase: windows * settings.limitPerKey * settings.apiKeys.length,
    maxAdmittedInWindow: Math.max(0, ...perWindow.values()),
    limitPerKeyPerWindow: settings.limitPerKey,
    breaker,
    probes: run.inventoryProbes.filter((probe) => within(probe.startMs)).length,
    maxConcurrent: maxOverlap(
      run.gatewayRecords.filter((record) => record.type === 'permit' && within(record.startMs)) as {
        startMs: number;
        endMs: number;
      }[],
    ),
    bulkheadCap: settings.bulkheadCap,
    leadersElected: terms
      .filter((term) => term.startMs < toMs && term.endMs >= fromMs)
      .map((term) => ({
        instance: term.instance,
        fencingToken: term.fencingToken,
        atS: seconds(term.startMs - run.runStartMs),
      })),
    latencyMs: {
      p50: Math.round(
        quantile(
          calls.map((call) => call.latencyMs),
          0.5,
        ),
      ),
      p99: Math.round(
        quantile(
          calls.map((call) => call.latencyMs),
          0.99,
        ),
      ),
    },
  };
  return { ...base, checks: phaseChecks(phase, base, run, { fromMs, toMs }, terms) };
}

/** The report of a run. */
export function analyze(run: RunRecords): PixiReport {
  const terms = termsOf(run.gatewayRecords, run.kills, run.runEndMs);
  const invariants = [
    noOverAdmission(run.gatewayRecords, run.settings),
    breakersAgree(run),
    probesWithinPermitted(run, terms),
    concurrencyWithinCap(run),
    oneLeaderAtATime(terms),
  ];
  const phases = run.phases.map((phase) => phaseReport(run, phase, terms));
  return {
    mode: run.mode,
    instances: run.instances,
    durationS: seconds(run.runEndMs - run.runStartMs),
    settings: run.settings,
    phases,
    invariants,
    passed: invariants.every((invariant) => invariant.holds),
    phasesShown: phases.every((phase) => phase.checks.every((check) => check.holds)),
  };
}
