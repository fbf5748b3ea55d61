/**
 * What the gateways, the inventory and the load generator write down while Pixi runs. Every
 * verdict in the report is computed from these records alone (report/analyze.ts), so each one is
 * written where the fact is known first-hand, with the wall clock of the machine (all processes
 * share it: loopback, or containers on one host).
 *
 * Intervals are recorded conservatively: a permit's `startMs` is taken after the bulkhead granted
 * it and `endMs` before it is given back, so a recorded interval lies inside the real one and an
 * overlap of recorded intervals is a real overlap.
 */

/** The state of one instance's breaker, as the dashboard plots it. */
export type BreakerState = 'closed' | 'half-open' | 'open' | 'isolated';

/** A rate-limit decision taken at a gateway, in the fixed window it counted in. */
export interface DecisionRecord {
  readonly type: 'decision';
  readonly instance: string;
  readonly atMs: number;
  readonly apiKey: string;
  readonly allowed: boolean;
  /**
   * The index of the fixed window the decision counted in (its end / `windowMs`), or `null` when
   * the gateway cannot tell: windows are aligned to the epoch, so the end is the one multiple of
   * `windowMs` between send + `resetAfterMs` and reply + `resetAfterMs`; after a stall as long as
   * a window there may be two, and such a decision is not counted either way.
   */
  readonly window: number | null;
  /** Which path decided: Redis, or the limiter's fallback while Redis was down. */
  readonly source: 'redis' | 'fallback' | 'local';
}

/** A bulkhead permit held while calling the inventory (the interval lies inside the real hold). */
export interface PermitRecord {
  readonly type: 'permit';
  readonly instance: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** A breaker state change this instance made (`local`) or learned of (`observed`). */
export interface BreakerRecord {
  readonly type: 'breaker';
  readonly instance: string;
  readonly atMs: number;
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly cause: 'local' | 'observed';
  readonly reason: string;
}

/** A term of the recovery leader election began or ended at this instance. */
export interface LeaderRecord {
  readonly type: 'leader';
  readonly instance: string;
  readonly atMs: number;
  readonly event: 'elected' | 'lost';
  readonly fencingToken: string;
}

/** A health check the breaker ran against the inventory from this instance. */
export interface ProbeRecord {
  readonly type: 'probe';
  readonly instance: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly healthy: boolean;
  readonly fencingToken: string;
}

/**
 * How late this instance's event loop ran in the second before `atMs`: no message can be handled
 * sooner than the loop gets to it, so the breaker agreement bound allows for it.
 */
interface LagRecord {
  readonly type: 'lag';
  readonly instance: string;
  readonly atMs: number;
  readonly maxDelayMs: number;
}

/** Everything a gateway records. */
export type GatewayRecord =
  DecisionRecord | PermitRecord | BreakerRecord | LeaderRecord | ProbeRecord | LagRecord;

/** One request of the load generator, as its client saw it. */
export interface CallRecord {
  readonly instance: string;
  readonly apiKey: string;
  readonly startMs: number;
  readonly latencyMs: number;
  /** The HTTP status, or 0 when no answer came (connection refused, reset, client timeout). */
  readonly status: number;
  /** The gateway answered from its cache because the inventory could not (`stale: true`). */
  readonly stale: boolean;
}

/** A health check request as the inventory received it. */
export interface InventoryProbe {
  readonly startMs: number;
  readonly endMs: number;
  readonly instance: string;
  readonly fencingToken: string;
}

/** The process of an instance was killed by the scenario (its records end there). */
export interface KillRecord {
  readonly instance: string;
  readonly atMs: number;
}

/** A page of a gateway's records, from `GET /pixi/records?after=<next of the previous page>`. */
export interface RecordPage {
  readonly records: readonly GatewayRecord[];
  readonly next: number;
}
