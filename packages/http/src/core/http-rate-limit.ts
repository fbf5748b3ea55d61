import { isResilienceError, systemClock, type RateLimitDecision, type RateLimiter } from '@hyx/local';

import { clientIp } from './client-ip.js';
import { headerValue, type HttpRequestInfo } from './http-request-info.js';
import {
  HTTP_RATE_LIMIT_DEFAULTS,
  type HttpRateLimitOptions,
  type HttpRateLimitRule,
  type RateLimitKey,
  type RateLimitedDetails,
} from './http-rate-limit-options.js';
import { DECISION_TIMED_OUT, DecisionWatchdog } from './decision-watchdog.js';
import { jsonResponse, type HttpResponsePlan } from './http-response-plan.js';
import {
  rateLimitHeaders,
  secondsCeil,
  singlePolicyHeaders,
  type PolicyDecision,
} from './rate-limit-headers.js';

/**
 * What the rate-limit middleware does with one request: let it through (with the headers to add
 * to its response), or answer it now.
 *
 * @example
 * ```ts
 * import type { HttpRateLimitVerdict } from '@hyx/http';
 * const status = (verdict: HttpRateLimitVerdict) => (verdict.allowed ? 200 : verdict.response.status);
 * ```
 */
export type HttpRateLimitVerdict =
  | { readonly allowed: true; readonly headers: Readonly<Record<string, string>> }
  | { readonly allowed: false; readonly response: HttpResponsePlan };

/**
 * Decides on requests; the framework-neutral core of the Express and Fastify rate-limit middleware.
 *
 * @example
 * ```ts
 * import { rateLimiter } from '@hyx/local';
 * import { httpRateLimit } from '@hyx/http';
 * const limit = httpRateLimit<unknown>({ limits: [{ limiter: rateLimiter({ limit: 10, intervalMs: 1000 }) }] });
 * const verdict = await limit.check(undefined, {
 *   method: 'GET', path: '/', route: undefined, headers: {}, remoteAddress: '127.0.0.1',
 * });
 * ```
 */
export interface HttpRateLimit<TRequest> {
  check(request: TRequest, info: HttpRequestInfo): Promise<HttpRateLimitVerdict>;
  /**
   * {@link HttpRateLimit.check} without a promise when there is nothing to wait for: the verdict
   * itself when every limiter decided in process, a promise when one answers asynchronously
   * (Redis) or a callback failed (rejected, as `check` rejects). It never throws.
   */
  checkNow(request: TRequest, info: HttpRequestInfo): HttpRateLimitVerdict | Promise<HttpRateLimitVerdict>;
  /**
   * Whether a check reads `info.route`: a route key, `costByRoute`, or a callback (which may read
   * anything). When false, an adapter may leave the route out of the request info, as finding it
   * costs some frameworks (Fastify builds an object to answer `routeOptions`).
   */
  readonly readsRoute: boolean;
}

interface ResolvedLimit<TRequest> {
  readonly limiter: RateLimiter;
  readonly key: RateLimitKey<TRequest>;
  readonly policyName: string;
  readonly windowMs: number | undefined;
  /** True when the limiter's `tryAcquireNow` can stand in for its `tryAcquire`. */
  readonly answersNow: boolean;
  /** The headers of an allowed decision when this is the only limit. */
  readonly headersOfOne: ReturnType<typeof singlePolicyHeaders>;
}

interface Taken<TRequest> {
  readonly limit: ResolvedLimit<TRequest>;
  readonly key: string;
  readonly decision: RateLimitDecision;
}

/** Peer addresses whose `ip:` key one middleware keeps: a flood of addresses clears it. */
const MAX_IP_KEYS = 10_000;

const NO_HEADERS: HttpRateLimitVerdict = Object.freeze({ allowed: true, headers: Object.freeze({}) });

