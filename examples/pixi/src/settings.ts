/**
 * The numbers every part of Pixi agrees on: the gateways configure their policies with them, the
 * load generator sizes its traffic by them, and the report checks the invariants against them.
 * They are sized for a laptop: a run must show every effect within a minute on two cores.
 */
export interface PixiSettings {
  /** The API keys the load generator spreads its requests over. */
  readonly apiKeys: readonly string[];
  /** Requests each API key may make per window, across all gateways together. */
  readonly limitPerKey: number;
  /** The fixed window of the shared rate limit, in ms. */
  readonly windowMs: number;
  /** Calls to the inventory in flight at once, across all gateways together. */
  readonly bulkheadCap: number;
  /** How long a caller may wait for a bulkhead permit, in ms. */
  readonly bulkheadQueueTimeoutMs: number;
  /** How long a gateway holds a bulkhead permit without renewing it (a crashed holder's permits come back after this). */
  readonly bulkheadLeaseMs: number;
  /** The breaker opens when at least this share of the last `breakerWindowCalls` calls failed. */
  readonly breakerFailureRate: number;
  /** The breaker's count window. */
  readonly breakerWindowCalls: number;
  /** Calls in the window before the breaker may decide. */
  readonly breakerMinimumCalls: number;
  /** How long the breaker stays open before the recovery leader's health check, in ms. */
  readonly halfOpenAfterMs: number;
  /** Health checks that may run at once, cluster-wide. */
  readonly permittedHalfOpenCalls: number;
  /** The recovery leader's term without renewal, in ms: a dead leader is replaced after this. */
  readonly leaderLeaseMs: number;
  /** The deadline each attempt at the inventory gets, in ms. */
  readonly attemptTimeoutMs: number;
  /** The budget the load generator gives each request (`hyx-timeout-ms`), in ms. */
  readonly requestBudgetMs: number;
  /** Attempts per request at most (the retry budget may allow fewer). */
  readonly maxAttempts: number;
  /** The inventory's answer time when healthy, in ms. */
  readonly inventoryLatencyMs: number;
  /**
   * How soon every breaker must know of a transition another instance made, in ms: the pub/sub
   * promise of `subscribe: true` (docs/distributed.md). The report adds the observer's own
   * event-loop delay, which no messaging can beat.
   */
  readonly breakerAgreementMs: number;
}

/** Pixi's settings. */
export const PIXI_SETTINGS: PixiSettings = Object.freeze({
  apiKeys: Object.freeze(['key-alpha', 'key-beta', 'key-gamma']),
  limitPerKey: 10,
  windowMs: 1_000,
  bulkheadCap: 4,
  bulkheadQueueTimeoutMs: 250,
  bulkheadLeaseMs: 2_000,
  breakerFailureRate: 0.5,
  breakerWindowCalls: 20,
  breakerMinimumCalls: 10,
  halfOpenAfterMs: 1_000,
  permittedHalfOpenCalls: 1,
  leaderLeaseMs: 2_000,
  attemptTimeoutMs: 250,
  requestBudgetMs: 1_000,
  maxAttempts: 3,
  inventoryLatencyMs: 20,
  breakerAgreementMs: 50,
});

/** The cluster-wide number of requests the shared limit admits per window, all keys together. */
export function sharedLimitPerWindow(settings: PixiSettings): number {
  return settings.limitPerKey * settings.apiKeys.length;
}
