/**
 * Express adapters of `@hyx/http`: `rateLimit`, `protect` and `hyxContext`.
 *
 * @packageDocumentation
 */
export { rateLimit } from './rate-limit.js';
export { protect, type ProtectedHandler } from './protect.js';
export { hyxContext } from './hyx-context.js';
