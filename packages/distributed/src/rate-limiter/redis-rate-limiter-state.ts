import {
  BackendUnavailableError,
  DeadlineQueue,
  deriveAlgorithmConfig,
  memoryRateLimiterState,
  type AlgorithmConfig,
  type Clock,
  type RateLimitRefundRequest,
  type RateLimitStateDecision,
  type RateLimitStateRequest,
  type RateLimiterConfig,
  type RateLimiterState,
  type RateLimiterStateFactory,
} from '@hyx/local';

import {
  BackendDisconnectedError,
  CommandTimeoutError,
  OutageTracker,
  isDisconnected,
  type BackendTransition,
} from '../backend-guard.js';
import { LUA_SCRIPTS } from '../lua.generated.js';
import { LuaReplyError, integerReply } from '../lua-reply.js';
import { LuaScript } from '../lua-script.js';
import { RedisKeyspace } from '../redis-keys.js';
import type { LuaArgument, RedisLike } from '../redis-like.js';
import {
  REDIS_RATE_LIMITER_DEFAULTS,
  checkRedisRateLimiterOptions,
  type BackendFailureMode,
  type RedisRateLimiterStateOptions,
} from './redis-rate-limiter-options.js';
import { leanAcquireScripts, type LeanAcquireScript } from './lean-acquire-scripts.js';

/** Fields per request in the acquire script's reply. */
const FIELDS_PER_DECISION = 6;

/** The most requests one script call decides: bounds the call's ARGV and its time in Redis. */
const MAX_BATCH_SIZE = 256;

/** Tells the script to read the server's clock (`TIME`); text, as the client would send it. */
const SERVER_TIME = '-1';

const acquireScript = new LuaScript({
  ...LUA_SCRIPTS['rate-limiter/acquire'],
  // The request count is checked by the caller; the decoder checks the flat shape. In place: the
  // reply array is ours, and this runs on every decision.
  decode: (reply): number[] => {
    if (!Array.isArray(reply) || reply.length === 0 || reply.length % FIELDS_PER_DECISION !== 0) {
      throw new TypeError(`expected ${FIELDS_PER_DECISION} integers per request`);
    }
    const integers = reply as unknown[];
    for (let index = 0; index < integers.length; index++) integers[index] = integerReply(integers[index]);
    return integers as number[];
  },
});

/** The decision of the request at `index` of an acquire reply (already decoded). */
function decisionAt(reply: readonly number[], index: number): RateLimitStateDecision {
  const at = index * FIELDS_PER_DECISION;
  return {
    allowed: reply[at] === 1,
    limit: reply[at + 1] ?? 0,
    remaining: reply[at + 2] ?? 0,
    retryAfterMs: reply[at + 3] ?? 0,
    resetAfterMs: reply[at + 4] ?? 0,
    delayMs: reply[at + 5] ?? 0,
    source: 'redis',
  };
}

const refundScript = new LuaScript({
  ...LUA_SCRIPTS['rate-limiter/refund'],
  decode: (reply) => integerReply(reply),
});

/**
 * Options of {@link redisRateLimiterState}: the Redis options, and who hears about outages.
 *
 * @example
 * ```ts
 * import type { RedisRateLimiterStateFactoryOptions } from '@hyx/distributed';
 * const options: RedisRateLimiterStateFactoryOptions = { onBackendTransition: (t) => console.log(t.type) };
 * ```
 */
export interface RedisRateLimiterStateFactoryOptions extends RedisRateLimiterStateOptions {
  /** Called once when an outage starts and once when it ends; a throw is ignored. */
  readonly onBackendTransition?: ((transition: BackendTransition) => void) | undefined;
}

/** Settles one script call: with its raw reply, or with why there is none. */
interface Settlement {
  /** Called once with the raw reply; a throw (a reply of the wrong shape) goes to onFailure. */
  readonly onReply: (raw: unknown) => void;
  readonly onFailure: (error: unknown) => void;
}

/** A script call waiting for its reply, until it settles or `commandTimeoutMs` passes. */
interface CommandInFlight {
  readonly settlement: Settlement;
  /** Set once the call settled: by its reply, its error, or its deadline. */
  isDone: boolean;
}

/** One request waiting for its batch's script call. */
interface Pending {
  readonly request: RateLimitStateRequest;
  readonly resolve: (decision: RateLimitStateDecision) => void;
  readonly reject: (error: unknown) => void;
}

/** An error that means "the call is wrong", not "Redis is down": never hidden by a fallback. */
function isCallerError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError;
}

