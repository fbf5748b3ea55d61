import type { Clock } from '../clock/clock.js';
import { callSafely } from '../internal/abort.js';
import { type AbortSource, CallScope, abortSourceOf, inheritedAttempt } from '../internal/call-scope.js';
import { parseOptions } from '../options/parse-options.js';
import { BasePolicy } from '../policy/base-policy.js';
import type { ExecuteOptions, Policy, Work } from '../policy/policy.js';
import { type CacheOptions, cacheOptionsSchema } from './cache-options.js';

/**
 * A result cache: a {@link Policy} that answers calls with the same `key` from a stored result
 * while it is fresh, and lets concurrent calls with the same key share one execution.
 *
 * @example
 * ```ts
 * import { cache, type CachePolicy } from '@hyx/local';
 * const users: CachePolicy = cache({ ttlMs: 60_000 });
 * await users.execute(async () => ({ id: '42' }), { key: 'user:42' });
 * users.delete('user:42'); // the next call runs again
 * ```
 */
export interface CachePolicy extends Policy {
  /** How many results are stored, counting expired ones that no call has looked up since. */
  readonly size: number;
  /**
   * Forgets the result stored for `key`. An execution for `key` already running still answers the
   * calls that wait for it, but its result is not stored and later calls start a new one.
   * Returns true when a result or a running execution was forgotten.
   */
  delete(key: string): boolean;
  /** Forgets every stored result, and detaches every running execution as {@link delete} does. */
  clear(): void;
}

interface Entry {
  readonly value: unknown;
  /** Computed when the value was stored; compared with the clock when it is read. */
  readonly expiresAtMs: number;
}

/** One execution shared by every concurrent call with its key. */
class Flight {
  /** Calls waiting for this execution; when the last one leaves (aborts), the work is aborted. */
  sharers = 0;
  /** Set when the result must not be stored: everyone left, or the key was deleted meanwhile. */
  isDetached = false;
  promise!: Promise<unknown>;

  /** The context of the shared work: its own scope, because no single caller's abort may end it. */
  constructor(readonly scope: CallScope) {}
}

class LocalCache extends BasePolicy implements CachePolicy {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #shouldCache: (result: unknown) => boolean;
  readonly #clock: Clock;
  /** Stored results, least recently used first (a `Map` iterates in insertion order). */
  readonly #entries = new Map<string, Entry>();
  readonly #flights = new Map<string, Flight>();

  constructor(options: CacheOptions) {
    const parsed = parseOptions('cache', cacheOptionsSchema, options, 'cache');
    super('cache', parsed.name);
    this.#ttlMs = parsed.ttlMs;
    this.#maxEntries = parsed.maxEntries;
    this.#shouldCache = parsed.shouldCache;
    this.#clock = parsed.clock;
  }

  get size(): number {
    return this.#entries.size;
  }

  delete(key: string): boolean {
    const hadEntry = this.#entries.delete(key);
    return this.#detach(key) || hadEntry;
  }

  clear(): void {
    this.#entries.clear();
    for (const key of [...this.#flights.keys()]) this.#detach(key);
  }

  async execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    const abortSource = abortSourceOf(options);
    if (abortSource?.aborted === true) throw abortSource.reason;
    const startedMs = this.events.hasListeners ? this.#clock.now() : undefined;
    const key = options?.key;
    try {
      const result =
        key === undefined
          ? // Without a key there is nothing to look up or share: the call runs as it is.
            await callSafely(fn, CallScope.forwarding(abortSource, inheritedAttempt(abortSource)))
          : ((await this.#lookUp(key, fn, abortSource)) as T);
      this.#emitOutcome(startedMs, undefined, true);
      return result;
    } catch (error) {
      this.#emitOutcome(startedMs, error, false);
      throw error;
    }
  }

  #lookUp(key: string, fn: Work<unknown>, abortSource: AbortSource | undefined): unknown {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      if (entry.expiresAtMs > this.#clock.now()) {
        // Most recently used moves to the end, furthest from eviction.
        this.#entries.delete(key);
        this.#entries.set(key, entry);
        this.#emit('cache.hit');
        return entry.value;
      }
      this.#entries.delete(key);
    }
    let flight = this.#flights.get(key);
    if (flight === undefined) {
      flight = this.#start(key, fn, abortSource);
      this.#emit('cache.miss');
    } else {
      this.#emit('cache.coalesced');
    }
    return this.#join(key, flight, abortSource);
  }

