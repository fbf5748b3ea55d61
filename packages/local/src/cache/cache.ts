import type { Clock } from '../clock/clock.js';
import { callSafely } from '../internal/abort.js';
import { type AbortSource, CallScope, abortSourceOf, inheritedAttempt } from '../internal/call-scope.js';
import { factoryOf, parseOptions } from '../options/parse-options.js';
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

/** A stored result, and a node of the recency list. */
class Entry {
  /** The neighbour used less recently, towards eviction. */
  older: Entry | undefined;
  /** The neighbour used more recently. */
  newer: Entry | undefined;

  constructor(
    readonly key: string,
    readonly value: unknown,
    /** Computed when the value was stored; compared with the clock when it is read. */
    readonly expiresAtMs: number,
  ) {}
}

/**
 * The stored results by key, and their order of use in a doubly linked list. A hit moves its entry
 * to the newest end with a few pointer writes: deleting and re-adding a `Map` key on every hit (the
 * usual insertion-order LRU) costs about ten times a lookup on Node 20.
 */
class RecencyList {
  readonly #byKey = new Map<string, Entry>();
  #oldest: Entry | undefined;
  #newest: Entry | undefined;

  get size(): number {
    return this.#byKey.size;
  }

  get(key: string): Entry | undefined {
    return this.#byKey.get(key);
  }

  /** Stores `entry` as the newest, replacing its key's entry; evicts the oldest beyond `maxSize`. */
  put(entry: Entry, maxSize: number): void {
    const previous = this.#byKey.get(entry.key);
    if (previous !== undefined) this.#unlink(previous);
    this.#byKey.set(entry.key, entry);
    this.#linkNewest(entry);
    const oldest = this.#oldest;
    if (this.#byKey.size > maxSize && oldest !== undefined) this.delete(oldest);
  }

  touch(entry: Entry): void {
    if (entry === this.#newest) return;
    this.#unlink(entry);
    this.#linkNewest(entry);
  }

  delete(entry: Entry): void {
    this.#byKey.delete(entry.key);
    this.#unlink(entry);
  }

  clear(): void {
    this.#byKey.clear();
    this.#oldest = undefined;
    this.#newest = undefined;
  }

  #linkNewest(entry: Entry): void {
    entry.older = this.#newest;
    entry.newer = undefined;
    if (this.#newest === undefined) this.#oldest = entry;
    else this.#newest.newer = entry;
    this.#newest = entry;
  }

  #unlink(entry: Entry): void {
    if (entry.older === undefined) this.#oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.#newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
  }
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
  readonly #entries = new RecencyList();
  readonly #flights = new Map<string, Flight>();

  constructor(options: CacheOptions) {
    const factory = factoryOf(options, 'cache');
    const parsed = parseOptions('cache', cacheOptionsSchema, options, 'cache');
    super('cache', parsed.name, factory);
    this.#ttlMs = parsed.ttlMs;
    this.#maxEntries = parsed.maxEntries;
    this.#shouldCache = parsed.shouldCache;
    this.#clock = parsed.clock;
  }

  get size(): number {
    return this.#entries.size;
  }

  delete(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#entries.delete(entry);
    return this.#detach(key) || entry !== undefined;
  }

  clear(): void {
    this.#entries.clear();
    for (const key of [...this.#flights.keys()]) this.#detach(key);
  }

  protected async run<T>(fn: Work<T>, options: ExecuteOptions | undefined): Promise<T> {
    const abortSource = abortSourceOf(options);
    if (abortSource?.aborted === true) throw abortSource.reason;
    const startedMs = this.events.hasListeners ? this.#clock.now() : undefined;
    const key = options?.key;
    if (key !== undefined) {
      const entry = this.#entries.get(key);
      if (entry !== undefined) {
        if (entry.expiresAtMs > this.#clock.now()) {
          this.#entries.touch(entry);
          this.#emit('cache.hit');
          this.#emitOutcome(startedMs, undefined, true);
          return entry.value as T;
        }
        this.#entries.delete(entry);
      }
    }
    try {
      const result =
        key === undefined
          ? // Without a key there is nothing to look up or share: the call runs as it is.
            await fn(CallScope.forwarding(abortSource, inheritedAttempt(abortSource)))
          : ((await this.#runShared(key, fn, abortSource)) as T);
      this.#emitOutcome(startedMs, undefined, true);
      return result;
    } catch (error) {
      this.#emitOutcome(startedMs, error, false);
      throw error;
    }
  }

  /** Joins the execution running for `key`, or starts one. */
  #runShared(key: string, fn: Work<unknown>, abortSource: AbortSource | undefined): Promise<unknown> {
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
    // Registered once `fn` has started: work that calls the cache with its own key from its
    // synchronous part runs an execution of its own instead of waiting for itself forever.
    this.#flights.set(key, flight);
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
    this.#entries.put(new Entry(key, value, expiresAtMs), this.#maxEntries);
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
