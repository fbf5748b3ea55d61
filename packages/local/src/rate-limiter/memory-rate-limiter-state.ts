import type { Clock } from '../clock/clock.js';
import type { AlgorithmConfig, RateLimitAlgorithm } from './algorithms/rate-limit-algorithm.js';
import { rateLimitAlgorithms } from './algorithms/rate-limit-algorithms.js';
import type {
  RateLimitRefundRequest,
  RateLimitStateDecision,
  RateLimitStateRequest,
  RateLimiterConfig,
  RateLimiterState,
} from './rate-limiter-state.js';

/**
 * The in-process {@link RateLimiterState}, with a way to see how many keys it holds.
 *
 * @example
 * ```ts
 * import { deriveAlgorithmConfig, memoryRateLimiterState, systemClock } from '@hyx/local';
 * const config = deriveAlgorithmConfig({ algorithm: 'fixed-window', limit: 10, intervalMs: 1000 });
 * const state = memoryRateLimiterState({ ...config, name: 'api', algorithm: 'fixed-window', maxKeys: 10, clock: systemClock });
 * state.tryAcquire({ key: 'a', cost: 1 });
 * console.log(state.size); // 1
 * ```
 */
export interface MemoryRateLimiterState extends RateLimiterState {
  tryAcquire(request: RateLimitStateRequest): RateLimitStateDecision;
  refund(request: RateLimitRefundRequest): void;
  /** Keys held now, expired ones not yet reclaimed included. */
  readonly size: number;
}

/** One key's state and the time from which it is the same as no state. */
interface KeyEntry {
  state: unknown;
  expiresAtMs: number;
  /** Set on every use, cleared when the sweep passes: the "second chance" of a CLOCK cache. */
  isRecentlyUsed: boolean;
}

/**
 * How many keys at the old end each new key looks at: expired ones are dropped, live ones move to
 * the new end. Reclaiming is thus spread over inserts, and every key is looked at again after about
 * `size / SWEEP_STEPS_PER_INSERT` new keys.
 */
const SWEEP_STEPS_PER_INSERT = 2;

class MemoryState implements MemoryRateLimiterState {
  // Insertion order is the sweep order. A used key only sets a flag (no Map reordering on the hot
  // path); the sweep moves live keys to the new end, so the old end holds the least recently seen.
  readonly #entries = new Map<string, KeyEntry>();
  /**
   * Where the sweep goes on. Every key it passes is deleted (and, if live, set again at the new
   * end), so its next entry is always the old end of the map. A fresh iterator per sweep would do
   * the same but start over the holes deleted entries leave until the map compacts, which made a
   * churning map (10,000 keys) spend most of its time skipping them. Map iterators are live: they
   * see later inserts and skip deleted entries, and once done they stay done, so a done one is
   * replaced.
   */
  #cursor: MapIterator<[string, KeyEntry]> | undefined;
  readonly #algorithm: RateLimitAlgorithm<unknown>;
  readonly #config: AlgorithmConfig;
  readonly #maxKeys: number;
  readonly #clock: Clock;

  constructor(config: RateLimiterConfig) {
    this.#algorithm = rateLimitAlgorithms[config.algorithm];
    this.#config = config;
    this.#maxKeys = config.maxKeys;
    this.#clock = config.clock;
  }

  get size(): number {
    return this.#entries.size;
  }