  #start(key: string, fn: Work<unknown>, abortSource: AbortSource | undefined): Flight {
    const flight = new Flight(CallScope.abortable(undefined, inheritedAttempt(abortSource)));
    // Registered before `fn` runs, so work that re-enters with the same key joins this execution.
    this.#flights.set(key, flight);
    flight.promise = callSafely(fn, flight.scope).then(
      (value) => {
        this.#finish(key, flight);
        if (!flight.isDetached && this.#ttlMs > 0 && this.#shouldCache(value)) this.#store(key, value);
        return value;
      },
      (error: unknown) => {
        // Failures are never stored: the next call runs the work again.
        this.#finish(key, flight);
        throw error;
      },
    );
    return flight;
  }

  /**
   * Waits for `flight` on behalf of one caller. A caller that aborts rejects at once with its own
   * reason and leaves the execution running for the others; when the last one leaves, the shared
   * work's signal aborts with that caller's reason.
   */
  #join(key: string, flight: Flight, abortSource: AbortSource | undefined): Promise<unknown> {
    // Every caller counts, also one that cannot abort: it keeps the execution alive to the end.
    flight.sharers++;
    if (abortSource === undefined) return flight.promise;
    return new Promise<unknown>((resolve, reject) => {
      let hasLeft = false;
      const unsubscribe = abortSource.subscribe(() => {
        hasLeft = true;
        if (--flight.sharers === 0) {
          this.#detach(key, flight);
          flight.scope.abort(abortSource.reason);
        }
        reject(abortSource.reason);
      });
      flight.promise.then(
        (value) => {
          unsubscribe();
          if (!hasLeft) resolve(value);
        },
        (error: unknown) => {
          unsubscribe();
          if (!hasLeft) reject(error);
        },
      );
    });
  }

  /** Stops `key`'s running execution (or only `flight`, if given) from being shared or stored. */
  #detach(key: string, flight?: Flight): boolean {
    const current = this.#flights.get(key);
    if (current === undefined || (flight !== undefined && current !== flight)) return false;
    current.isDetached = true;
    this.#flights.delete(key);
    return true;
  }

  #finish(key: string, flight: Flight): void {
    if (this.#flights.get(key) === flight) this.#flights.delete(key);
  }

  #store(key: string, value: unknown): void {
    const expiresAtMs = this.#ttlMs === Infinity ? Infinity : this.#clock.now() + this.#ttlMs;
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAtMs });
    if (this.#entries.size > this.#maxEntries) {
      const leastRecentlyUsed = this.#entries.keys().next();
      if (leastRecentlyUsed.done !== true) this.#entries.delete(leastRecentlyUsed.value);
    }
  }

  #emit(type: 'cache.hit' | 'cache.miss' | 'cache.coalesced'): void {
    if (!this.events.hasListeners) return;
    this.events.emit({ type, policyKind: this.kind, policyName: this.name });
  }

  #emitOutcome(startedMs: number | undefined, error: unknown, isSuccess: boolean): void {
    if (!this.events.hasListeners) return;
    const durationMs = startedMs === undefined ? 0 : this.#clock.now() - startedMs;
    this.events.emit(
      isSuccess
        ? { type: 'execution.succeeded', policyKind: this.kind, policyName: this.name, durationMs }
        : { type: 'execution.failed', policyKind: this.kind, policyName: this.name, durationMs, error },
    );
  }
}

/**
 * A result cache keyed by `ExecuteOptions.key`. A fresh stored result answers at once; otherwise
 * the work runs, and concurrent calls with the same key share that one execution (coalescing).
 * A successful result is stored for `ttlMs` (if `shouldCache` accepts it) in an LRU of
 * `maxEntries`; failures are never stored. Expiry is computed from the clock when an entry is read:
 * there are no cleanup timers. Calls without a `key` (including every call through `wrap`) run
 * uncached and unshared.
 *
 * @example
 * ```ts
 * import { cache } from '@hyx/local';
 * const profiles = cache({ name: 'profiles', ttlMs: 10_000, maxEntries: 1000 });
 * const load = (id: string) =>
 *   profiles.execute(async ({ signal }) => ({ id, loaded: !signal.aborted }), { key: `profile:${id}` });
 * const [first, second] = await Promise.all([load('7'), load('7')]); // one execution, shared
 * console.log(first === second); // true
 * ```
 */
export function cache(options: CacheOptions): CachePolicy {
  return new LocalCache(options);
}
