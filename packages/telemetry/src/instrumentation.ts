import type { Policy, PolicyKind } from '@hyx/local';

/**
 * Options every backend's `instrument` accepts.
 *
 * @example
 * ```ts
 * import type { InstrumentOptions } from '@hyx/telemetry';
 * const options: InstrumentOptions = { durations: ({ kind }) => kind !== 'circuit-breaker' };
 * ```
 */
export interface InstrumentOptions {
  /**
   * Which policies' execution durations are recorded: `true` for all, `false` for none,
   * `'outermost'` for the outermost policy of an instrumented pipeline only (its duration is the
   * whole call's, retries and waits included; a single policy is its own outermost), or a predicate
   * asked once per policy. Events are counted either way.
   *
   * @defaultValue true (`'outermost'` on OpenTelemetry without a `durationProducer`, where each
   *   duration costs an SDK call)
   */
  readonly durations?: DurationSelection | undefined;
  /**
   * The most series one instrumentation creates; measurements of further series are dropped with one
   * warning. Labels are bounded by construction, so reaching it means a policy name is generated.
   *
   * @defaultValue 2000
   */
  readonly maxSeries?: number | undefined;
  /**
   * Called when the metrics backend throws while recording. The call's outcome is never affected.
   * By default the first such error is reported once as a process warning.
   */
  readonly onError?: ((error: unknown) => void) | undefined;
}

/**
 * Which policies' execution durations an instrumentation records (see {@link InstrumentOptions}).
 *
 * @example
 * ```ts
 * import type { DurationSelection } from '@hyx/telemetry';
 * const onlyRetries: DurationSelection = ({ kind }) => kind === 'retry';
 * ```
 */
export type DurationSelection =
  boolean | 'outermost' | ((policy: { readonly kind: PolicyKind; readonly name: string }) => boolean);

/**
 * The frozen defaults of {@link InstrumentOptions}.
 *
 * @example
 * ```ts
 * import { INSTRUMENT_DEFAULTS } from '@hyx/telemetry';
 * console.log(INSTRUMENT_DEFAULTS.maxSeries); // 2000
 * ```
 */
export const INSTRUMENT_DEFAULTS = Object.freeze({ durations: true, maxSeries: 2000 } as const);

/**
 * What `instrument` returns: the policy to call (the same object unless the adapter wraps it, as
 * OpenTelemetry does for attempt spans) and `detach`, which stops recording.
 *
 * @example
 * ```ts
 * import { fallback } from '@hyx/local';
 * import { instrument } from '@hyx/telemetry/prometheus';
 * const { policy, detach } = instrument(fallback({ value: 0 }));
 * await policy.execute(() => 1);
 * detach();
 * ```
 */
export interface Instrumentation<TAlt> {
  /** The instrumented policy: call it instead of the one passed in. */
  readonly policy: Policy<TAlt>;
  /** Stops recording; later events are ignored. Calling it again does nothing. */
  readonly detach: () => void;
}
