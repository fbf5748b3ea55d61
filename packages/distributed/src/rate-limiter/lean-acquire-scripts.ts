import {
  rateLimitAlgorithms,
  type AlgorithmConfig,
  type FixedWindowState,
  type GcraState,
  type LeakyBucketState,
  type RateLimitAlgorithmName,
  type RateLimitStateDecision,
  type SlidingWindowCounterState,
  type TokenBucketState,
} from '@hyx/local';

import { LUA_SCRIPTS } from '../lua.generated.js';
import { arrayReply, integerReply } from '../lua-reply.js';
import { LuaScript } from '../lua-script.js';

/** One request of a batch, as the lean scripts take it. */
interface LeanRequest {
  readonly cost: number;
  readonly maxDelayMs: number;
}

/**
 * The lean script of one algorithm (`scripts/lua/rate-limiter/acquire-<algorithm>.lua`): one or
 * several requests (a batch, decided in order) against one limit, the common call. The script
 * decides and writes the state as `rate-limiter/acquire` would (the same
 * `lib/rate-limiter-<algorithm>.lua`), but replies only with the state each request was decided
 * on, seen from its decision time and with the verdict in the sign of its integer; the client
 * computes the decision's fields from that state with the TypeScript algorithm itself. So Redis
 * builds no reply table for one request of the token bucket, GCRA and leaky bucket, ioredis
 * decodes one integer per request instead of six, and the decision fields are computed by the code
 * the memory state runs.
 *
 * ARGV: nowMs, then {@link configArgs}, then each request's cost (and, with
 * {@link takesMaxDelay}, its maxDelayMs).
 *
 * @internal
 */
export interface LeanAcquireScript {
  /** The script; its reply is checked and turned into decisions by {@link decisionOf} and {@link decisionsOf}. */
  readonly script: LuaScript<unknown>;
  /** Whether each request's maxDelayMs follows its cost in ARGV (the leaky bucket). */
  readonly takesMaxDelay: boolean;
  /** The config's integers the script takes after nowMs, in ARGV order. */
  readonly configArgs: (config: AlgorithmConfig) => readonly number[];
  /**
   * The decision the script's reply to one request stands for. Throws (a reply the script cannot
   * give) on a reply of the wrong shape, or when the TypeScript algorithm's verdict is not the
   * script's.
   */
  readonly decisionOf: (
    reply: unknown,
    cost: number,
    maxDelayMs: number,
    config: AlgorithmConfig,
  ) => RateLimitStateDecision;
  /** The decisions the script's reply to two or more `requests` stands for, in order; throws as {@link decisionOf}. */
  readonly decisionsOf: (
    reply: unknown,
    requests: readonly LeanRequest[],
    config: AlgorithmConfig,
  ) => RateLimitStateDecision[];
}

/** The reply's integer for a request: the level the script decided on, >= 0 when allowed, -1 - level when denied. */
function levelOf(signed: number): number {
  return signed >= 0 ? signed : -1 - signed;
}

/** The algorithm's decision with the script's verdict checked and `source: 'redis'`. */
function checked(decision: RateLimitStateDecision, signed: number): RateLimitStateDecision {
  if (decision.allowed !== signed >= 0) {
    throw new TypeError(
      `the script ${signed >= 0 ? 'allowed' : 'denied'} what the TypeScript algorithm did not`,
    );
  }
  return {
    allowed: decision.allowed,
    limit: decision.limit,
    remaining: decision.remaining,
    retryAfterMs: decision.retryAfterMs,
    resetAfterMs: decision.resetAfterMs,
    delayMs: decision.delayMs,
    source: 'redis',
  };
}

/** The state at decision time 0 of an instant `ahead` scaled units after the decision time. */
function instantAhead(ahead: number, msScaled: number): { readonly wholeMs: number; readonly rest: number } {
  const wholeMs = Math.floor(ahead / msScaled);
  return { wholeMs, rest: ahead - wholeMs * msScaled };
}

function scriptOf(name: keyof typeof LUA_SCRIPTS): LuaScript<unknown> {
  // The decoding is done by decisionOf, which needs the request: the script's own is the identity.
  return new LuaScript({ ...LUA_SCRIPTS[name], decode: (reply) => reply });
}

/**
 * How one algorithm reads its lean reply: after the requests' integers, `shared` more integers that
 * hold for every request (the window's previous count, the time into the window); `decide` turns
 * one request's integer and those into the decision (unchecked).
 */
