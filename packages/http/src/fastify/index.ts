/**
 * Fastify adapters of `@hyx/http`: the `hyxRateLimit` plugin and `rateLimitHook`, `protect`, and
 * the `hyxContext` plugin.
 *
 * @packageDocumentation
 */
export { hyxRateLimit, rateLimitHook } from './rate-limit.js';
export { protect, type ProtectedHandler } from './protect.js';
export { hyxContext } from './hyx-context.js';
