import { z } from 'zod';

import type { Clock } from '../clock/clock.js';
import { MAX_TIMER_DELAY_MS, systemClock } from '../clock/clock.js';
import type { ExecutionContext } from '../policy/policy.js';
import {
  clockSchema,
  durationMsSchema,
  functionSchema,
  nonNegativeIntSchema,
  policyNameSchema,
  positiveDurationMsSchema,
} from '../options/option-schemas.js';
import { factoryOf, parseOptions } from '../options/parse-options.js';
import type {
  CircuitBreakerSettings,
  CircuitBreakerSnapshot,
  CircuitBreakerStateProvider,
  CircuitWindow,
} from './circuit-breaker-state.js';
import { memoryCircuitBreakerState } from './memory-circuit-breaker-state.js';

/**
 * How a breaker treats calls:
 * - `normal`: measure, open, probe, close.
 * - `metricsOnly`: measure every call but never open by itself (isolate still works); read the
 *   figures with `getMetrics()`. For trying thresholds out on live traffic.
 * - `disabled`: run every call, record nothing.
 *
 * @example
 * ```ts
 * import { circuitBreaker, type CircuitBreakerMode } from '@hyx/local';
 * const mode: CircuitBreakerMode = process.env.BREAKER_DRY_RUN ? 'metricsOnly' : 'normal';
 * const breaker = circuitBreaker({ mode });
 * ```
 */
export type CircuitBreakerMode = 'normal' | 'metricsOnly' | 'disabled';

/**
 * Options of `circuitBreaker`. See docs/policies/circuit-breaker.md for the full semantics.
 *
 * @example
 * ```ts
 * import { circuitBreaker } from '@hyx/local';
 * const breaker = circuitBreaker({
 *   name: 'payments',
 *   window: { kind: 'timeWindow', durationMs: 10_000, buckets: 10 },
 *   failureRate: 0.5,
 *   minimumCalls: 20,
 *   halfOpenAfterMs: (opens) => Math.min(1000 * 2 ** opens, 60_000),
 * });
 * ```
 */
export interface CircuitBreakerOptions {
  /**
   * Which recent calls the thresholds look at.
   * @defaultValue `{ kind: 'countWindow', size: 100 }`
   */
  readonly window?: CircuitWindow | undefined;
  /**
   * Open when at least this share of the window's calls failed (0 < rate <= 1, compared with `>=`).
   * Not for the `consecutive` window.
   * @defaultValue `0.5` when no other threshold is set
   */
  readonly failureRate?: number | undefined;
  /**
   * Open when at least this many of the window's calls failed; for the `consecutive` window,
   * this many failures in a row.
   * @defaultValue `5` for the `consecutive` window, otherwise unset
   */
  readonly failureCount?: number | undefined;
  /**
   * Open when at least this share of the window's calls were slow (took `slowCallDurationMs` or
   * longer, whether they succeeded or not). Not for the `consecutive` window.
   * @defaultValue unset
   */
  readonly slowCallRate?: number | undefined;
  /**
   * A call at least this long is slow.
   * @defaultValue `60_000`
   */
  readonly slowCallDurationMs?: number | undefined;
  /**
   * Calls the window must hold before a threshold is checked. Not for the `consecutive` window;
   * at most `window.size` for a `countWindow`.
   * @defaultValue `10` (or the count window's size, when smaller)
   */
  readonly minimumCalls?: number | undefined;
  /**
   * How long the breaker stays open before probing: a duration, or a function of how many times
   * in a row it has opened (1 for the first open), for growing waits. The function is called
   * once per n = 1..32 at construction; opens beyond the 32nd use its 32nd value.
   * @defaultValue `30_000`
   */
  readonly halfOpenAfterMs?: number | ((consecutiveOpens: number) => number) | undefined;
  /**
   * How many probe calls half-open lets through.
   * @defaultValue `1`
   */
  readonly permittedHalfOpenCalls?: number | undefined;
  /**
   * A half-open that has not decided after this long re-opens, so a probe that never settles
   * cannot leave the breaker stuck.
   * @defaultValue `60_000`
   */
  readonly maxHalfOpenWaitMs?: number | undefined;
  /**
   * A probe the breaker runs itself once the open time is over, instead of letting live calls
   * probe. Resolving counts as a successful probe, rejecting (or outliving the half-open
   * deadline) as a failed one. Live calls are refused until the breaker closes.
   * @defaultValue unset: live calls probe
   */
  readonly healthCheck?: ((context: ExecutionContext) => unknown) | undefined;
  /**
   * Which errors count as failures; others pass through without counting (and give a probe slot
   * back). The caller's own abort never counts.
   * @defaultValue every error
   */
  readonly shouldHandle?: ((error: unknown) => boolean) | undefined;
  /**
   * Which results count as failures, e.g. `(response) => response.status >= 500`.
   * @defaultValue no result
   */
  readonly shouldHandleResult?: ((result: unknown) => boolean) | undefined;
  /** @defaultValue `'normal'` */
  readonly mode?: CircuitBreakerMode | undefined;
  /**
   * Where the circuits live.
   * @defaultValue `memoryCircuitBreakerState()`
   */
  readonly state?: CircuitBreakerStateProvider | undefined;
  /** @defaultValue `'circuit-breaker'` */
  readonly name?: string | undefined;
  /** @defaultValue {@link systemClock} */
  readonly clock?: Clock | undefined;
}