function checkNumber(name: string, value: unknown, min: number, integer: boolean): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`httpRateLimit: ${name} must be a number, got ${describe(value)}`);
  }
  if (value < min || (integer && !Number.isInteger(value)) || !Number.isFinite(value)) {
    throw new RangeError(
      `httpRateLimit: ${name} must be ${integer ? 'an integer' : 'a finite number'} >= ${min}, got ${value}`,
    );
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

function validate<TRequest>(options: HttpRateLimitOptions<TRequest>): void {
  const limits: readonly HttpRateLimitRule<TRequest>[] = options.limits;
  // Not `Array.isArray(limits)`: that would narrow the elements to `any`.
  const isArray: (value: unknown) => boolean = Array.isArray;
  if (!isArray(limits) || limits.length === 0) {
    throw new TypeError('httpRateLimit: limits must be a non-empty array of { limiter, key? }');
  }
  limits.forEach((limit, index) => {
    if (typeof (limit as { limiter?: { tryAcquire?: unknown } }).limiter?.tryAcquire !== 'function') {
      throw new TypeError(`httpRateLimit: limits[${index}].limiter must be a RateLimiter`);
    }
    checkNumber(`limits[${index}].windowMs`, limit.windowMs, 1, false);
  });
  checkNumber('trustProxy', options.trustProxy, 0, true);
  checkNumber('ipv6PrefixLength', options.ipv6PrefixLength, 0, true);
  checkNumber('decisionTimeoutMs', options.decisionTimeoutMs, 1, false);
  if (typeof options.cost === 'number') checkNumber('cost', options.cost, 1, true);
  for (const [route, cost] of Object.entries(options.costByRoute ?? {})) {
    checkNumber(`costByRoute[${JSON.stringify(route)}]`, cost, 1, true);
  }
}

/**
 * Builds the framework-neutral rate-limit check. Every limit is asked at once; the request passes
 * only when all allow it, and when one refuses, the units the others took are refunded (on
 * limiters with `refund`), so a refused request costs nothing. A limiter that fails with
 * `BACKEND_UNAVAILABLE` (Redis down, limiter set to reject) or does not answer within
 * `decisionTimeoutMs` gets a quick 503; a limiter that fails open answers "allowed" and the
 * response carries no rate-limit headers.
 *
 * @example
 * ```ts
 * import { rateLimiter } from '@hyx/local';
 * import { httpRateLimit } from '@hyx/http';
 * const limit = httpRateLimit<{ userId?: string }>({
 *   limits: [
 *     { limiter: rateLimiter({ name: 'per-ip', limit: 100, intervalMs: 60_000 }), key: 'ip' },
 *     { limiter: rateLimiter({ name: 'per-user', limit: 1000, intervalMs: 3_600_000 }), key: (request) => request.userId },
 *   ],
 * });
 * ```
 */
export function httpRateLimit<TRequest>(options: HttpRateLimitOptions<TRequest>): HttpRateLimit<TRequest> {
  validate(options);
  const limits: readonly ResolvedLimit<TRequest>[] = options.limits.map((limit) => {
    const policyName = limit.policyName ?? limit.limiter.name;
    return {
      limiter: limit.limiter,
      key: limit.key ?? 'ip',
      policyName,
      windowMs: limit.windowMs,
      answersNow: answersNow(limit.limiter),
      headersOfOne: singlePolicyHeaders(policyName, limit.windowMs),
    };
  });
  const clock = options.clock ?? systemClock;
  const trustProxy = options.trustProxy ?? HTTP_RATE_LIMIT_DEFAULTS.trustProxy;
  const ipv6PrefixLength = options.ipv6PrefixLength ?? HTTP_RATE_LIMIT_DEFAULTS.ipv6PrefixLength;
  const skipPaths = options.skipPaths ?? [];
  const costByRoute = options.costByRoute ?? {};
  const headerOptions = {
    standard: options.standardHeaders ?? HTTP_RATE_LIMIT_DEFAULTS.standardHeaders,
    legacy: options.legacyHeaders ?? HTTP_RATE_LIMIT_DEFAULTS.legacyHeaders,
  };
  const watchdog = new DecisionWatchdog(
    clock,
    options.decisionTimeoutMs ?? HTTP_RATE_LIMIT_DEFAULTS.decisionTimeoutMs,
  );
  const limitedBody = options.limitedBody ?? defaultLimitedBody;

  // Only a key function can answer with a promise; without one, keys are found with no await.
  const hasKeyFunctions = limits.some((limit) => typeof limit.key === 'function');

  const isSkipped = (request: TRequest, info: HttpRequestInfo): boolean =>
    skipPaths.some((path) => (typeof path === 'string' ? path === info.path : path.test(info.path))) ||
    (options.skip?.(request, info) ?? false);

  const hasCostByRoute = Object.keys(costByRoute).length > 0;

  /** The route's cost, if `costByRoute` names it; the route is looked up only when it has entries. */
  const routeCostOf = (info: HttpRequestInfo): number | undefined => {
    if (!hasCostByRoute) return undefined;
    const route = info.route ?? info.path;
    return costByRoute[`${info.method} ${route}`] ?? costByRoute[route];
  };

  const costOf = (request: TRequest, info: HttpRequestInfo): number =>
    routeCostOf(info) ??
    (typeof options.cost === 'function' ? options.cost(request, info) : (options.cost ?? 1));

  const keyOf = (
    key: RateLimitKey<TRequest>,
    request: TRequest,
    info: HttpRequestInfo,
  ): string | undefined | PromiseLike<string | undefined> => {
    if (typeof key === 'function') return key(request, info);
    if (typeof key === 'object') {
      const value = headerValue(info.headers, key.header);
      return value === undefined || value === '' ? undefined : `header:${value}`;
    }
    if (key === 'global') return 'global';
    if (key === 'route') return `route:${routeOf(info)}`;
    const ip = ipKeyOf(info);
    return key === 'ip' ? ip : `${ip}|route:${routeOf(info)}`;
  };

  const routeOf = (info: HttpRequestInfo): string => `${info.method} ${info.route ?? info.path}`;

  // Clients repeat: the key of a peer address that alone says who the client is (no proxy
  // trusted, or no X-Forwarded-For) is kept, so such a request costs one lookup, not the
  // building of two strings. Cleared when full, as the address cache in client-ip.ts is.
  const ipKeys = new Map<string, string>();

  const ipKeyOf = (info: HttpRequestInfo): string => {
    const address = info.remoteAddress;
    const forwardedFor = info.headers['x-forwarded-for'];
    const isPeerTheClient = trustProxy === 0 || forwardedFor === undefined;
    let key = isPeerTheClient && address !== undefined ? ipKeys.get(address) : undefined;
    if (key !== undefined) return key;
    const ip = clientIp({ remoteAddress: address, forwardedFor, trustProxy, ipv6PrefixLength });
    // A request whose socket is already gone is still counted, under one shared key.
    key = `ip:${ip ?? 'unknown'}`;
    if (isPeerTheClient && address !== undefined) {
      if (ipKeys.size >= MAX_IP_KEYS) ipKeys.clear();
      ipKeys.set(address, key);
    }
    return key;
  };

  // The common shape (one limit, keyed without a function) skips the arrays and `allSettled`
  // that combining several limits needs: same verdicts, a few allocations fewer per request.
  const onlyLimit = limits.length === 1 && !hasKeyFunctions ? limits[0] : undefined;

  const decide = async (request: TRequest, info: HttpRequestInfo): Promise<HttpRateLimitVerdict> => {
    if (isSkipped(request, info)) return NO_HEADERS;
    const cost = costOf(request, info);
    const keys = hasKeyFunctions
      ? await Promise.all(limits.map(async (limit) => keyOf(limit.key, request, info)))
      : limits.map((limit) => keyOf(limit.key, request, info) as string | undefined);
    const asked: { limit: ResolvedLimit<TRequest>; key: string; decision: Promise<RateLimitDecision> }[] = [];
    limits.forEach((limit, index) => {
      const key = keys[index];
      if (key !== undefined) asked.push({ limit, key, decision: limit.limiter.tryAcquire({ key, cost }) });
    });
    if (asked.length === 0) return NO_HEADERS;
    const all = Promise.allSettled(asked.map((entry) => entry.decision));
    const settled = await watchdog.within(all);
    if (settled === DECISION_TIMED_OUT) {
      // The limiters may still answer: give back whatever they grant a request that was not served.
      void all.then((late) => {
        refund(takenOf(asked, late), cost);
      });
      return { allowed: false, response: unavailableResponse() };
    }
    const taken = takenOf(asked, settled);
    const failure = settled.find((result) => result.status === 'rejected');
    if (failure !== undefined) {
      refund(taken, cost);
      return failedVerdict(failure.reason);
    }
    return verdictOf(taken, cost);
  };

  /**
   * `decide` for one limit: the same steps as the general case, without combining. A limiter that
   * decides in process answers here and now; only a pending decision needs the watchdog, as only
   * a limiter that waits on something outside the process can hang.
   */
  const decideOne = (
    limit: ResolvedLimit<TRequest>,
    key: string | undefined,
    cost: number,
  ): HttpRateLimitVerdict | Promise<HttpRateLimitVerdict> => {
    if (key === undefined) return NO_HEADERS;
    const decided = limit.answersNow
      ? (limit.limiter.tryAcquireNow?.({ key, cost }) ?? limit.limiter.tryAcquire({ key, cost }))
      : limit.limiter.tryAcquire({ key, cost });
    if (isThenable(decided)) return decideOneLater(limit, key, cost, Promise.resolve(decided));
    return verdictOfOne(limit, key, decided, cost);
  };

  const decideOneLater = async (
    limit: ResolvedLimit<TRequest>,
    key: string,
    cost: number,
    pending: Promise<RateLimitDecision>,
  ): Promise<HttpRateLimitVerdict> => {
    let decision: RateLimitDecision | typeof DECISION_TIMED_OUT;
    try {
      decision = await watchdog.within(pending);
    } catch (error) {
      return failedVerdict(error);
    }
    if (decision === DECISION_TIMED_OUT) {
      // The limiter may still answer: give back what it grants a request that was not served.
      pending.then(
        (late) => {
          refund([{ limit, key, decision: late }], cost);
        },
        () => {},
      );
      return { allowed: false, response: unavailableResponse() };
    }
    return verdictOfOne(limit, key, decision, cost);
  };

  const verdictOfOne = (
    limit: ResolvedLimit<TRequest>,
    key: string,
    decision: RateLimitDecision,
    cost: number,
  ): HttpRateLimitVerdict => {
    if (!decision.allowed) return verdictOf([{ limit, key, decision }], cost);
    return { allowed: true, headers: limit.headersOfOne(decision, headerOptionsNow()) };
  };

  /** The verdict once every asked limit has answered: allowed by all, or refused by some. */
  const verdictOf = (taken: readonly Taken<TRequest>[], cost: number): HttpRateLimitVerdict => {
    const denied = taken.filter((entry) => !entry.decision.allowed);
    if (denied.length === 0) return { allowed: true, headers: headersOf(taken) };
    const granted = taken.filter((entry) => entry.decision.allowed);
    refund(granted, cost);
    const shown = taken.map((entry) =>
      entry.decision.allowed ? { ...entry, decision: refunded(entry.decision, cost) } : entry,
    );
    const retryAfterMs = Math.max(...denied.map((entry) => entry.decision.retryAfterMs));
    const details: RateLimitedDetails = {
      retryAfterMs,
      policyNames: denied.map((entry) => entry.limit.policyName),
    };
    const headers = { ...headersOf(shown), 'Retry-After': String(secondsCeil(retryAfterMs)) };
    return { allowed: false, response: jsonResponse(429, limitedBody(details), headers) };
  };

  const headersOf = (taken: readonly Taken<TRequest>[]): Record<string, string> => {
    const decisions: PolicyDecision[] = taken.map((entry) => ({
      policyName: entry.limit.policyName,
      windowMs: entry.limit.windowMs,
      decision: entry.decision,
    }));
    return rateLimitHeaders(decisions, headerOptionsNow());
  };

  // The clock is read only for the legacy reset time, the one header that needs it.
  const headerOptionsWithoutClock = { ...headerOptions, nowMs: 0 };
  const headerOptionsNow = (): typeof headerOptionsWithoutClock =>
    headerOptions.legacy ? { ...headerOptions, nowMs: clock.now() } : headerOptionsWithoutClock;

  // One limit goes straight to `decideOne`: returning its promise from an `async` function would
  // add a frame and the microtasks of adopting a promise to every request.
  const checkNow = (
    request: TRequest,
    info: HttpRequestInfo,
  ): HttpRateLimitVerdict | Promise<HttpRateLimitVerdict> => {
    if (onlyLimit === undefined) return decide(request, info);
    try {
      if (isSkipped(request, info)) return NO_HEADERS;
      const cost = costOf(request, info);
      // Without key functions a key is found synchronously.
      return decideOne(onlyLimit, keyOf(onlyLimit.key, request, info) as string | undefined, cost);
    } catch (error) {
      // A throwing skip, cost or key callback rejects the check, as it does with several limits.
      return Promise.reject(error);
    }
  };

  const check = (request: TRequest, info: HttpRequestInfo): Promise<HttpRateLimitVerdict> => {
    const verdict = checkNow(request, info);
    return verdict instanceof Promise ? verdict : Promise.resolve(verdict);
  };

  const readsRoute =
    hasCostByRoute ||
    options.skip !== undefined ||
    typeof options.cost === 'function' ||
    limits.some(
      (limit) => typeof limit.key === 'function' || limit.key === 'route' || limit.key === 'ip-and-route',
    );

  return { check, checkNow, readsRoute };
}

/**
 * True when `tryAcquireNow` comes from the same object as `tryAcquire`: a wrapper that replaces
 * `tryAcquire` (a decorator made with `Object.create(limiter)`, a test double) and inherits the
 * limiter's `tryAcquireNow` would otherwise be bypassed.
 */
function answersNow(limiter: RateLimiter): boolean {
  if (typeof limiter.tryAcquireNow !== 'function') return false;
  let owner: object | null = limiter;
  while (owner !== null && !Object.hasOwn(owner, 'tryAcquire'))
    owner = Object.getPrototypeOf(owner) as object | null;
  return owner !== null && Object.hasOwn(owner, 'tryAcquireNow');
}

/** A limiter's own promise type may be any thenable; only a real decision is used at once. */
function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown }).then === 'function';
}

