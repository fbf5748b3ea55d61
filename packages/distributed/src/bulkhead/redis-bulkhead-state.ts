import { randomBytes } from 'node:crypto';

import {
  BackendUnavailableError,
  MemoryBulkheadState,
  type BulkheadState,
  type BulkheadStateProvider,
  type ErrorSource,
  type Lease,
  type TimerHandle,
} from '@hyx/local';

import {
  BackendDisconnectedError,
  OutageTracker,
  isDisconnected,
  CommandTimeouts,
} from '../backend-guard.js';
import { LUA_SCRIPTS } from '../lua.generated.js';
import { checkRedisClient, factoryIn, factoryLabel } from '../redis-client.js';
import { arrayReply, integerReply } from '../lua-reply.js';
import { LuaScript } from '../lua-script.js';
import { RedisKeyspace } from '../redis-keys.js';
import type { RedisLike } from '../redis-like.js';
import {
  resolveRedisBulkheadSettings,
  type DuplicableRedis,
  type RedisBulkheadSettings,
  type RedisBulkheadStateOptions,
  type RedisSubscriberLike,
} from './redis-bulkhead-options.js';

type BulkheadPart = 'leases' | 'token' | 'released' | 'waiting' | 'waiting-until';

function ignoreError(): void {
  // Deliberately empty: see the caller.
}

/**
 * How many times in a row a permit may pass from a caller to the next caller waiting in the same
 * process (a hand-over) before it goes back to Redis and every waiting process is told: the bound
 * on how long one busy process can keep a permit from the others.
 */
const MAX_HAND_OVERS = 8;

/**
 * How long the state's own subscriber connection stays open after the last caller stopped waiting.
 * A busy bulkhead's queue empties and fills many times a second, and opening a connection costs
 * more than the calls it serves (measured: 8.6 connections per 1,000 calls at limit 4, most of the
 * clients' CPU); the connection keeps the process alive at most this long once nobody waits.
 */
const SUBSCRIBER_LINGER_MS = 1_000;

/** What `bulkhead/acquire` answered. */
type PermitGrant =
  | {
      readonly isGranted: true;
      readonly fencingToken: number;
      readonly expiresAtMs: number;
      /** Set when the grant took the last permit: ms until the earliest lease lapses. */
      readonly fullForMs: number | undefined;
    }
  | { readonly isGranted: false; readonly nextLapseMs: number };

function decimalReply(reply: unknown): number {
  const value = typeof reply === 'string' && /^\d+$/.test(reply) ? Number(reply) : reply;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`expected a decimal integer >= 0, got ${typeof reply}`);
  }
  return value;
}

const acquireScript = new LuaScript<PermitGrant>({
  ...LUA_SCRIPTS['bulkhead/acquire'],
  decode: (reply) => {
    const [granted, token, ms, full] = arrayReply(reply, 4);
    if (integerReply(granted) === 1) {
      return {
        isGranted: true,
        fencingToken: decimalReply(token),
        expiresAtMs: decimalReply(ms),
        fullForMs: full === '' ? undefined : decimalReply(full),
      };
    }
    return { isGranted: false, nextLapseMs: decimalReply(ms) };
  },
});

/** Each lease's new expiry (server ms), or 0 when it is lost. */
const renewScript = new LuaScript<number[]>({
  ...LUA_SCRIPTS['bulkhead/renew'],
  decode: (reply) => {
    if (!Array.isArray(reply)) throw new TypeError(`expected an array, got ${typeof reply}`);
    return reply.map(integerReply);
  },
});

function flagReply(reply: unknown): boolean {
  const flag = integerReply(reply);
  if (flag !== 0 && flag !== 1) throw new TypeError(`expected 0 or 1, got ${flag}`);
  return flag === 1;
}

const releaseScript = new LuaScript<boolean>({ ...LUA_SCRIPTS['bulkhead/release'], decode: flagReply });

const leaveScript = new LuaScript<boolean>({ ...LUA_SCRIPTS['bulkhead/leave'], decode: flagReply });

/**
 * How many poll intervals a waiting process keeps its place in Redis without asking again (it asks
 * at least once per `pollIntervalMs` while callers wait): a dead or stalled waiter delays the
 * others by at most this, never by more than `leaseMs`.
 */
const WAITER_TTL_POLLS = 3;

/**
 * A permit granted by a {@link RedisBulkheadState}: renewed by it until released or lost. With
 * `usesPerLease` above 1, one member of the Redis set serves several calls in a row, each through
 * a lease object of its own (so a second release of an earlier use frees nothing).
 */
class RedisLease implements Lease {
  isReleased = false;
  isLost = false;

  constructor(
    readonly owner: RedisBulkheadState,
    /** The member of the leases set in Redis: what renewals and the release script name. */
    readonly memberId: string,
    readonly key: string,
    readonly fencingToken: number,
    /** The server's time at which the lease lapses unless renewed; moved on by every renewal. */
    public expiresAtMs: number,
    /** How many hand-overs in a row led to this lease: 0 for a permit that came from Redis. */
    readonly handOvers: number,
    /** Which call of its member this is: 1 for the call the member was granted for. */
    readonly use: number,
  ) {}