/**
 * The defaults of {@link CircuitBreakerOptions}.
 *
 * @example
 * ```ts
 * import { CIRCUIT_BREAKER_DEFAULTS } from '@hyx/local';
 * console.log(CIRCUIT_BREAKER_DEFAULTS.halfOpenAfterMs); // 30000
 * ```
 */
export const CIRCUIT_BREAKER_DEFAULTS = Object.freeze({
  name: 'circuit-breaker',
  window: Object.freeze({ kind: 'countWindow', size: 100 } as const),
  failureRate: 0.5,
  consecutiveFailureCount: 5,
  slowCallDurationMs: 60_000,
  minimumCalls: 10,
  halfOpenAfterMs: 30_000,
  permittedHalfOpenCalls: 1,
  maxHalfOpenWaitMs: 60_000,
  mode: 'normal',
  clock: systemClock,
  shouldHandle: (): boolean => true,
  shouldHandleResult: (): boolean => false,
});

/** How many opens in a row a `halfOpenAfterMs` function is asked about. */
const OPEN_DURATION_SCHEDULE_LENGTH = 32;

/** The largest count window and bucket count: bounds memory and the cost of one Redis step. */
const MAX_WINDOW_SLOTS = 100_000;

const rateSchema = z.number().gt(0).max(1);

/**
 * A whole number >= 1. Checked with a refinement so the message reads "must be an integer" (the
 * shared `positiveIntSchema` reports zod's "of type int").
 */
const wholeCountSchema = z.number().min(1).refine(Number.isInteger, { error: 'must be an integer' });

const windowSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('consecutive') }),
    z.strictObject({ kind: z.literal('countWindow'), size: wholeCountSchema.max(MAX_WINDOW_SLOTS) }),
    z.strictObject({
      kind: z.literal('timeWindow'),
      durationMs: wholeCountSchema.max(MAX_TIMER_DELAY_MS),
      buckets: wholeCountSchema.max(MAX_WINDOW_SLOTS),
    }),
  ],
  { error: 'must be one of "consecutive", "countWindow", "timeWindow"' },
);

const halfOpenAfterMsSchema = z.custom<number | ((consecutiveOpens: number) => number)>(
  (value) => typeof value === 'function' || durationMsSchema.safeParse(value).success,
  { error: `must be a duration in ms (0 to ${MAX_TIMER_DELAY_MS}) or a function of the opens in a row` },
);

