import type { FastifyReply, FastifyRequest } from 'fastify';

import type { HttpRequestInfo } from '../core/http-request-info.js';
import type { HttpResponsePlan } from '../core/http-response-plan.js';

/** @internal */
export function fastifyRequestInfo(request: FastifyRequest): HttpRequestInfo {
  const query = request.url.indexOf('?');
  const route: unknown = request.routeOptions.url;
  return {
    method: request.method,
    path: query === -1 ? request.url : request.url.slice(0, query),
    route: typeof route === 'string' ? route : undefined,
    headers: request.headers,
    remoteAddress: request.raw.socket.remoteAddress,
  };
}

/**
 * {@link fastifyRequestInfo} without the route, for checks that never read it: Fastify answers
 * `routeOptions` with a new object of a dozen fields on every read.
 *
 * @internal
 */
export function fastifyRequestInfoWithoutRoute(request: FastifyRequest): HttpRequestInfo {
  const query = request.url.indexOf('?');
  return {
    method: request.method,
    path: query === -1 ? request.url : request.url.slice(0, query),
    route: undefined,
    headers: request.headers,
    remoteAddress: request.raw.socket.remoteAddress,
  };
}

/** @internal */
export function sendPlan(reply: FastifyReply, plan: HttpResponsePlan): FastifyReply {
  return reply.code(plan.status).headers(plan.headers).type(plan.contentType).send(plan.body);
}
