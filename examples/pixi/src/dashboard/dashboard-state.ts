/**
 * What the dashboard page shows, as `GET /api/state` serves it: built by the run from the records
 * (dashboard/timeline.ts), drawn by the page (dashboard/static/). Times are ms since the run began.
 */

/** A breaker state as a number the charts can plot: 0 closed, 1 half-open, 2 open; `null` when the instance is down. */
export type PlottedBreakerState = 0 | 1 | 2 | null;

/** A phase of the scenario. */
export interface DashboardPhase {
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** A verdict on one invariant (present once the run has finished). */
export interface DashboardInvariant {
  readonly name: string;
  readonly holds: boolean;
  readonly detail: string;
}

/** Per-bucket series, all of the same length as `t`. */
interface DashboardSeries {
  /** The start of each bucket. */
  readonly t: readonly number[];
  /** Requests the shared rate limit admitted, per instance. */
  readonly admittedByInstance: Readonly<Record<string, readonly number[]>>;
  /** Requests the shared rate limit admitted, all instances. */
  readonly admittedTotal: readonly number[];
  /**
   * The cluster-wide admitted count of the limiter window the bucket lies in (the fuller one, when
   * it overlaps two). A fixed window admits its whole quota as early as the requests come, so a
   * bucket may hold more than `limitPerBucket` while no window ever holds more than
   * `limitPerWindow`: this is the series to hold against that line.
   */
  readonly admittedInWindow?: readonly number[];
  /** Requests answered 429 (rate limited). */
  readonly rateLimited: readonly number[];
  /** Requests answered from the cache (`stale`), or failed (5xx, no answer). */
  readonly degraded: readonly number[];
  /** Each instance's breaker state at the end of the bucket. */
  readonly breakerByInstance: Readonly<Record<string, readonly PlottedBreakerState[]>>;
  /** Health checks started in the bucket, cluster-wide. */
  readonly probes: readonly number[];
  /** The most bulkhead permits held at once in the bucket, cluster-wide. */
  readonly inFlightMax: readonly number[];
}

/** The whole dashboard state. */
export interface DashboardState {
  readonly mode: 'redis' | 'in-process';
  readonly instances: readonly string[];
  readonly phases: readonly DashboardPhase[];
  /** The phase running now, `undefined` before the first and after the last. */
  readonly currentPhase: string | undefined;
  readonly elapsedMs: number;
  readonly finished: boolean;
  readonly bucketMs: number;
  /** The shared limit per bucket, all keys together (the "limit" line of the admitted chart). */
  readonly limitPerBucket: number;
  /** The shared limit per limiter window, all keys together (the line `admittedInWindow` stays under). */
  readonly limitPerWindow?: number;
  /** The limiter's window, in ms. */
  readonly windowMs?: number;
  /** The bulkhead's cluster-wide cap (the "cap" line of the in-flight chart). */
  readonly bulkheadCap: number;
  readonly permittedHalfOpenCalls: number;
  readonly series: DashboardSeries;
  /** The recovery leader now, if any. */
  readonly leader: { readonly instance: string; readonly fencingToken: string } | undefined;
  /** Every term so far, oldest first. */
  readonly leaderTerms: readonly {
    readonly instance: string;
    readonly fencingToken: string;
    readonly startMs: number;
    /** When the term ended (`lost`, or the leader was killed); absent while it lasts. */
    readonly endMs?: number;
  }[];
  /** Instances the scenario killed, and when. */
  readonly kills?: readonly { readonly instance: string; readonly atMs: number }[];
  /** The verdicts, once the run has finished. */
  readonly invariants: readonly DashboardInvariant[] | undefined;
  /** Whether each phase showed its effect (`phase: check` names), once the run has finished. */
  readonly phaseChecks?: readonly DashboardInvariant[] | undefined;
}