/** @internal */
const circuitBreakerOptionsSchema = z
  .strictObject({
    window: windowSchema.default(() => CIRCUIT_BREAKER_DEFAULTS.window),
    failureRate: rateSchema.optional(),
    failureCount: wholeCountSchema.optional(),
    slowCallRate: rateSchema.optional(),
    slowCallDurationMs: positiveDurationMsSchema.optional(),
    minimumCalls: wholeCountSchema.optional(),
    halfOpenAfterMs: halfOpenAfterMsSchema.default(CIRCUIT_BREAKER_DEFAULTS.halfOpenAfterMs),
    permittedHalfOpenCalls: wholeCountSchema.default(CIRCUIT_BREAKER_DEFAULTS.permittedHalfOpenCalls),
    maxHalfOpenWaitMs: positiveDurationMsSchema.default(CIRCUIT_BREAKER_DEFAULTS.maxHalfOpenWaitMs),
    healthCheck: functionSchema<(context: ExecutionContext) => unknown>().optional(),
    shouldHandle: functionSchema<(error: unknown) => boolean>().default(
      () => CIRCUIT_BREAKER_DEFAULTS.shouldHandle,
    ),
    shouldHandleResult: functionSchema<(result: unknown) => boolean>().default(
      () => CIRCUIT_BREAKER_DEFAULTS.shouldHandleResult,
    ),
    mode: z.enum(['normal', 'metricsOnly', 'disabled']).default(CIRCUIT_BREAKER_DEFAULTS.mode),
    state: functionSchema<CircuitBreakerStateProvider>().optional(),
    name: policyNameSchema.default(CIRCUIT_BREAKER_DEFAULTS.name),
    clock: clockSchema.default(() => CIRCUIT_BREAKER_DEFAULTS.clock),
  })
  .superRefine((options, context) => {
    const window = options.window;
    if (window.kind === 'consecutive') {
      for (const option of ['failureRate', 'slowCallRate', 'slowCallDurationMs', 'minimumCalls'] as const) {
        if (options[option] !== undefined) {
          context.addIssue({
            code: 'custom',
            path: [option],
            message: 'does not apply to a consecutive window',
          });
          return;
        }
      }
    }
    if (
      window.kind === 'countWindow' &&
      options.minimumCalls !== undefined &&
      options.minimumCalls > window.size
    ) {
      context.addIssue({
        code: 'custom',
        path: ['minimumCalls'],
        message: `must be <= window.size (${window.size})`,
      });
    }
    if (window.kind === 'timeWindow' && window.durationMs % window.buckets !== 0) {
      context.addIssue({
        code: 'custom',
        path: ['window', 'durationMs'],
        message: `must be a multiple of window.buckets (${window.buckets})`,
      });
    }
  });

/**
 * The open durations for the n-th open in a row: the number itself, or the function's answers
 * for n = 1..32 with the repeated tail trimmed (so a Redis script gets a short list).
 */
function openDurationSchedule(
  label: string,
  halfOpenAfterMs: number | ((consecutiveOpens: number) => number),
): number[] {
  if (typeof halfOpenAfterMs === 'number') return [halfOpenAfterMs];
  const schedule: number[] = [];
  for (let opens = 1; opens <= OPEN_DURATION_SCHEDULE_LENGTH; opens++) {
    const durationMs = halfOpenAfterMs(opens);
    if (!durationMsSchema.safeParse(durationMs).success) {
      const message = `${label}: halfOpenAfterMs(${opens}) must return a duration in ms (0 to ${MAX_TIMER_DELAY_MS}), got ${typeof durationMs === 'string' ? JSON.stringify(durationMs) : String(durationMs)}`;
      throw typeof durationMs === 'number' ? new RangeError(message) : new TypeError(message);
    }
    schedule.push(durationMs);
  }
  while (schedule.length > 1 && schedule[schedule.length - 1] === schedule[schedule.length - 2])
    schedule.pop();
  return schedule;
}

/**
 * Validated options, split into what the state needs (`settings`) and what only the shell uses.
 *
 * @internal
 */
export interface ResolvedCircuitBreakerOptions {
  readonly settings: CircuitBreakerSettings;
  readonly mode: CircuitBreakerMode;
  readonly healthCheck: ((context: ExecutionContext) => unknown) | undefined;
  readonly shouldHandle: (error: unknown) => boolean;
  readonly shouldHandleResult: (result: unknown) => boolean;
  readonly stateProvider: CircuitBreakerStateProvider;
  readonly clock: Clock;
}

