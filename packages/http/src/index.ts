/**
 * HTTP integration for hyx: the framework-neutral core of the Express (`@hyx/http/express`) and
 * Fastify (`@hyx/http/fastify`) adapters, deadline propagation, and `hyxFetch`.
 *
 * @packageDocumentation
 */
export { clientIp, type TrustProxy } from './core/client-ip.js';
export { headerValue, type HttpRequestInfo } from './core/http-request-info.js';
export type { HttpResponsePlan } from './core/http-response-plan.js';
export {
  HTTP_RATE_LIMIT_DEFAULTS,
  type HttpRateLimitOptions,
  type HttpRateLimitRule,
  type RateLimitKey,
  type RateLimitedDetails,
} from './core/http-rate-limit-options.js';
export { httpRateLimit, type HttpRateLimit, type HttpRateLimitVerdict } from './core/http-rate-limit.js';
export { ClientClosedError, responseForError, type ProtectOptions } from './core/protect-core.js';
export {
  CORRELATION_ID_HEADER,
  HYX_TIMEOUT_HEADER,
  formatGrpcTimeout,
  parseGrpcTimeout,
  requestBudgetMs,
} from './deadline/request-budget.js';
export {
  REQUEST_CONTEXT_DEFAULTS,
  requestContextInit,
  type RequestContextOptions,
} from './deadline/request-context.js';
export { createHyxFetch, hyxFetch, type HyxFetch, type HyxFetchOptions } from './deadline/hyx-fetch.js';