  /** The member for its first call; later calls add their number, so every use has its own id. */
  get id(): string {
    return this.use === 1 ? this.memberId : `${this.memberId}/${this.use}`;
  }
}

/**
 * A permit granted without Redis during an outage: by the in-process bulkhead (`'local'`, `inner`
 * set) or by nobody (`'allow'`). Released in-process, never sent to Redis.
 */
class FallbackLease implements Lease {
  isReleased = false;

  constructor(
    readonly owner: RedisBulkheadState,
    readonly id: string,
    readonly key: string,
    readonly inner: Lease | undefined,
  ) {}

  get fencingToken(): number {
    return this.inner?.fencingToken ?? 0;
  }
}

/** The leases of one key that this state holds and renews. */
interface HeldPool {
  readonly leasesKey: string;
  readonly tokenKey: string;
  readonly leases: Map<string, RedisLease>;
}

/** The callers of one key waiting for a permit freed elsewhere. */
interface Watch {
  readonly key: string;
  readonly channel: string;
  readonly listeners: Set<{ readonly onFree: () => void }>;
  timer: TimerHandle | undefined;
  /** When the timer fires, on the state's clock. */
  dueAtMs: number;
}

/**
 * The {@link BulkheadState} of a distributed bulkhead: permits are leases in a Redis sorted set,
 * shared by every process using the same `name` on the same Redis (or Cluster slot).
 *
 * - **Leases.** Each grant is a member with its own id, scored by the server-time instant it lapses,
 *   with a fencing token from a counter that only grows. Acquire drops lapsed members first, so a
 *   holder that died (SIGKILL, lost host) frees its permits `leaseMs` after their last renewal.
 * - **Renewal.** Every `renewMs`, one script per key extends all the leases this state holds (one
 *   round-trip, however many). The timer never keeps the process alive, and stops once nothing is
 *   held. A lease a renewal finds gone is reported to `onLeaseLost` and no longer renewed.
 * - **Wake-ups.** `release` publishes on the key's channel when it freed a permit. While a bulkhead
 *   has waiters it {@link RedisBulkheadState.watch}es: one subscriber connection, opened on demand,
 *   hears every release of every process and wakes the queue, which asks again. A timer also wakes
 *   it when the earliest lease lapses (a dead holder's permits) and at least every
 *   `pollIntervalMs` (a notification lost while the subscriber reconnected).
 * - **Hand-over.** A lease released while callers of its key wait in this process is given back at
 *   once by the script that grants a new lease for the next of them (one round-trip, no
 *   notification); at most `MAX_HAND_OVERS` (8) times in a row (ADR 0006). After a grant that took
 *   the last permit, a watched key is not asked for again until a release is heard.
 * - **Several calls per lease** (`usesPerLease` above 1, ADR 0008). A released lease with uses
 *   left is kept: the next acquire of its key here takes it at once (a new lease object, same
 *   member and fencing token). Kept leases nobody took by the next turn of the event loop go back
 *   to Redis; a used-up one goes back at once, and the next acquire here waits for that release.
 * - **Fairness across processes** (ADR 0010). Acquires carry this state's waiter id, and a refusal
 *   puts it in the key's waiting set in Redis at once; a freed permit goes to the waiting
 *   processes, oldest first, before anyone else. A place lapses after
 *   `min(leaseMs, 3 × pollIntervalMs)` without an ask; once nobody waits here (or the refused
 *   caller did not queue) it is left.
 * - **Failures.** A Redis error on acquire rejects with `BackendUnavailableError`; a failed release
 *   leaves the lease to lapse; a failed renewal is tried again at the next tick.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisBulkheadState } from '@hyx/distributed';
 * const state = new RedisBulkheadState(new Redis({ host: '127.0.0.1', port: 6380 }), {
 *   name: 'db',
 *   maxConcurrent: 10,
 *   leaseMs: 10_000,
 * });
 * const lease = await state.acquire('db');
 * if (lease !== undefined) await state.release(lease);
 * await state.close();
 * ```
 */