/**
 * Validates `options` once and fills in the defaults.
 *
 * @internal
 */
export function resolveCircuitBreakerOptions(
  options: CircuitBreakerOptions | undefined,
): ResolvedCircuitBreakerOptions {
  const parsed = parseOptions(
    'circuitBreaker',
    circuitBreakerOptionsSchema,
    options,
    CIRCUIT_BREAKER_DEFAULTS.name,
  );
  const window = parsed.window;
  const isConsecutive = window.kind === 'consecutive';
  const hasThreshold =
    parsed.failureRate !== undefined ||
    parsed.failureCount !== undefined ||
    parsed.slowCallRate !== undefined;
  const defaultMinimumCalls =
    window.kind === 'countWindow'
      ? Math.min(CIRCUIT_BREAKER_DEFAULTS.minimumCalls, window.size)
      : CIRCUIT_BREAKER_DEFAULTS.minimumCalls;
  const settings: CircuitBreakerSettings = Object.freeze({
    name: parsed.name,
    window: Object.freeze({ ...window }),
    failureRate: isConsecutive || hasThreshold ? parsed.failureRate : CIRCUIT_BREAKER_DEFAULTS.failureRate,
    failureCount:
      isConsecutive && parsed.failureCount === undefined
        ? CIRCUIT_BREAKER_DEFAULTS.consecutiveFailureCount
        : parsed.failureCount,
    slowCallRate: parsed.slowCallRate,
    slowCallDurationMs: parsed.slowCallDurationMs ?? CIRCUIT_BREAKER_DEFAULTS.slowCallDurationMs,
    minimumCalls: isConsecutive ? 1 : (parsed.minimumCalls ?? defaultMinimumCalls),
    openDurationsMs: Object.freeze(
      openDurationSchedule(
        `${factoryOf(options, 'circuitBreaker')} "${parsed.name}"`,
        parsed.halfOpenAfterMs,
      ),
    ),
    permittedHalfOpenCalls: parsed.permittedHalfOpenCalls,
    maxHalfOpenWaitMs: parsed.maxHalfOpenWaitMs,
    usesHealthCheck: parsed.healthCheck !== undefined && parsed.mode === 'normal',
    isMetricsOnly: parsed.mode === 'metricsOnly',
  });
  return {
    settings,
    mode: parsed.mode,
    healthCheck: settings.usesHealthCheck ? parsed.healthCheck : undefined,
    shouldHandle: parsed.shouldHandle,
    shouldHandleResult: parsed.shouldHandleResult,
    stateProvider: parsed.state ?? memoryCircuitBreakerState(),
    clock: parsed.clock,
  };
}

const countSchema = nonNegativeIntSchema;
const timeMsSchema = z.number().refine(Number.isFinite, { error: 'must be finite' });

/** @internal */
export const circuitBreakerSnapshotSchema: z.ZodType<CircuitBreakerSnapshot> = z.strictObject({
  version: z.literal(1),
  state: z.enum(['closed', 'open', 'half-open', 'isolated']),
  generation: countSchema,
  sinceMs: timeMsSchema,
  openUntilMs: timeMsSchema,
  consecutiveOpens: countSchema,
  isolations: countSchema,
  window: z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('consecutive'),
      calls: countSchema,
      failures: countSchema,
      slowCalls: countSchema,
    }),
    z.strictObject({
      kind: z.literal('countWindow'),
      outcomes: z.array(z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)])),
      next: countSchema,
      calls: countSchema,
      failures: countSchema,
      slowCalls: countSchema,
    }),
    z.strictObject({
      kind: z.literal('timeWindow'),
      headEpoch: z.number().int(),
      bucketCalls: z.array(countSchema),
      bucketFailures: z.array(countSchema),
      bucketSlowCalls: z.array(countSchema),
      calls: countSchema,
      failures: countSchema,
      slowCalls: countSchema,
    }),
  ]),
});
