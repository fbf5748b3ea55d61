import type { Clock, RateLimiter } from '@hyx/local';

import type { TrustProxy } from './client-ip.js';
import type { HttpRequestInfo } from './http-request-info.js';

/**
 * Whose limit a request counts against:
 *
 * - `'ip'`: the client address (see `trustProxy`);
 * - `'route'`: the route, one limit for everybody (`GET /books/:id`);
 * - `'ip-and-route'`: each client on each route;
 * - `'global'`: one limit for all requests;
 * - `{ header: 'x-api-key' }`: the value of a header, e.g. an API key;
 * - a function of the request: e.g. the authenticated user id.
 *
 * A header or function that yields `undefined` (no API key, no user) leaves the request out of
 * that limit; add an `'ip'` limit beside it to cover anonymous requests.
 *
 * @example
 * ```ts
 * import type { RateLimitKey } from '@hyx/http';
 * const byUser: RateLimitKey<{ user?: { id: string } }> = (request) => request.user?.id;
 * ```
 */
export type RateLimitKey<TRequest> =
  | 'ip'
  | 'route'
  | 'ip-and-route'
  | 'global'
  | { readonly header: string }
  | ((request: TRequest, info: HttpRequestInfo) => string | undefined | PromiseLike<string | undefined>);

/**
 * One limit applied to requests: a limiter (local or Redis) and the key to count against.
 *
 * @example
 * ```ts
 * import { rateLimiter } from '@hyx/local';
 * import type { HttpRateLimitRule } from '@hyx/http';
 * const perIp: HttpRateLimitRule<unknown> = {
 *   limiter: rateLimiter({ name: 'per-ip', limit: 100, intervalMs: 60_000 }),
 *   key: 'ip',
 *   windowMs: 60_000,
 * };
 * ```
 */
export interface HttpRateLimitRule<TRequest> {
  readonly limiter: RateLimiter;
  /** @defaultValue `'ip'` */
  readonly key?: RateLimitKey<TRequest> | undefined;
  /** The policy's name in the `RateLimit` headers. @defaultValue the limiter's `name` */
  readonly policyName?: string | undefined;
  /** The window advertised as `w` in `RateLimit-Policy`; left out when not given. */
  readonly windowMs?: number | undefined;
}

/**
 * What a refused request is answered with, handed to `limitedBody`.
 *
 * @example
 * ```ts
 * import type { RateLimitedDetails } from '@hyx/http';
 * const body = (details: RateLimitedDetails) => ({ message: `slow down for ${details.retryAfterMs} ms` });
 * ```
 */
export interface RateLimitedDetails {
  /** The wait after which every refusing limit would allow the request. */
  readonly retryAfterMs: number;
  /** The names of the limits that refused. */
  readonly policyNames: readonly string[];
}

/**
 * Options of the rate-limit middleware (`rateLimit` in `@hyx/http/express`, `hyxRateLimit` in
 * `@hyx/http/fastify`).
 *
 * @example
 * ```ts
 * import { rateLimiter } from '@hyx/local';
 * import type { HttpRateLimitOptions } from '@hyx/http';
 * const options: HttpRateLimitOptions<unknown> = {
 *   limits: [{ limiter: rateLimiter({ name: 'per-ip', limit: 100, intervalMs: 60_000 }), key: 'ip' }],
 *   trustProxy: 1,
 *   skipPaths: ['/health'],
 *   costByRoute: { 'POST /upload': 10 },
 * };
 * ```
 */
export interface HttpRateLimitOptions<TRequest> {
  /**
   * The limits every request must pass, all or nothing: when one refuses, the units the others
   * took are refunded.
   */
  readonly limits: readonly HttpRateLimitRule<TRequest>[];
  /** How many proxies of yours append to `X-Forwarded-For`; see {@link TrustProxy}. @defaultValue `0` */
  readonly trustProxy?: TrustProxy | undefined;
  /** IPv6 clients are counted per network of this prefix length. @defaultValue `56` */
  readonly ipv6PrefixLength?: number | undefined;
  /** Paths that are never limited: exact strings or regular expressions. @defaultValue `[]` */
  readonly skipPaths?: readonly (string | RegExp)[] | undefined;
  /** Requests for which this returns true are never limited. */
  readonly skip?: ((request: TRequest, info: HttpRequestInfo) => boolean) | undefined;
  /**
   * Cost units per route, looked up by `'METHOD route'` then `'route'` (the route pattern when the
   * framework knows it, else the path). @defaultValue `{}`
   */
  readonly costByRoute?: Readonly<Record<string, number>> | undefined;
  /** The cost of a request when `costByRoute` has no entry: a number or a function of the request. @defaultValue `1` */
  readonly cost?: number | ((request: TRequest, info: HttpRequestInfo) => number) | undefined;
  /** Send `RateLimit` and `RateLimit-Policy`. @defaultValue `true` */
  readonly standardHeaders?: boolean | undefined;
  /** Send `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`. @defaultValue `false` */
  readonly legacyHeaders?: boolean | undefined;
  /**
   * The longest to wait for the limiters' answer; beyond it the request is answered 503, as when
   * the backend fails and the limiter is set to reject. @defaultValue `1000`
   */
  readonly decisionTimeoutMs?: number | undefined;
  /** The body of a 429: a string (sent as text) or a value sent as JSON. @defaultValue `{ error: 'rate_limited', message, retryAfterMs }` */
  readonly limitedBody?: ((details: RateLimitedDetails) => unknown) | undefined;
  /** @defaultValue `systemClock` of `@hyx/local` */
  readonly clock?: Clock | undefined;
}

/**
 * The defaults of {@link HttpRateLimitOptions}.
 *
 * @example
 * ```ts
 * import { HTTP_RATE_LIMIT_DEFAULTS } from '@hyx/http';
 * console.log(HTTP_RATE_LIMIT_DEFAULTS.decisionTimeoutMs); // 1000
 * ```
 */
export const HTTP_RATE_LIMIT_DEFAULTS = Object.freeze({
  trustProxy: 0,
  ipv6PrefixLength: 56,
  standardHeaders: true,
  legacyHeaders: false,
  decisionTimeoutMs: 1000,
});