export class RedisBulkheadState implements BulkheadState {
  readonly #redis: RedisLike & Partial<DuplicableRedis>;
  readonly #settings: RedisBulkheadSettings;
  /** Every command's `commandTimeoutMs`, on one timer. */
  readonly #commandTimeouts: CommandTimeouts;
  /** Release commands sent and not yet answered: {@link close} waits for them. */
  readonly #releasing = new Set<Promise<void>>();
  readonly #keyspace: RedisKeyspace<BulkheadPart>;
  readonly #errorSource: ErrorSource;
  /** Lease ids are this state's random prefix and a counter: unique without a UUID per grant. */
  readonly #idPrefix = randomBytes(12).toString('base64url');
  #idCount = 0;
  readonly #held = new Map<string, HeldPool>();
  /**
   * Leases released while callers of their key wait in this process: the next `acquire` of the
   * key gives one back and takes a new lease in the same script (a hand-over). Given back to Redis
   * as usual once nobody waits.
   */
  readonly #handOvers = new Map<string, Promise<RedisLease | undefined>[]>();
  /**
   * Keys whose permit just went back to Redis after `MAX_HAND_OVERS` hand-overs: the next local
   * acquire is refused without asking, so this process's waiters ask again when the release
   * notification reaches them, as it reaches every other process, instead of taking the permit
   * back before the others heard of it.
   */
  readonly #yielding = new Set<string>();
  /**
   * `usesPerLease` above 1: leases released with uses left, per key, kept (and renewed) for the
   * next acquire of the key in this process. Given back to Redis at the next turn of the event
   * loop if nobody took them (`#lingerTimer`).
   */
  readonly #kept = new Map<string, RedisLease[]>();
  /** Keys whose used-up lease is on its way back to Redis: their next acquire waits for it. */
  readonly #yieldUntil = new Map<string, Promise<void>>();
  #lingerTimer: TimerHandle | undefined;
  /**
   * Watched keys whose last grant took the last permit, with no release heard since: an acquire
   * of them is refused without asking (the bulkhead asks again after every grant, and that ask
   * would be refused). Cleared by every wake-up of the key (a release notification, the lapse and
   * poll timers) and every local release.
   */
  readonly #fullKeys = new Set<string>();
  /**
   * Keys whose waiting set in Redis may hold this process: a refusal while its callers waited put
   * it there, a grant took it out. When nobody waits here any more it leaves (`bulkhead/leave`).
   */
  readonly #waitingKeys = new Set<string>();
  /** Keys refused while nobody here waited on them: left at the next turn unless watched by then. */
  readonly #placesToCheck = new Set<string>();
  #placeCheckTimer: TimerHandle | undefined;
  /** How long this process keeps its place among the waiters of a key without asking (ms). */
  readonly #waiterTtlMs: number;
  /** Counts wake-ups and local releases, so a grant can tell whether one came while it was out. */
  #newsCount = 0;
  #renewTimer: TimerHandle | undefined;
  #isRenewing = false;
  readonly #watches = new Map<string, Watch>();
  readonly #channelKeys = new Map<string, string>();
  #subscriber: RedisSubscriberLike | undefined;
  #hasMessageListener = false;
  /** Closes our own subscriber connection `SUBSCRIBER_LINGER_MS` after the last watch ended. */
  #subscriberLinger: TimerHandle | undefined;
  /** The last refusal: when the earliest lease of `key` lapses, on the state's clock. */
  #lastRefusal: { readonly key: string; readonly lapsesAtMs: number } | undefined;
  #isClosed = false;
  /** `onBackendFailure: 'local'`: the in-process bulkhead that guards calls during an outage. */
  readonly #local: MemoryBulkheadState | undefined;
  /** Whether Redis is considered down: from the first failure to the next answer. */
  readonly #outage: OutageTracker;
  /**
   * Acquire scripts sent and not yet settled, whether or not we still wait for them. During an
   * outage an acquire goes to Redis (a probe) only when none is unsettled; the others fall back at
   * once, so no commands pile up behind one Redis does not answer.
   */
  #unsettled = 0;
  /** Set once Redis has answered: from then on, a client that is not `ready` counts as down. */
  #hasConnected = false;

