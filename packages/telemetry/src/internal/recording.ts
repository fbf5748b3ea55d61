import type { CircuitState, Policy, PolicyKind, ResilienceEvent } from '@hyx/local';

import { INSTRUMENT_DEFAULTS, type DurationSelection, type InstrumentOptions } from '../instrumentation.js';
import type { Measurement } from '../measurements/measurement.js';
import { circuitStateMeasurements } from '../measurements/measurements-of.js';
import { SeriesStore, type SeriesStoreOptions } from './series-store.js';

/**
 * The error reporter of one instrumentation: the user's `onError`, or one process warning.
 *
 * @internal
 */
export function errorReporter(
  options: InstrumentOptions | undefined,
  backend: string,
): (error: unknown) => void {
  const onError = options?.onError;
  if (onError !== undefined) {
    return (error) => {
      try {
        onError(error);
      } catch {
        // The reporter itself failed; nothing is left to tell, and the call must not notice.
      }
    };
  }
  let hasWarned = false;
  return (error) => {
    if (hasWarned) return;
    hasWarned = true;
    const detail = error instanceof Error ? error.message : String(error);
    process.emitWarning(
      `hyx telemetry: the ${backend} backend threw and was ignored: ${detail}`,
      'HyxTelemetryWarning',
    );
  };
}

/**
 * The {@link SeriesStore} of one instrumentation of `policy`, with the options every backend shares.
 * `defaultDurations` is the backend's choice when the user makes none.
 *
 * @internal
 */
export function createStore<TExported>(
  policy: Policy<unknown>,
  options: InstrumentOptions | undefined,
  backend: Pick<SeriesStoreOptions<TExported>, 'exportLabels' | 'bucketBounds' | 'onRecord' | 'isPushed'>,
  reportError: (error: unknown) => void,
  defaultDurations: DurationSelection = INSTRUMENT_DEFAULTS.durations,
): SeriesStore<TExported> {
  const durations = durationFilterOf(policy, options?.durations ?? defaultDurations);
  const maxSeries = options?.maxSeries ?? INSTRUMENT_DEFAULTS.maxSeries;
  if (!Number.isInteger(maxSeries) || maxSeries < 1) {
    throw new RangeError(`instrument: maxSeries must be an integer >= 1, got ${maxSeries}`);
  }
  return new SeriesStore<TExported>({
    ...backend,
    maxSeries,
    isRecorded:
      durations === true
        ? undefined
        : (measurement: Measurement) =>
            measurement.instrument !== 'execution.duration' ||
            (durations !== false &&
              durations({ kind: measurement.labels.policyKind, name: measurement.labels.policyName })),
    onOverflow: () => {
      reportError(new RangeError(`more than ${maxSeries} series; measurements of new series are dropped`));
    },
  });
}

/** `selection` as a predicate, `true` meaning all; `'outermost'` resolved against `policy`. */
function durationFilterOf(
  policy: Policy<unknown>,
  selection: DurationSelection,
): boolean | ((policy: { readonly kind: PolicyKind; readonly name: string }) => boolean) {
  if (selection !== 'outermost') return selection;
  const outermost = outermostOf(policy);
  return ({ kind, name }) => kind === outermost.kind && name === outermost.name;
}

/**
 * The policy whose events describe the whole call: the first part of a pipeline (of a nested
 * pipeline, its first part), or `policy` itself. A pipeline emits nothing of its own; it exposes
 * its parts as `policies`, read here by shape as the gauges' seeds are.
 */
function outermostOf(policy: Policy<unknown>): Policy<unknown> {
  const { policies } = policy as { readonly policies?: unknown };
  if (policy.kind !== 'pipeline' || !Array.isArray(policies)) return policy;
  const first: unknown = policies[0];
  return isPolicy(first) ? outermostOf(first) : policy;
}

function isPolicy(value: unknown): value is Policy<unknown> {
  return typeof (value as Partial<Policy<unknown>> | undefined)?.onEvent === 'function';
}

/**
 * Subscribes a recorder to each policy that emits `policy`'s events: the parts of a pipeline one by
 * one (so each recorder knows its source without looking it up per event), or `policy` itself.
 * `recorderOf` makes the recorder of one part. Whatever a recorder throws goes to `reportError`: a
 * metrics backend never changes a call's outcome, and the policy's event hub never sees our failure.
 *
 * @internal
 */
export function subscribeGuarded(
  policy: Policy<unknown>,
  recorderOf: (part: Policy<unknown>) => (event: ResilienceEvent) => void,
  reportError: (error: unknown) => void,
): () => void {
  const unsubscribes = emittersOf(policy).map((part) => {
    const record = recorderOf(part);
    return part.onEvent((event) => {
      try {
        record(event);
      } catch (error) {
        reportError(error);
      }
    });
  });
  return () => {
    for (const unsubscribe of unsubscribes) unsubscribe();
  };
}

/**
 * The policies whose events `policy.onEvent` delivers: the leaves of a pipeline (read by shape,
 * see {@link outermostOf}), or `policy` itself.
 */
function emittersOf(policy: Policy<unknown>): Policy<unknown>[] {
  const { policies } = policy as { readonly policies?: unknown };
  if (policy.kind !== 'pipeline' || !Array.isArray(policies) || !policies.every(isPolicy)) return [policy];
  return policies.flatMap((part) => emittersOf(part));
}

/**
 * The measurements a policy stands for before it emits anything: a circuit breaker's current state
 * and a bulkhead's levels, so their gauges exist from the start rather than from the first event.
 * Only the instrumented policy itself is seen; the parts of a pipeline show up with their events.
 *
 * @internal
 */
export function initialMeasurementsOf(policy: Policy<unknown>): Measurement[] {
  const { kind: policyKind, name: policyName } = policy;
  if (policyKind === 'circuit-breaker') {
    const state: unknown = (policy as { readonly state?: unknown }).state;
    return isCircuitState(state) ? circuitStateMeasurements(policyKind, policyName, state) : [];
  }
  if (policyKind === 'bulkhead') {
    const { inFlight, queued } = policy as { readonly inFlight?: unknown; readonly queued?: unknown };
    if (typeof inFlight !== 'number' || typeof queued !== 'number') return [];
    return [
      { instrument: 'bulkhead.in_flight', value: inFlight, labels: { policyKind, policyName } },
      { instrument: 'bulkhead.queued', value: queued, labels: { policyKind, policyName } },
    ];
  }
  return [];
}

function isCircuitState(value: unknown): value is CircuitState {
  return value === 'closed' || value === 'open' || value === 'half-open' || value === 'isolated';
}
