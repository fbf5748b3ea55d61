import type { Request, Response } from 'express';

import type { HttpRequestInfo } from '../core/http-request-info.js';
import type { HttpResponsePlan } from '../core/http-response-plan.js';

/** @internal */
export function expressRequestInfo(request: Request): HttpRequestInfo {
  const route = (request.route as { path?: unknown } | undefined)?.path;
  return {
    method: request.method,
    path: request.baseUrl + request.path,
    route: typeof route === 'string' ? request.baseUrl + route : undefined,
    headers: request.headers,
    remoteAddress: request.socket.remoteAddress,
  };
}

/** Writes a planned response with Node's own methods, so it works on Express 4 and 5 alike. @internal */
export function sendPlan(response: Response, plan: HttpResponsePlan): void {
  if (response.headersSent || response.writableEnded || response.destroyed) return;
  response.statusCode = plan.status;
  for (const [name, value] of Object.entries(plan.headers)) response.setHeader(name, value);
  response.setHeader('Content-Type', plan.contentType);
  response.end(plan.body);
}