  tryAcquire(request: RateLimitStateRequest): RateLimitStateDecision {
    const nowMs = request.nowMs ?? Math.floor(this.#clock.now());
    const key = request.key;
    const entry = this.#entries.get(key);
    // Expiry is read from time here, never from a timer: an expired state is simply no state.
    const current = entry !== undefined && nowMs < entry.expiresAtMs ? entry.state : undefined;
    const step = this.#algorithm.decide(current, request.cost, nowMs, this.#config, request.maxDelayMs ?? 0);
    // A denied decision leaves the state as it was: nothing to store. (Compare by decision, not by
    // object: the sliding-window log updates its arrays in place and returns the same object.)
    if (step.decision.allowed || current === undefined) this.#store(key, entry, step.state, nowMs);
    else if (entry !== undefined) entry.isRecentlyUsed = true;
    return step.decision;
  }

  refund(request: RateLimitRefundRequest): void {
    const nowMs = request.nowMs ?? Math.floor(this.#clock.now());
    const entry = this.#entries.get(request.key);
    if (entry === undefined || nowMs >= entry.expiresAtMs) return;
    this.#store(
      request.key,
      entry,
      this.#algorithm.refund(entry.state, request.cost, nowMs, this.#config),
      nowMs,
      true,
    );
  }

  /** `isForgotten`: drop a key whose state is back to none at once (a refund made it idle). */
  #store(key: string, entry: KeyEntry | undefined, state: unknown, nowMs: number, isForgotten = false): void {
    const expiresAtMs = this.#algorithm.expiresAtMs(state, this.#config);
    if (entry !== undefined && isForgotten && expiresAtMs <= nowMs) {
      this.#entries.delete(key);
      return;
    }
    if (entry !== undefined) {
      // A decision updates in place even when the state is already the same as none (a cost that
      // refills within the millisecond): it then reads as no state, and the sweep reclaims it.
      // Deleting it here would make a key in use re-insert itself on every call, and a Map delete
      // plus set costs about ten times a lookup.
      entry.state = state;
      entry.expiresAtMs = expiresAtMs;
      entry.isRecentlyUsed = true;
      return;
    }
    // The state is already the same as none: nothing worth keeping.
    if (expiresAtMs <= nowMs) return;
    this.#sweep(nowMs, SWEEP_STEPS_PER_INSERT);
    // Full: evict expired keys, then keys not used since the eviction hand last passed them. The
    // hand clears the flags it meets, so the loop ends within two rounds of the map.
    while (this.#entries.size >= this.#maxKeys) this.#sweep(nowMs, 1, true);
    this.#entries.set(key, { state, expiresAtMs, isRecentlyUsed: false });
  }

  /**
   * Looks at `steps` keys at the old end and drops the expired ones. Live keys move to the new end;
   * when `isFull` (the eviction hand of a CLOCK cache) a live key not used since the hand last
   * passed is dropped too, and a used one loses its flag. Only the hand clears flags, so the sweep
   * for expired keys never erases what eviction needs to know.
   */
  #sweep(nowMs: number, steps: number, isFull = false): void {
    for (let step = 0; step < steps; step++) {
      let next = this.#cursor?.next();
      if (next === undefined || next.done === true) {
        this.#cursor = this.#entries.entries();
        next = this.#cursor.next();
        if (next.done === true) return;
      }
      const [key, entry] = next.value;
      this.#entries.delete(key);
      if (nowMs >= entry.expiresAtMs) continue;
      if (isFull) {
        if (!entry.isRecentlyUsed) continue;
        entry.isRecentlyUsed = false;
      }
      this.#entries.set(key, entry);
    }
  }
}

/**
 * The default state of {@link rateLimiter}: per-key algorithm state in a bounded map. Expiry is
 * computed from time when a key is read, never from a timer; expired keys are reclaimed as new keys
 * arrive, and at most `config.maxKeys` keys are kept (keys not used for longest go first, as in a
 * CLOCK cache), so a stream of distinct keys does not grow memory without bound. Decisions are
 * synchronous.
 *
 * @example
 * ```ts
 * import { memoryRateLimiterState, rateLimiter } from '@hyx/local';
 * const limiter = rateLimiter({ limit: 5, intervalMs: 1000, state: memoryRateLimiterState });
 * ```
 */
export function memoryRateLimiterState(config: RateLimiterConfig): MemoryRateLimiterState {
  return new MemoryState(config);
}
