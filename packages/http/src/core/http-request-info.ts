import type { IncomingHttpHeaders } from 'node:http';

/**
 * What hyx reads from an incoming request, whatever the framework: the adapters for Express and
 * Fastify build it, and user callbacks receive it beside the framework's own request object.
 *
 * @example
 * ```ts
 * import type { HttpRequestInfo } from '@hyx/http';
 * const info: HttpRequestInfo = {
 *   method: 'GET', path: '/books/7', route: '/books/:id', headers: {}, remoteAddress: '127.0.0.1',
 * };
 * ```
 */
export interface HttpRequestInfo {
  /** Upper case, as the client sent it. */
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  /** The route pattern that matched (`/books/:id`), when the framework knows it at this point. */
  readonly route: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** The socket's peer address; `undefined` once the socket is gone. */
  readonly remoteAddress: string | undefined;
}

/**
 * The first value of a request header, or `undefined` (repeated headers arrive as arrays).
 *
 * @example
 * ```ts
 * import { headerValue } from '@hyx/http';
 * headerValue({ 'x-api-key': ['a', 'b'] }, 'X-API-Key'); // 'a'
 * ```
 */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
