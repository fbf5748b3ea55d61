import type { FastifyReply, FastifyRequest } from 'fastify';

import type { HttpRequestInfo } from '../core/http-request-info.js';
import type { HttpResponsePlan } from '../core/http-response-plan.js';

/**
 * A Fastify request seen as {@link HttpRequestInfo}. `path` and `route` are getters computed on
 * first read: Fastify's `routeOptions` builds a new object on every access, and most requests (a
 * limit by IP or by header, no per-route cost) never need either. Object-literal getters are own
 * enumerable properties, so spreading or serialising the info still shows every field.
 *
 * @internal
 */
export function fastifyRequestInfo(request: FastifyRequest): HttpRequestInfo {
  let path: string | undefined;
  let route: string | undefined | null = null;
  return {
    method: request.method,
    get path(): string {
      if (path === undefined) {
        const query = request.url.indexOf('?');
        path = query === -1 ? request.url : request.url.slice(0, query);
      }
      return path;
    },
    get route(): string | undefined {
      if (route === null) {
        const matched: unknown = request.routeOptions.url;
        route = typeof matched === 'string' ? matched : undefined;
      }
      return route;
    },
    headers: request.headers,
    remoteAddress: request.raw.socket.remoteAddress,
  };
}

/** @internal */
export function sendPlan(reply: FastifyReply, plan: HttpResponsePlan): FastifyReply {
  return reply.code(plan.status).headers(plan.headers).type(plan.contentType).send(plan.body);
}
