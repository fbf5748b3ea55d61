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

/**
 * The lean script of one algorithm (`scripts/lua/rate-limiter/acquire-<algorithm>.lua`): one
 * request against one limit, the common call. The script decides and writes the state as
 * `rate-limiter/acquire` would (the same `lib/rate-limiter-<algorithm>.lua`), but replies only with
 * the state it decided on, seen from its decision time and with the verdict in the sign of its first
 * integer; the client computes the decision's fields from that state with the TypeScript algorithm
 * itself. So Redis builds no reply table for the token bucket, GCRA and leaky bucket, ioredis
 * decodes one integer instead of six, and the decision fields are computed by the code the memory
 * state runs.
 *
 * @internal
 */
export interface LeanAcquireScript {
  /** The script; its reply is checked and turned into a decision by {@link decisionOf}. */
  readonly script: LuaScript<unknown>;
  /** Whether ARGV[3] is the request's maxDelayMs (the leaky bucket), before the config's integers. */
  readonly takesMaxDelay: boolean;
  /** The config's integers the script takes after nowMs, cost (and maxDelayMs), in ARGV order. */
  readonly configArgs: (config: AlgorithmConfig) => readonly number[];
  /**
   * The decision the script's reply stands for. Throws (a reply the script cannot give) on a reply
   * of the wrong shape, or when the TypeScript algorithm's verdict is not the script's.
   */
  readonly decisionOf: (
    reply: unknown,
    cost: number,
    maxDelayMs: number,
    config: AlgorithmConfig,
  ) => RateLimitStateDecision;
}

/** The reply's first integer: the level the script decided on, >= 0 when allowed, -1 - level when denied. */
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
  'token-bucket': {
    script: scriptOf('rate-limiter/acquire-token-bucket'),
    takesMaxDelay: false,
    configArgs: scaledConfig,
    decisionOf(reply, cost, maxDelayMs, config) {
      const signed = integerReply(reply);
      const state: TokenBucketState = { scaledTokens: levelOf(signed), refilledAtMs: 0 };
      return checked(
        rateLimitAlgorithms['token-bucket'].decide(state, cost, 0, config, maxDelayMs).decision,
        signed,
      );
    },
  },
  gcra: {
    script: scriptOf('rate-limiter/acquire-gcra'),
    takesMaxDelay: false,
    configArgs: scaledConfig,
    decisionOf(reply, cost, maxDelayMs, config) {
      const signed = integerReply(reply);
      const { wholeMs, rest } = instantAhead(levelOf(signed), config.msScaled);
      const state: GcraState = { tatMs: wholeMs, tatRemainder: rest };
      return checked(rateLimitAlgorithms.gcra.decide(state, cost, 0, config, maxDelayMs).decision, signed);
    },
  },
  'leaky-bucket': {
    script: scriptOf('rate-limiter/acquire-leaky-bucket'),
    takesMaxDelay: true,
    configArgs: scaledConfig,
    decisionOf(reply, cost, maxDelayMs, config) {
      const signed = integerReply(reply);
      const { wholeMs, rest } = instantAhead(levelOf(signed), config.msScaled);
      const state: LeakyBucketState = { nextFreeMs: wholeMs, nextFreeRemainder: rest };
      return checked(
        rateLimitAlgorithms['leaky-bucket'].decide(state, cost, 0, config, maxDelayMs).decision,
        signed,
      );
    },
  },
  'fixed-window': {
    script: scriptOf('rate-limiter/acquire-fixed-window'),
    takesMaxDelay: false,
    configArgs: windowConfig,
    decisionOf(reply, cost, maxDelayMs, config) {
      const [first, elapsed] = arrayReply(reply, 2);
      const signed = integerReply(first);
      const state: FixedWindowState = { windowStartMs: 0, count: levelOf(signed) };
      const nowMs = integerReply(elapsed);
      return checked(
        rateLimitAlgorithms['fixed-window'].decide(state, cost, nowMs, config, maxDelayMs).decision,
        signed,
      );
    },
  },
  'sliding-window-counter': {
    script: scriptOf('rate-limiter/acquire-sliding-window-counter'),
    takesMaxDelay: false,
    configArgs: windowConfig,
    decisionOf(reply, cost, maxDelayMs, config) {
      const [first, previous, elapsed] = arrayReply(reply, 3);
      const signed = integerReply(first);
      const state: SlidingWindowCounterState = {
        windowStartMs: 0,
        count: levelOf(signed),
        previousCount: integerReply(previous),
      };
      const nowMs = integerReply(elapsed);
      return checked(
        rateLimitAlgorithms['sliding-window-counter'].decide(state, cost, nowMs, config, maxDelayMs).decision,
        signed,
      );
    },
  },
};