/** A fallback decision that lets the request through. */
function allowedFallback(config: AlgorithmConfig): RateLimitStateDecision {
  return {
    allowed: true,
    limit: config.capacity,
    remaining: config.capacity,
    retryAfterMs: 0,
    resetAfterMs: 0,
    delayMs: 0,
    source: 'fallback',
  };
}

function scaledShare(value: number, share: number): number {
  return Math.max(1, Math.floor(value * share));
}

/**
 * The Redis {@link RateLimiterState} of one limiter: each decision is one script call on the node
 * that owns the key, with the algorithm of `docs/algorithms.md` written in Lua, so the memory and
 * Redis states decide identically: `scripts/lua/rate-limiter/acquire-<algorithm>.lua` for one
 * request or a batch against one limit, `scripts/lua/rate-limiter/acquire.lua` for several limits
 * or the sliding-window log.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { deriveAlgorithmConfig, systemClock } from '@hyx/local';
 * import { RedisRateLimiterState } from '@hyx/distributed';
 * const redis = new Redis({ host: '127.0.0.1', port: 6380 });
 * const config = deriveAlgorithmConfig({ algorithm: 'gcra', limit: 10, intervalMs: 1000 });
 * const state = new RedisRateLimiterState(redis, { ...config, name: 'api', algorithm: 'gcra', maxKeys: 1000, clock: systemClock });
 * const decision = await state.tryAcquire({ key: 'user-42', cost: 1 });
 * ```
 */
export class RedisRateLimiterState implements RateLimiterState {
  readonly #client: RedisLike;
  readonly #config: RateLimiterConfig;
  readonly #clock: Clock;
  readonly #keyspace: RedisKeyspace;
  /**
   * ARGV[2..] of a call minus the request count: the algorithm, then each limit's five integers,
   * as text once (the client would turn each number into text on every call).
   */
  readonly #limitArgs: readonly string[];
  /**
   * The lean script for one request against one limit, with ARGV after nowMs and cost (and
   * maxDelayMs) as text once; undefined with several limits or for the sliding-window log.
   */
  readonly #lean: { readonly script: LeanAcquireScript; readonly configArgs: readonly string[] } | undefined;
  readonly #commandTimeoutMs: number;
  readonly #onBackendFailure: BackendFailureMode;
  readonly #isServerTime: boolean;
  readonly #isBatching: boolean;
  readonly #local: RateLimiterState | undefined;
  readonly #outage: OutageTracker;
  readonly #batches = new Map<string, Pending[]>();
  /**
   * Every script call's `commandTimeoutMs`, on one timer: calls wait the same time, so they time
   * out in the order they were sent (a timer per call, set and cleared, cost more than the rest of
   * the client's work on a decision but the command itself).
   */
  readonly #deadlines: DeadlineQueue<CommandInFlight>;
  /**
   * The last key and its `KEYS`, so calls for one hot key build them once. Not a map of recent keys:
   * over more keys than it held, a map that starts over when full cost more per call than building
   * (insertions, and entries that outlived the young generation of the GC only to be dropped).
   */
  #lastKey: string | undefined;
  #lastKeys: readonly string[] = [];
  /**
   * Script calls sent and not yet settled (answered, failed, or dropped by the client), whether or
   * not we still wait for them. During an outage a call goes to Redis (a probe) only when none is
   * unsettled; the others fall back at once.
   */
  #unsettled = 0;
  /** Set once Redis has answered: from then on, a client that is not `ready` counts as down. */
  #hasConnected = false;