function takenOf<TRequest>(
  asked: readonly { limit: ResolvedLimit<TRequest>; key: string }[],
  settled: readonly PromiseSettledResult<RateLimitDecision>[],
): Taken<TRequest>[] {
  const taken: Taken<TRequest>[] = [];
  settled.forEach((result, index) => {
    const entry = asked[index];
    if (result.status === 'fulfilled' && entry !== undefined)
      taken.push({ ...entry, decision: result.value });
  });
  return taken;
}

/**
 * A limiter that failed: a quick 503 when its backend is down and it is set to reject
 * (`BACKEND_UNAVAILABLE`); any other error goes to the framework's error handling.
 */
function failedVerdict(error: unknown): HttpRateLimitVerdict {
  if (isResilienceError(error, 'BACKEND_UNAVAILABLE'))
    return { allowed: false, response: unavailableResponse() };
  throw error;
}

/** Gives back the units of allowed decisions; best effort, never awaited by the response. */
function refund<TRequest>(taken: readonly Taken<TRequest>[], cost: number): void {
  for (const { limit, key, decision } of taken) {
    if (!decision.allowed || typeof limit.limiter.refund !== 'function') continue;
    limit.limiter.refund({ key, cost }).catch(() => {
      // A failed refund leaves the units taken: the limit errs on the strict side.
    });
  }
}

/** The decision as it stands after its refund, for the headers of the refused response. */
function refunded(decision: RateLimitDecision, cost: number): RateLimitDecision {
  return { ...decision, remaining: Math.min(decision.limit, decision.remaining + cost) };
}

function defaultLimitedBody(details: RateLimitedDetails): unknown {
  return { error: 'rate_limited', message: 'Too many requests', retryAfterMs: details.retryAfterMs };
}

function unavailableResponse(): HttpResponsePlan {
  return jsonResponse(503, { error: 'unavailable', message: 'Rate limiting is unavailable' }, {});
}