interface LeanReading {
  readonly shared: 0 | 1 | 2;
  readonly decide: (
    signed: number,
    cost: number,
    maxDelayMs: number,
    config: AlgorithmConfig,
    shared: readonly number[],
  ) => RateLimitStateDecision;
}

const NO_SHARED: readonly number[] = [];

/** A lean script from how its reply reads. */
function leanScript(
  name: keyof typeof LUA_SCRIPTS,
  takesMaxDelay: boolean,
  configArgs: (config: AlgorithmConfig) => readonly number[],
  reading: LeanReading,
): LeanAcquireScript {
  const { shared, decide } = reading;
  return {
    script: scriptOf(name),
    takesMaxDelay,
    configArgs,
    decisionOf(reply, cost, maxDelayMs, config) {
      if (shared === 0) {
        const signed = integerReply(reply);
        return checked(decide(signed, cost, maxDelayMs, config, NO_SHARED), signed);
      }
      const integers = arrayReply(reply, 1 + shared).map(integerReply);
      const signed = integers[0] as number;
      return checked(decide(signed, cost, maxDelayMs, config, integers.slice(1)), signed);
    },
    decisionsOf(reply, requests, config) {
      const integers = arrayReply(reply, requests.length + shared).map(integerReply);
      const sharedValues = shared === 0 ? NO_SHARED : integers.slice(requests.length);
      return requests.map((request, index) => {
        const signed = integers[index] as number;
        return checked(decide(signed, request.cost, request.maxDelayMs, config, sharedValues), signed);
      });
    },
  };
}

const scaledConfig = (config: AlgorithmConfig): readonly number[] => [
  config.capacity,
  config.unitScaled,
  config.msScaled,
];
const windowConfig = (config: AlgorithmConfig): readonly number[] => [config.limit, config.intervalMs];

/**
 * The lean script of each algorithm that has one: every algorithm whose state is one string (the
 * sliding-window log keeps a list, and always goes through `rate-limiter/acquire`).
 *
 * @internal
 */
export const leanAcquireScripts: Readonly<Partial<Record<RateLimitAlgorithmName, LeanAcquireScript>>> = {
  'token-bucket': leanScript('rate-limiter/acquire-token-bucket', false, scaledConfig, {
    shared: 0,
    decide(signed, cost, maxDelayMs, config) {
      const state: TokenBucketState = { scaledTokens: levelOf(signed), refilledAtMs: 0 };
      return rateLimitAlgorithms['token-bucket'].decide(state, cost, 0, config, maxDelayMs).decision;
    },
  }),
  gcra: leanScript('rate-limiter/acquire-gcra', false, scaledConfig, {
    shared: 0,
    decide(signed, cost, maxDelayMs, config) {
      const { wholeMs, rest } = instantAhead(levelOf(signed), config.msScaled);
      const state: GcraState = { tatMs: wholeMs, tatRemainder: rest };
      return rateLimitAlgorithms.gcra.decide(state, cost, 0, config, maxDelayMs).decision;
    },
  }),
  'leaky-bucket': leanScript('rate-limiter/acquire-leaky-bucket', true, scaledConfig, {
    shared: 0,
    decide(signed, cost, maxDelayMs, config) {
      const { wholeMs, rest } = instantAhead(levelOf(signed), config.msScaled);
      const state: LeakyBucketState = { nextFreeMs: wholeMs, nextFreeRemainder: rest };
      return rateLimitAlgorithms['leaky-bucket'].decide(state, cost, 0, config, maxDelayMs).decision;
    },
  }),
  'fixed-window': leanScript('rate-limiter/acquire-fixed-window', false, windowConfig, {
    shared: 1,
    decide(signed, cost, maxDelayMs, config, [elapsedMs]) {
      const state: FixedWindowState = { windowStartMs: 0, count: levelOf(signed) };
      return rateLimitAlgorithms['fixed-window'].decide(state, cost, elapsedMs ?? 0, config, maxDelayMs)
        .decision;
    },
  }),
  'sliding-window-counter': leanScript('rate-limiter/acquire-sliding-window-counter', false, windowConfig, {
    shared: 2,
    decide(signed, cost, maxDelayMs, config, [previousCount, elapsedMs]) {
      const state: SlidingWindowCounterState = {
        windowStartMs: 0,
        count: levelOf(signed),
        previousCount: previousCount ?? 0,
      };
      return rateLimitAlgorithms['sliding-window-counter'].decide(
        state,
        cost,
        elapsedMs ?? 0,
        config,
        maxDelayMs,
      ).decision;
    },
  }),
};