  constructor(
    client: RedisLike,
    config: RateLimiterConfig,
    options: RedisRateLimiterStateFactoryOptions = {},
  ) {
    checkRedisRateLimiterOptions(config.name, options);
    const additional = options.additionalLimits ?? [];
    if (additional.length > 0 && config.algorithm === 'leaky-bucket') {
      throw new TypeError(
        `redisRateLimiter "${config.name}": additionalLimits do not apply to "leaky-bucket" (a queue has one pace)`,
      );
    }
    const limits: AlgorithmConfig[] = [config];
    for (const [index, extra] of additional.entries()) {
      const derived = deriveAlgorithmConfig({ ...extra, algorithm: config.algorithm });
      if (derived.maxCost < config.maxCost) {
        throw new RangeError(
          `redisRateLimiter "${config.name}": additionalLimits[${index}] must take the first limit's largest cost ` +
            `(${config.maxCost}), got ${derived.maxCost}; put the smallest limit first`,
        );
      }
      limits.push(derived);
    }
    this.#client = client;
    this.#config = config;
    this.#clock = config.clock;
    // One state key per limit, and a log key for the sliding-window log only (the scripts take
    // KEYS in this order), all under the hash tag of (name, key): every key sent costs the
    // client's encoding and the script's setup on every decision.
    const hasLog = config.algorithm === 'sliding-window-log';
    const parts = limits.flatMap((limit, index) => {
      const id =
        index === 0 ? config.algorithm : `${config.algorithm}-${limit.limit}-per-${limit.intervalMs}ms`;
      return hasLog ? [id, `${id}-log`] : [id];
    });
    if (new Set(parts).size !== parts.length) {
      throw new RangeError(
        `redisRateLimiter "${config.name}": two limits have the same limit and intervalMs`,
      );
    }
    this.#keyspace = new RedisKeyspace({ pattern: 'rate-limiter', name: config.name, parts });
    this.#limitArgs = [
      config.algorithm,
      ...limits.flatMap((limit) =>
        [limit.limit, limit.intervalMs, limit.capacity, limit.unitScaled, limit.msScaled].map(String),
      ),
    ];
    const lean = additional.length === 0 ? leanAcquireScripts[config.algorithm] : undefined;
    this.#lean =
      lean === undefined ? undefined : { script: lean, configArgs: lean.configArgs(config).map(String) };
    this.#commandTimeoutMs = options.commandTimeoutMs ?? REDIS_RATE_LIMITER_DEFAULTS.commandTimeoutMs;
    this.#deadlines = new DeadlineQueue<CommandInFlight>(
      this.#clock,
      this.#commandTimeoutMs,
      (call) => {
        call.isDone = true;
        call.settlement.onFailure(new CommandTimeoutError(this.#commandTimeoutMs));
      },
      // Cleared when no call is in flight (see CommandTimeouts).
      { keepsIdleTimer: false },
    );
    this.#onBackendFailure = options.onBackendFailure ?? REDIS_RATE_LIMITER_DEFAULTS.onBackendFailure;
    this.#isServerTime = (options.time ?? REDIS_RATE_LIMITER_DEFAULTS.time) === 'server';
    this.#isBatching = options.batching ?? REDIS_RATE_LIMITER_DEFAULTS.batching;
    this.#outage = new OutageTracker(this.#clock, this.#onBackendFailure, options.onBackendTransition);
    if (this.#onBackendFailure === 'local') {
      const share = options.localShare ?? REDIS_RATE_LIMITER_DEFAULTS.localShare;
      const capacity = scaledShare(config.capacity, share);
      this.#local = memoryRateLimiterState({
        ...config,
        ...deriveAlgorithmConfig({
          algorithm: config.algorithm,
          limit: scaledShare(config.limit, share),
          intervalMs: config.intervalMs,
          ...(config.algorithm === 'token-bucket' || config.algorithm === 'gcra' ? { burst: capacity } : {}),
          ...(config.algorithm === 'leaky-bucket' ? { queueSize: Math.floor(config.capacity * share) } : {}),
        }),
      });
    }
  }

  /** Whether the state currently treats Redis as down. */
  get isBackendDown(): boolean {
    return this.#outage.isDown;
  }

  tryAcquire(request: RateLimitStateRequest): Promise<RateLimitStateDecision> {
    if (this.#outage.isDown && this.#unsettled > 0) return this.#fallback(request, undefined);
    if (!this.#isBatching) return this.#decideAlone(request);
    return new Promise((resolve, reject) => {
      const batchKey = `${request.nowMs ?? ''}:${request.key}`;
      const batch = this.#batches.get(batchKey);
      if (batch !== undefined && batch.length < MAX_BATCH_SIZE) {
        batch.push({ request, resolve, reject });
        return;
      }
      const opened: Pending[] = [{ request, resolve, reject }];
      this.#batches.set(batchKey, opened);
      // Everything asked for this key in the current tick goes in one script call.
      queueMicrotask(() => {
        // A full batch was replaced in the map by a newer one: leave that one be.
        if (this.#batches.get(batchKey) === opened) this.#batches.delete(batchKey);
        this.#decideBatch(opened);
      });
    });
  }

  async refund(request: RateLimitRefundRequest): Promise<void> {
    try {
      const args = [
        this.#nowArg(request.nowMs),
        this.#limitArgs[0] ?? '',
        request.cost,
        ...this.#limitArgs.slice(1),
      ];
      await new Promise<void>((resolve, reject) => {
        this.#call(refundScript, request.key, args, {
          onReply: (raw) => {
            refundScript.decode(raw);
            resolve();
          },
          onFailure: reject,
        });
      });
    } catch (error) {
      if (isCallerError(error)) throw error;
      this.#outage.failed(error);
      // A refund that cannot reach Redis is lost (the units come back when the window moves on).
      if (this.#onBackendFailure === 'reject') throw this.#unavailable(error);
      if (this.#local !== undefined) await this.#local.refund(request);
    }
  }

  /**
   * One script call for one request: one promise, settled straight from the reply's reaction (no
   * async frames in between: this is every decision without batching).
   */
  #decideAlone(request: RateLimitStateRequest): Promise<RateLimitStateDecision> {
    return new Promise((resolve, reject) => {
      this.#decideOne(request, resolve, (error) => {
        this.#fallback(request, error).then(resolve, reject);
      });
    });
  }

  /**
   * One request, one script call: the algorithm's lean script when there is one (one limit, a
   * one-string state), else `rate-limiter/acquire` with one request.
   */
  #decideOne(
    request: RateLimitStateRequest,
    resolve: (decision: RateLimitStateDecision) => void,
    onFailure: (error: unknown) => void,
  ): void {
    const lean = this.#lean;
    if (lean === undefined) {
      this.#send(request, [request], {
        onReply: (raw) => {
          resolve(decisionAt(this.#acquireReply(raw, 1), 0));
        },
        onFailure,
      });
      return;
    }
    const { script } = lean;
    const maxDelayMs = request.maxDelayMs ?? 0;
    let args: LuaArgument[];
    try {
      args = [this.#nowArg(request.nowMs)];
      for (const arg of lean.configArgs) args.push(arg);
      args.push(request.cost);
      if (script.takesMaxDelay) args.push(maxDelayMs);
    } catch (error) {
      onFailure(error);
      return;
    }
    this.#call(script.script, request.key, args, {
      onReply: (raw) => {
        let decision: RateLimitStateDecision;
        try {
          decision = script.decisionOf(raw, request.cost, maxDelayMs, this.#config);
        } catch (error) {
          throw new LuaReplyError(script.script.name, raw, error);
        }
        resolve(decision);
      },
      onFailure,
    });
  }

  #decideBatch(pending: readonly Pending[]): void {
    if (pending.length === 1) {
      const { request, resolve, reject } = pending[0] as Pending;
      this.#decideOne(request, resolve, (error) => {
        this.#fallback(request, error).then(resolve, reject);
      });
      return;
    }
    const requests = pending.map((entry) => entry.request);
    const onFailure = (error: unknown): void => {
      for (const entry of pending) this.#fallback(entry.request, error).then(entry.resolve, entry.reject);
    };
    if (this.#lean !== undefined) {
      this.#sendLeanBatch(this.#lean, requests, pending, onFailure);
      return;
    }
    this.#send(requests[0] as RateLimitStateRequest, requests, {
      onReply: (raw) => {
        const reply = this.#acquireReply(raw, requests.length);
        for (let index = 0; index < pending.length; index++) {
          (pending[index] as Pending).resolve(decisionAt(reply, index));
        }
      },
      onFailure,
    });
  }

  /**
   * Sends the requests of one batch (one key, one decision time) in one call of the algorithm's
   * lean script, which decides them in order and replies one integer per request.
   */
  #sendLeanBatch(
    lean: { readonly script: LeanAcquireScript; readonly configArgs: readonly string[] },
    requests: readonly RateLimitStateRequest[],
    pending: readonly Pending[],
    onFailure: (error: unknown) => void,
  ): void {
    const { script } = lean;
    const head = requests[0] as RateLimitStateRequest;
    const leanRequests = requests.map((request) => ({
      cost: request.cost,
      maxDelayMs: request.maxDelayMs ?? 0,
    }));
    let args: LuaArgument[];
    try {
      args = [this.#nowArg(head.nowMs)];
      for (const arg of lean.configArgs) args.push(arg);
      for (const request of leanRequests) {
        args.push(request.cost);
        if (script.takesMaxDelay) args.push(request.maxDelayMs);
      }
    } catch (error) {
      onFailure(error);
      return;
    }
    this.#call(script.script, head.key, args, {
      onReply: (raw) => {
        let decisions: RateLimitStateDecision[];
        try {
          decisions = script.decisionsOf(raw, leanRequests, this.#config);
        } catch (error) {
          throw new LuaReplyError(script.script.name, raw, error);
        }
        for (let index = 0; index < pending.length; index++) {
          (pending[index] as Pending).resolve(decisions[index] as RateLimitStateDecision);
        }
      },
      onFailure,
    });
  }

  /**
   * Sends one call of `rate-limiter/acquire` for `requests` (all for `head.key` at `head.nowMs`),
   * settled as {@link #call} settles it.
   */
  #send(
    head: RateLimitStateRequest,
    requests: readonly RateLimitStateRequest[],
    settlement: Settlement,
  ): void {
    let args: LuaArgument[];
    try {
      const limitArgs = this.#limitArgs;
      args = [this.#nowArg(head.nowMs), limitArgs[0] ?? '', requests.length];
      for (let index = 1; index < limitArgs.length; index++) args.push(limitArgs[index] ?? '');
      for (const request of requests) args.push(request.cost, request.maxDelayMs ?? 0);
    } catch (error) {
      settlement.onFailure(error);
      return;
    }
    this.#call(acquireScript, head.key, args, settlement);
  }

  /** The decoded reply of `rate-limiter/acquire` for `requestCount` requests; throws on another shape. */
  #acquireReply(raw: unknown, requestCount: number): number[] {
    const reply = acquireScript.decode(raw);
    if (reply.length !== requestCount * FIELDS_PER_DECISION) {
      throw new LuaReplyError(acquireScript.name, raw, new TypeError(`expected ${requestCount} decisions`));
    }
    return reply;
  }

  /**
   * Sends one call of `script` for `key` and settles it once: with the raw reply (handed to
   * `onReply`, whose throw means a reply of the wrong shape), or with the error (not connected, a
   * wrong call, Redis's error, a reply of the wrong shape, or no answer within `commandTimeoutMs`
   * on the limiter's clock).
   */
  #call(script: LuaScript<unknown>, key: string, args: readonly LuaArgument[], settlement: Settlement): void {
    let sent: Promise<unknown>;
    try {
      if (isDisconnected(this.#client, this.#hasConnected)) throw new BackendDisconnectedError();
      sent = script.send(this.#client, this.#keysFor(key), args);
    } catch (error) {
      settlement.onFailure(error);
      return;
    }
    // Unsettled until Redis answers or the client drops it, not until we stop waiting: so during an
    // outage no more commands pile up in the client behind the ones Redis has not answered, and at
    // most one probe at a time can land late.
    this.#unsettled++;
    const call: CommandInFlight = { settlement, isDone: false };
    const ticket = this.#deadlines.enter(call);
    sent.then(
      (raw) => {
        this.#unsettled--;
        this.#deadlines.leave(ticket);
        if (call.isDone) return;
        call.isDone = true;
        try {
          settlement.onReply(raw);
        } catch (error) {
          settlement.onFailure(error);
          return;
        }
        this.#hasConnected = true;
        this.#outage.succeeded();
      },
      (error: unknown) => {
        this.#unsettled--;
        this.#deadlines.leave(ticket);
        if (call.isDone) return;
        call.isDone = true;
        settlement.onFailure(error);
      },
    );
  }

  #keysFor(key: string): readonly string[] {
    if (key === this.#lastKey) return this.#lastKeys;
    // Throws on a key that is not a string, before anything is kept.
    const keys = this.#keyspace.keysFor(key);
    this.#lastKey = key;
    this.#lastKeys = keys;
    return keys;
  }

  #nowArg(nowMs: number | undefined): LuaArgument {
    if (nowMs !== undefined) return nowMs;
    return this.#isServerTime ? SERVER_TIME : Math.floor(this.#clock.now());
  }

  async #fallback(request: RateLimitStateRequest, error: unknown): Promise<RateLimitStateDecision> {
    if (error !== undefined) {
      if (isCallerError(error)) throw error as Error;
      this.#outage.failed(error);
    }
    switch (this.#onBackendFailure) {
      case 'reject':
        throw this.#unavailable(error ?? new BackendDisconnectedError());
      case 'allow':
        return allowedFallback(this.#config);
      case 'local': {
        const decision = await (this.#local as RateLimiterState).tryAcquire(request);
        return { ...decision, source: 'fallback' };
      }
    }
  }

  #unavailable(cause: unknown): BackendUnavailableError {
    return new BackendUnavailableError({ policyKind: 'rate-limiter', policyName: this.#config.name }, cause);
  }
}

/**
 * The `state` option of `rateLimiter` that keeps the limiter's state in Redis: the local limiter's
 * shell (options, waiting, abort, events) over a {@link RedisRateLimiterState}. Most users want
 * {@link redisRateLimiter}, which also reports outages as events.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { rateLimiter } from '@hyx/local';
 * import { redisRateLimiterState } from '@hyx/distributed';
 * const redis = new Redis({ host: '127.0.0.1', port: 6380 });
 * const limiter = rateLimiter({ name: 'api', limit: 10, intervalMs: 1000, state: redisRateLimiterState(redis) });
 * ```
 */
export function redisRateLimiterState(
  client: RedisLike,
  options: RedisRateLimiterStateFactoryOptions = {},
): RateLimiterStateFactory {
  return (config) => new RedisRateLimiterState(client, config, options);
}
