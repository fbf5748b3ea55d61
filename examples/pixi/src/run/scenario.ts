/**
 * The scenario: five phases, each with a share of the run's duration, a request rate (relative to
 * the shared limit), how the inventory behaves, and what happens during it. Pure data: the run
 * (run-pixi.ts) carries it out and the report (report/analyze.ts) judges it.
 */
import type { InventoryBehaviour } from '../inventory/inventory-app.js';
import { sharedLimitPerWindow, type PixiSettings } from '../settings.js';

/** The phases, in the order they run. */
export const PHASE_NAMES = ['steady', 'surge', 'outage', 'recovery', 'leader-crash'] as const;

/** One phase's name. */
export type PhaseName = (typeof PHASE_NAMES)[number];

/** Something the run does at a point of a phase (a share of its duration, 0..1). */
interface PhaseAction {
  readonly at: number;
  readonly action: 'crash-leader' | 'inventory';
  /** For `inventory`: how it behaves from then on. */
  readonly behaviour?: InventoryBehaviour;
}

/** A phase as planned. */
interface PhasePlan {
  readonly name: PhaseName;
  /** What the phase shows, in one line. */
  readonly purpose: string;
  /** Its share of the run's duration. */
  readonly weight: number;
  /** Requests per second, as a multiple of the shared limit per second. */
  readonly loadFactor: number;
  /** The shortest the phase can be and still show its effect at these settings, in ms. */
  readonly minimumMs: number;
  /** Gateway instances the phase needs (a leader crash needs someone to take over). */
  readonly minimumInstances: number;
  readonly actions: readonly PhaseAction[];
}

/** A phase as scheduled, in ms since the run began. */
export interface ScheduledPhase extends PhasePlan {
  readonly startMs: number;
  readonly endMs: number;
  /** Requests per second. */
  readonly ratePerSecond: number;
}

function plans(settings: PixiSettings): Record<PhaseName, PhasePlan> {
  const healthy: InventoryBehaviour = { errorRate: 0, latencyMs: settings.inventoryLatencyMs };
  const failing: InventoryBehaviour = { errorRate: 1, latencyMs: settings.inventoryLatencyMs };
  const limitPerSecond = (sharedLimitPerWindow(settings) * 1000) / settings.windowMs;
  const outageMinimumMs =
    Math.ceil((2 * settings.breakerMinimumCalls * 1000) / (0.6 * limitPerSecond)) + settings.halfOpenAfterMs;
  // The leader dies at 20 % of the phase; a successor is elected within a lease and a retry
  // (at most half a lease more); it then needs two half-open waits to probe and close the
  // breaker, which heals at 45 %: the phase must hold all of that after the kill.
  const takeoverMs = 1.5 * settings.leaderLeaseMs + 2 * settings.halfOpenAfterMs;
  const leaderCrashMinimumMs = Math.ceil(Math.max(takeoverMs / 0.8, (2 * settings.halfOpenAfterMs) / 0.55));
  return {
    steady: {
      name: 'steady',
      purpose: 'traffic well under the shared limit: everything is admitted and answered',
      weight: 0.15,
      loadFactor: 0.6,
      minimumMs: 2 * settings.windowMs,
      minimumInstances: 1,
      actions: [{ at: 0, action: 'inventory', behaviour: healthy }],
    },
    surge: {
      name: 'surge',
      purpose: '3x the shared limit over all instances and keys: the excess is refused cluster-wide',
      weight: 0.2,
      loadFactor: 3,
      minimumMs: 2 * settings.windowMs,
      minimumInstances: 1,
      actions: [{ at: 0, action: 'inventory', behaviour: healthy }],
    },
    outage: {
      name: 'outage',
      purpose: 'the inventory fails: the breaker opens for every instance, answers come from the cache',
      weight: 0.2,
      loadFactor: 0.6,
      // Enough calls to fill the breaker's minimum at 0.6x the limit, twice over.
      minimumMs: outageMinimumMs,
      minimumInstances: 1,
      actions: [{ at: 0, action: 'inventory', behaviour: failing }],
    },
    recovery: {
      name: 'recovery',
      purpose: "the inventory heals: the leader's health check closes the breaker for everyone",
      weight: 0.2,
      loadFactor: 0.6,
      // The next health check comes within the half-open wait; one more for a failed first one.
      minimumMs: 3 * settings.halfOpenAfterMs,
      minimumInstances: 1,
      actions: [{ at: 0, action: 'inventory', behaviour: healthy }],
    },
    'leader-crash': {
      name: 'leader-crash',
      purpose: 'the inventory fails, the recovery leader is killed, another takes over and recovers',
      weight: 0.25,
      loadFactor: 0.6,
      minimumMs: leaderCrashMinimumMs,
      minimumInstances: 2,
      actions: [
        { at: 0, action: 'inventory', behaviour: failing },
        { at: 0.2, action: 'crash-leader' },
        { at: 0.45, action: 'inventory', behaviour: healthy },
      ],
    },
  };
}

/**
 * The shortest run of `names` in which every phase can show its effect (each phase gets its
 * weight's share), in whole seconds.
 */
export function minimumDurationS(names: readonly PhaseName[], settings: PixiSettings): number {
  const all = plans(settings);
  const totalWeight = names.reduce((sum, name) => sum + all[name].weight, 0);
  const neededMs = Math.max(
    0,
    ...names.map((name) => (all[name].minimumMs * totalWeight) / all[name].weight),
  );
  return Math.ceil(neededMs / 1000);
}

/** The instances `names` need: more than one when a leader is killed and must be replaced. */
export function minimumInstances(names: readonly PhaseName[], settings: PixiSettings): number {
  const all = plans(settings);
  return Math.max(1, ...names.map((name) => all[name].minimumInstances));
}

/**
 * The first `recovery` in `names` with nothing to recover from: the phase before it left the
 * inventory healthy, so the breaker is closed when it starts and its check could only fail. Only
 * `outage` leaves the inventory failing (a leader crash heals it itself).
 */
export function recoveryWithoutOutage(
  names: readonly PhaseName[],
  settings: PixiSettings,
): PhaseName | undefined {
  const all = plans(settings);
  let isFailing = false;
  for (const name of names) {
    if (name === 'recovery' && !isFailing) return name;
    for (const action of all[name].actions) {
      if (action.behaviour !== undefined) isFailing = action.behaviour.errorRate > 0;
    }
  }
  return undefined;
}

/** Schedules `names` (in the given order) over `durationMs`, sharing it by weight. */
export function schedule(
  names: readonly PhaseName[],
  durationMs: number,
  settings: PixiSettings,
): readonly ScheduledPhase[] {
  const all = plans(settings);
  const chosen = names.map((name) => all[name]);
  const totalWeight = chosen.reduce((sum, plan) => sum + plan.weight, 0);
  const limitPerSecond = (sharedLimitPerWindow(settings) * 1000) / settings.windowMs;
  let startMs = 0;
  return chosen.map((plan) => {
    const lengthMs = Math.round((durationMs * plan.weight) / totalWeight);
    const phase: ScheduledPhase = {
      ...plan,
      startMs,
      endMs: startMs + lengthMs,
      ratePerSecond: plan.loadFactor * limitPerSecond,
    };
    startMs += lengthMs;
    return phase;
  });
}