  /**
   * @param redis - an ioredis `Redis` or `Cluster` that runs the scripts; its `duplicate()` opens
   *   the subscriber connection unless `options.subscriber` is given
   */
  constructor(redis: RedisLike & Partial<DuplicableRedis>, options: RedisBulkheadStateOptions) {
    const factory = factoryIn(options, 'RedisBulkheadState');
    checkRedisClient(factoryLabel(factory, options), redis);
    this.#redis = redis;
    this.#settings = resolveRedisBulkheadSettings(factory, options);
    this.#commandTimeouts = new CommandTimeouts(this.#settings.clock, this.#settings.commandTimeoutMs);
    this.#keyspace = new RedisKeyspace({
      pattern: 'bulkhead',
      name: this.#settings.name,
      parts: ['leases', 'token', 'released', 'waiting', 'waiting-until'],
    });
    this.#errorSource = { policyKind: 'bulkhead', policyName: this.#settings.name };
    this.#waiterTtlMs = Math.min(this.#settings.leaseMs, WAITER_TTL_POLLS * this.#settings.pollIntervalMs);
    this.#outage = new OutageTracker(
      this.#settings.clock,
      this.#settings.onBackendFailure,
      this.#settings.onBackendTransition,
    );
    if (this.#settings.onBackendFailure === 'local') {
      this.#local = new MemoryBulkheadState({ maxConcurrent: this.#settings.localMaxConcurrent });
    }
  }

  /** Whether the state currently treats Redis as down. */
  get isBackendDown(): boolean {
    return this.#outage.isDown;
  }

  /** How many leases this state holds (and renews) now, over every key. */
  get heldCount(): number {
    let count = 0;
    for (const pool of this.#held.values()) count += pool.leases.size;
    return count;
  }

  /**
   * Takes a permit of `key`: a kept lease of this process at once when there is one
   * (`usesPerLease`), otherwise from Redis.
   */
  acquire(key: string, nowMs?: number): Lease | undefined | Promise<Lease | undefined> {
    return this.#reuseKept(key) ?? this.#acquire(key, nowMs);
  }

  async #acquire(key: string, nowMs: number | undefined): Promise<Lease | undefined> {
    const handedOver = this.#takeHandOver(key);
    if (handedOver !== undefined) {
      return handedOver.catch((error: unknown) => this.#acquireWithoutRedis(key, error));
    }
    if (this.#yielding.delete(key)) return undefined;
    if (this.#fullKeys.has(key)) return undefined;
    const yielded = this.#yieldUntil.get(key);
    if (yielded !== undefined) await yielded;
    // During an outage one acquire at a time asks Redis (the probe); the others fall back at once.
    if (this.#outage.isDown && this.#unsettled > 0) {
      return this.#acquireWithoutRedis(key, undefined);
    }
    try {
      return await this.#acquireInRedis(key, nowMs, undefined);
    } catch (error) {
      return this.#acquireWithoutRedis(key, error);
    }
  }

  /** What `onBackendFailure` says when Redis did not answer (`error`) or is known to be down. */
  #acquireWithoutRedis(key: string, error: unknown): Lease | undefined {
    if (error !== undefined) this.#outage.failed(error);
    const cause = error ?? new BackendDisconnectedError();
    switch (this.#settings.onBackendFailure) {
      case 'reject':
        throw new BackendUnavailableError(this.#errorSource, cause);
      case 'allow':
        return new FallbackLease(this, `${this.#idPrefix}.${++this.#idCount}`, key, undefined);
      case 'local': {
        const inner = (this.#local as MemoryBulkheadState).acquire(key);
        if (inner === undefined) return undefined;
        return new FallbackLease(this, `${this.#idPrefix}.${++this.#idCount}`, key, inner);
      }
    }
  }

  /** One `bulkhead/acquire`, giving `handOver` back first when given. */
  async #acquireInRedis(
    key: string,
    nowMs: number | undefined,
    handOver: RedisLease | undefined,
  ): Promise<RedisLease | undefined> {
    const newsCountBefore = this.#newsCount;
    const [leasesKey, tokenKey, channel, waitingKey, waitingUntilKey] = this.#keyspace.keysFor(key) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const id = `${this.#idPrefix}.${++this.#idCount}`;
    // A failure throws as it is, for `onBackendFailure` to decide; a lease being handed over
    // lapses by itself, as after a failed release.
    if (isDisconnected(this.#redis, this.#hasConnected)) throw new BackendDisconnectedError();
    const call = acquireScript.run(
      this.#redis,
      [leasesKey, tokenKey, waitingKey, waitingUntilKey],
      [
        id,
        this.#settings.maxConcurrent,
        this.#settings.leaseMs,
        nowMs ?? '',
        handOver?.memberId ?? '',
        handOver === undefined ? '' : channel,
        // Every acquire names this process: a refusal gives it a place among the waiting processes
        // at once (left again if no caller here ends up waiting, see #noteWaiting).
        this.#idPrefix,
        this.#waiterTtlMs,
      ],
    );
    this.#unsettled++;
    const settled = (): void => {
      this.#unsettled--;
    };
    call.then(settled, settled);
    let grant: PermitGrant;
    try {
      grant = await this.#withTimeout(call);
    } catch (error) {
      // Granted after we stopped waiting (commandTimeoutMs): nobody holds it, so give it back.
      // Refused, it may have put this process among the waiters: take it out if nobody waits.
      call.then((late) => {
        if (late.isGranted) this.#releaseIdInRedis(key, id).catch(ignoreError);
        else this.#noteWaiting(key);
      }, ignoreError);
      throw error;
    }
    this.#hasConnected = true;
    this.#outage.succeeded();
    if (!grant.isGranted) {
      this.#noteWaiting(key);
      this.#noteRefusal(key, grant.nextLapseMs);
      return undefined;
    }
    // A hand-over leaves the waiting set as it is; any other grant to a waiter took it out.
    if (handOver === undefined) this.#waitingKeys.delete(key);
    if (grant.fullForMs !== undefined && this.#newsCount === newsCountBefore && this.#watches.has(key)) {
      this.#fullKeys.add(key);
      // Ask again when the earliest lease lapses, as after a refusal (a dead holder's permit).
      this.#noteRefusal(key, grant.fullForMs);
    }
    const handOvers = handOver === undefined ? 0 : handOver.handOvers + 1;
    const lease = new RedisLease(this, id, key, grant.fencingToken, grant.expiresAtMs, handOvers, 1);
    if (this.#isClosed) {
      // Closed while the grant was on its way: nobody would renew it, so give it back.
      void this.#releaseInRedis(lease).catch(() => undefined);
      return undefined;
    }
    let pool = this.#held.get(key);
    if (pool === undefined) {
      pool = { leasesKey, tokenKey, leases: new Map() };
      this.#held.set(key, pool);
    }
    pool.leases.set(id, lease);
    this.#armRenewal();
    return lease;
  }

  release(lease: Lease): void | Promise<void> {
    if (lease instanceof FallbackLease && lease.owner === this && !lease.isReleased) {
      // Taken without Redis: given back in-process, never sent to Redis.
      lease.isReleased = true;
      this.#newsCount++;
      if (lease.inner !== undefined) this.#local?.release(lease.inner);
      return;
    }
    // A lease of another state, or one already released, frees nothing.
    if (!(lease instanceof RedisLease) || lease.owner !== this || lease.isReleased) return;
    lease.isReleased = true;
    const { usesPerLease } = this.#settings;
    if (lease.use < usesPerLease && this.#canKeep(lease)) {
      this.#keep(lease);
      return;
    }
    return this.#releaseOrHandOver(lease, usesPerLease > 1 && lease.use >= usesPerLease);
  }

  /**
   * The end of a lease's last use: back to Redis, or (callers of its key waiting here) swapped for
   * a new lease in one script. A lease that served `usesPerLease` calls is never swapped: it goes
   * back and this process yields, as after `MAX_HAND_OVERS` hand-overs.
   */
  #releaseOrHandOver(lease: RedisLease, isUsedUp: boolean): Promise<void> | undefined {
    this.#forget(lease);
    this.#newsCount++;
    this.#fullKeys.delete(lease.key);
    const isWatched = !this.#isClosed && (this.#watches.get(lease.key)?.listeners.size ?? 0) > 0;
    const mustYield = isUsedUp || lease.handOvers >= MAX_HAND_OVERS;
    if (isWatched && mustYield) this.#yielding.add(lease.key);
    const isUp = !this.#outage.isDown;
    if (isWatched && isUp && !lease.isLost && !mustYield) {
      // Callers of this key wait here: give this lease back and take a new one in one script, now,
      // for the caller the bulkhead asks `acquire` for right after this resolves. Sent at once, so
      // the hand-overs of several permits travel together.
      const swap = this.#acquireInRedis(lease.key, undefined, lease);
      // Its rejection is the acquire's that takes it; one nobody takes is dropped (the lease lapses).
      swap.catch(ignoreError);
      let pending = this.#handOvers.get(lease.key);
      if (pending === undefined) {
        pending = [];
        this.#handOvers.set(lease.key, pending);
      }
      pending.push(swap);
      return undefined;
    }
    const released = this.#releaseInRedis(lease);
    if (isUsedUp && !isWatched) {
      // Nobody queues here, yet other processes may wait: the next acquire of this key here is
      // sent once this release is answered, when they hear of it too, not ahead of them (a
      // process whose callers each kept a permit would otherwise take it back every time).
      const yielded = released.then(ignoreError, ignoreError);
      this.#yieldUntil.set(lease.key, yielded);
      void yielded.then(() => {
        if (this.#yieldUntil.get(lease.key) === yielded) this.#yieldUntil.delete(lease.key);
      });
    }
    return released;
  }

  /** Whether a released lease may serve another call here: held, renewed, Redis answering. */
  #canKeep(lease: RedisLease): boolean {
    return !lease.isLost && !this.#isClosed && !this.#outage.isDown;
  }

  /** Keeps a released lease for the next acquire of its key here, until the next turn of the loop. */
  #keep(lease: RedisLease): void {
    let kept = this.#kept.get(lease.key);
    if (kept === undefined) {
      kept = [];
      this.#kept.set(lease.key, kept);
    }
    kept.push(lease);
    if (this.#lingerTimer === undefined) {
      // A timer, not a microtask: a caller that loops (`await execute(); await execute()`) asks
      // again in a microtask of the release, so it finds the lease; one that does not, gives it back.
      this.#lingerTimer = this.#settings.clock.setTimeout(this.#onLingerTimer, 0);
    }
  }

  /** The next use of a kept lease of `key`, or `undefined` when none is kept (or can be used). */
  #reuseKept(key: string): RedisLease | undefined {
    const kept = this.#kept.get(key);
    if (kept === undefined) return undefined;
    let reused: RedisLease | undefined;
    while (reused === undefined && kept.length > 0) {
      const last = kept.pop() as RedisLease;
      if (this.#canKeep(last)) reused = this.#nextUse(last);
      else this.#returnKept(last);
    }
    if (kept.length === 0) this.#kept.delete(key);
    return reused;
  }

  /** A new lease object for the next call of `lease`'s member; renewals now update it. */
  #nextUse(lease: RedisLease): RedisLease {
    const next = new RedisLease(
      this,
      lease.memberId,
      lease.key,
      lease.fencingToken,
      lease.expiresAtMs,
      lease.handOvers,
      lease.use + 1,
    );
    this.#held.get(lease.key)?.leases.set(lease.memberId, next);
    return next;
  }

  /** Gives every kept lease back to Redis: nobody here asked for them within a turn of the loop. */
  readonly #onLingerTimer = (): void => {
    this.#lingerTimer = undefined;
    this.#giveBackKept();
  };

  #giveBackKept(): void {
    const kept = [...this.#kept.values()].flat();
    this.#kept.clear();
    for (const lease of kept) this.#returnKept(lease);
  }

  /**
   * A kept lease nobody took. With callers of its key waiting here (the bulkhead was busy asking
   * Redis when it came back), it is swapped for a new lease for them in one script, as a release
   * with waiters is, and the bulkhead is told to ask once it arrives: no release of its own will
   * make it ask. Otherwise it goes back to Redis, which tells every process.
   */
  #returnKept(lease: RedisLease): void {
    const watch = this.#watches.get(lease.key);
    const canHandOver =
      watch !== undefined &&
      watch.listeners.size > 0 &&
      this.#canKeep(lease) &&
      lease.handOvers < MAX_HAND_OVERS;
    if (!canHandOver) {
      this.#forget(lease);
      this.#releaseInRedis(lease).catch(ignoreError);
      return;
    }
    void this.#releaseOrHandOver(lease, false);
    const swap = this.#handOvers.get(lease.key)?.at(-1);
    swap?.then(() => {
      if (this.#watches.get(lease.key) === watch) this.#callListeners(watch);
    }, ignoreError);
  }

  #takeHandOver(key: string): Promise<RedisLease | undefined> | undefined {
    const pending = this.#handOvers.get(key);
    if (pending === undefined) return undefined;
    const swap = pending.shift();
    if (pending.length === 0) this.#handOvers.delete(key);
    return swap;
  }

  /** Gives back the leases handed over that no acquire took (nobody waits here now). */
  #flushHandOvers(key: string): void {
    const pending = this.#handOvers.get(key);
    if (pending === undefined) return;
    this.#handOvers.delete(key);
    for (const swap of pending) {
      swap.then((lease) => {
        if (lease === undefined || lease.isReleased) return;
        lease.isReleased = true;
        this.#forget(lease);
        this.#releaseInRedis(lease).catch(ignoreError);
      }, ignoreError);
    }
  }

  /**
   * Calls `onFree` when a permit of `key` may have come free in another process: on every release
   * notification, when the earliest lease lapses, and at least every `pollIntervalMs`.
   */
  watch(key: string, onFree: () => void): () => void {
    if (this.#isClosed) return () => undefined;
    let watch = this.#watches.get(key);
    if (watch === undefined) {
      const channel = this.#keyspace.keyFor(key, 'released');
      watch = { key, channel, listeners: new Set(), timer: undefined, dueAtMs: Infinity };
      this.#watches.set(key, watch);
      this.#channelKeys.set(channel, key);
      this.#subscribe(watch);
      const refusal = this.#lastRefusal;
      const lapseInMs =
        refusal?.key === key ? Math.max(0, refusal.lapsesAtMs - this.#settings.clock.now()) : Infinity;
      this.#armWake(watch, Math.min(this.#settings.pollIntervalMs, lapseInMs));
    }
    const listener = { onFree };
    watch.listeners.add(listener);
    const current = watch;
    return () => {
      if (!current.listeners.delete(listener) || current.listeners.size > 0) return;
      this.#unwatch(current);
    };
  }

  /**
   * Stops renewing and watching, and closes the subscriber connection this state opened. Leases
   * kept for `usesPerLease` are given back to Redis; leases still held by running calls are not
   * released: they lapse `leaseMs` after their last renewal. Later grants are given back at once.
   * Resolves (never rejects) once every release sent so far was answered or failed: await it
   * before closing the Redis client, or a kept permit stays taken until it lapses.
   */
  close(): Promise<void> {
    this.#isClosed = true;
    if (this.#lingerTimer !== undefined) this.#settings.clock.clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    this.#giveBackKept();
    if (this.#renewTimer !== undefined) this.#settings.clock.clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    this.#held.clear();
    for (const watch of [...this.#watches.values()]) this.#unwatch(watch);
    if (this.#placeCheckTimer !== undefined) this.#settings.clock.clearTimeout(this.#placeCheckTimer);
    this.#onPlaceCheck();
    this.#closeOwnSubscriber();
    for (const key of [...this.#handOvers.keys()]) this.#flushHandOvers(key);
    return Promise.allSettled([...this.#releasing]).then(() => undefined);
  }

  /**
   * A refusal of an acquire sent while callers of `key` waited here put this process in the key's
   * waiting set. If they stopped waiting while it was on its way (served elsewhere, timed out,
   * aborted, closed), nobody here will ask again: leave now, or the place would hold back a free
   * permit from the others until it lapses.
   */
  #noteWaiting(key: string): void {
    if (this.#isWatched(key)) {
      this.#waitingKeys.add(key);
      return;
    }
    if (this.#isClosed) {
      this.#leave(key);
      return;
    }
    // Refused while nobody waited here: the caller is most likely about to queue (the bulkhead
    // then watches the key), and its place, taken now, keeps its turn. Look again at the next turn
    // of the event loop, and leave if it did not queue (a full queue, a caller that gave up).
    this.#waitingKeys.add(key);
    this.#placesToCheck.add(key);
    if (this.#placeCheckTimer === undefined) {
      const { clock } = this.#settings;
      this.#placeCheckTimer = clock.setTimeout(this.#onPlaceCheck, 0);
      clock.keepAlive?.(this.#placeCheckTimer, false);
    }
  }

  readonly #onPlaceCheck = (): void => {
    this.#placeCheckTimer = undefined;
    for (const key of this.#placesToCheck) {
      if (!this.#isWatched(key) && this.#waitingKeys.delete(key)) this.#leave(key);
    }
    this.#placesToCheck.clear();
  };

  #isWatched(key: string): boolean {
    return (this.#watches.get(key)?.listeners.size ?? 0) > 0;
  }

  /** Takes this process out of the waiting set of `key`: nobody waits here any more. */
  #leave(key: string): void {
    const [, , channel, waitingKey, waitingUntilKey] = this.#keyspace.keysFor(key) as [
      string,
      string,
      string,
      string,
      string,
    ];
    // Best effort: a place left behind lapses after the waiter TTL by itself.
    this.#withTimeout(
      leaveScript.run(this.#redis, [waitingKey, waitingUntilKey], [this.#idPrefix, channel]),
    ).catch(ignoreError);
  }

  async #releaseInRedis(lease: RedisLease): Promise<void> {
    await this.#releaseIdInRedis(lease.key, lease.memberId);
  }

  /** Sends the release of lease `id`, counted in {@link #releasing} until Redis answers or fails. */
  #releaseIdInRedis(key: string, id: string): Promise<void> {
    const released = this.#sendRelease(key, id);
    this.#releasing.add(released);
    const settled = (): void => {
      this.#releasing.delete(released);
    };
    released.then(settled, settled);
    return released;
  }

  async #sendRelease(key: string, id: string): Promise<void> {
    const [leasesKey, , channel, waitingKey] = this.#keyspace.keysFor(key) as [
      string,
      string,
      string,
      string,
    ];
    try {
      await this.#withTimeout(
        releaseScript.run(this.#redis, [leasesKey, waitingKey], [id, channel, this.#settings.maxConcurrent]),
      );
    } catch (error) {
      // The lease lapses by itself after leaseMs; the caller's call is over either way.
      throw new BackendUnavailableError(this.#errorSource, error);
    }
  }

  /** Resolves or rejects as `work` does, or rejects after `commandTimeoutMs`; the timer is always cleared. */
  #withTimeout<T>(work: Promise<T>): Promise<T> {
    return this.#commandTimeouts.within(work);
  }

  #forget(lease: RedisLease): void {
    const pool = this.#held.get(lease.key);
    if (pool === undefined) return;
    pool.leases.delete(lease.memberId);
    if (pool.leases.size === 0) this.#held.delete(lease.key);
    if (this.#held.size === 0 && this.#renewTimer !== undefined) {
      this.#settings.clock.clearTimeout(this.#renewTimer);
      this.#renewTimer = undefined;
    }
  }

  #armRenewal(): void {
    if (this.#renewTimer !== undefined || this.#isRenewing || this.#held.size === 0) return;
    const { clock, renewMs } = this.#settings;
    this.#renewTimer = clock.setTimeout(this.#onRenewTimer, renewMs);
    // Held permits lapse by themselves: a renewal never keeps the process alive.
    clock.keepAlive?.(this.#renewTimer, false);
  }

  readonly #onRenewTimer = (): void => {
    this.#renewTimer = undefined;
    this.#isRenewing = true;
    void this.#renewAll().finally(() => {
      this.#isRenewing = false;
      if (!this.#isClosed) this.#armRenewal();
    });
  };

  /** One round-trip per key extends every lease of that key this state holds. */
  async #renewAll(): Promise<void> {
    const pools = [...this.#held.entries()];
    await Promise.all(
      pools.map(async ([key, pool]) => {
        const ids = [...pool.leases.keys()];
        let expiries: number[];
        try {
          expiries = await this.#withTimeout(
            renewScript.run(
              this.#redis,
              [pool.leasesKey, pool.tokenKey],
              [this.#settings.leaseMs, '', ...ids],
            ),
          );
        } catch {
          // Redis is away: try again at the next tick; leases lapse if it stays away leaseMs.
          return;
        }
        for (const [index, id] of ids.entries()) {
          const lease = pool.leases.get(id);
          // Released while the renewal was on its way: nothing to do.
          if (lease === undefined) continue;
          const expiresAtMs = expiries[index] ?? 0;
          if (expiresAtMs > 0) {
            lease.expiresAtMs = expiresAtMs;
            continue;
          }
          lease.isLost = true;
          pool.leases.delete(id);
          this.#settings.onLeaseLost?.(id);
        }
        if (pool.leases.size === 0 && this.#held.get(key) === pool) this.#held.delete(key);
      }),
    );
  }

  #noteRefusal(key: string, nextLapseMs: number): void {
    const lapsesAtMs = this.#settings.clock.now() + nextLapseMs;
    this.#lastRefusal = { key, lapsesAtMs };
    const watch = this.#watches.get(key);
    // Wake when the earliest lease lapses: +1 ms, since a lease lapses once its expiry has passed.
    if (watch !== undefined && lapsesAtMs + 1 < watch.dueAtMs) this.#armWake(watch, nextLapseMs + 1);
  }

  #armWake(watch: Watch, delayMs: number): void {
    const { clock } = this.#settings;
    if (watch.timer !== undefined) clock.clearTimeout(watch.timer);
    watch.dueAtMs = clock.now() + delayMs;
    watch.timer = clock.setTimeout(() => {
      watch.timer = undefined;
      if (this.#watches.get(watch.key) !== watch) return;
      this.#armWake(watch, this.#settings.pollIntervalMs);
      this.#wake(watch);
    }, delayMs);
  }

  #wake(watch: Watch): void {
    this.#newsCount++;
    this.#fullKeys.delete(watch.key);
    this.#callListeners(watch);
  }

  /**
   * Makes the bulkhead ask `acquire` again, without news of a permit freed in Redis: the ask takes
   * a hand-over waiting for it, and is otherwise answered locally if the key is known to be full.
   */
  #callListeners(watch: Watch): void {
    for (const listener of [...watch.listeners]) {
      try {
        listener.onFree();
      } catch {
        // A listener is the bulkhead's drain, which reports its own errors to its callers.
      }
    }
  }

  #unwatch(watch: Watch): void {
    if (this.#watches.get(watch.key) !== watch) return;
    this.#watches.delete(watch.key);
    this.#channelKeys.delete(watch.channel);
    watch.listeners.clear();
    this.#flushHandOvers(watch.key);
    if (this.#waitingKeys.delete(watch.key)) this.#leave(watch.key);
    this.#yielding.delete(watch.key);
    this.#fullKeys.delete(watch.key);
    if (watch.timer !== undefined) this.#settings.clock.clearTimeout(watch.timer);
    watch.timer = undefined;
    const subscriber = this.#subscriber;
    if (subscriber === undefined) return;
    subscriber.unsubscribe(watch.channel).catch(() => undefined);
    if (this.#watches.size === 0 && this.#settings.subscriber === undefined) {
      // Our own connection: closed once nobody has waited for a while, so it keeps the process
      // alive at most that long, without a new connection every time the queue fills again.
      const { clock } = this.#settings;
      if (this.#subscriberLinger !== undefined) clock.clearTimeout(this.#subscriberLinger);
      this.#subscriberLinger = clock.setTimeout(() => {
        this.#subscriberLinger = undefined;
        if (this.#watches.size === 0) this.#closeOwnSubscriber();
      }, SUBSCRIBER_LINGER_MS);
      clock.keepAlive?.(this.#subscriberLinger, false);
    }
  }

  /** Disconnects the subscriber connection this state opened (never one it was given). */
  #closeOwnSubscriber(): void {
    if (this.#subscriberLinger !== undefined) this.#settings.clock.clearTimeout(this.#subscriberLinger);
    this.#subscriberLinger = undefined;
    const subscriber = this.#subscriber;
    if (subscriber === undefined || this.#settings.subscriber !== undefined) return;
    this.#subscriber = undefined;
    this.#hasMessageListener = false;
    subscriber.disconnect();
  }

  #subscriberOf(): RedisSubscriberLike | undefined {
    if (this.#subscriberLinger !== undefined) {
      this.#settings.clock.clearTimeout(this.#subscriberLinger);
      this.#subscriberLinger = undefined;
    }
    if (this.#subscriber !== undefined) return this.#subscriber;
    const given = this.#settings.subscriber;
    const subscriber =
      given ?? (typeof this.#redis.duplicate === 'function' ? this.#redis.duplicate() : undefined);
    if (subscriber === undefined) return undefined;
    if (!this.#hasMessageListener || given === undefined) {
      subscriber.on('message', this.#onMessage);
      this.#hasMessageListener = true;
    }
    // Our own connection's errors (Redis restarting) are no one else's: the poll timer covers them.
    if (given === undefined) subscriber.on('error', ignoreError);
    this.#subscriber = subscriber;
    return subscriber;
  }

  #subscribe(watch: Watch): void {
    const subscriber = this.#subscriberOf();
    if (subscriber === undefined) return;
    subscriber.subscribe(watch.channel).then(
      // A release that landed between the refusal and the subscription was not heard: ask again.
      () => {
        if (this.#watches.get(watch.key) === watch) this.#wake(watch);
      },
      // The poll timer keeps the waiters going.
      () => undefined,
    );
  }

  /**
   * A release notification names the waiting process owed the freed permit, or is `*` when anyone
   * may take it (`1` from a release of an older version): only those ask, so one release does
   * not make every waiting process send an acquire that would be refused.
   */
  readonly #onMessage = (channel: string, message: string): void => {
    if (message !== this.#idPrefix && message !== '*' && message !== '1') return;
    const key = this.#channelKeys.get(channel);
    const watch = key === undefined ? undefined : this.#watches.get(key);
    if (watch !== undefined) this.#wake(watch);
  };
}

/**
 * A `state` for the local `bulkhead` that keeps its permits in Redis: what {@link redisBulkhead}
 * passes. The bulkhead's `maxConcurrent` becomes the cluster-wide limit.
 *
 * @param redis - an ioredis `Redis` or `Cluster`
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { bulkhead } from '@hyx/local';
 * import { redisBulkheadState } from '@hyx/distributed';
 * const redis = new Redis({ host: '127.0.0.1', port: 6380 });
 * const db = bulkhead({ name: 'db', maxConcurrent: 10, state: redisBulkheadState(redis, { name: 'db' }) });
 * ```
 */
export function redisBulkheadState(
  redis: RedisLike & Partial<DuplicableRedis>,
  options: Omit<RedisBulkheadStateOptions, 'maxConcurrent'>,
): BulkheadStateProvider {
  return (settings) => new RedisBulkheadState(redis, { ...options, maxConcurrent: settings.maxConcurrent });
}
