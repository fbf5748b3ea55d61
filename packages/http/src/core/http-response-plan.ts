/**
 * A response hyx wants written, whatever the framework: the adapters send it as it is.
 *
 * @example
 * ```ts
 * import type { HttpResponsePlan } from '@hyx/http';
 * const plan: HttpResponsePlan = { status: 503, headers: {}, contentType: 'application/json', body: '{}' };
 * ```
 */
export interface HttpResponsePlan {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly contentType: string;
  readonly body: string;
}

/** A body that is a string is sent as text; anything else as JSON. */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>>,
): HttpResponsePlan {
  if (typeof body === 'string') return { status, headers, contentType: 'text/plain; charset=utf-8', body };
  return { status, headers, contentType: 'application/json; charset=utf-8', body: JSON.stringify(body) };
}
