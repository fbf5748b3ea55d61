import type { IncomingMessage } from 'node:http';

import type { HyxContextInit } from '@hyx/local';

// Body parsers and some frameworks resume a request from stream events, outside the async context
// the incoming middleware opened; `protect` re-enters the request's context from here.
const contexts = new WeakMap<IncomingMessage, HyxContextInit>();

/** @internal */
export function rememberContext(request: IncomingMessage, init: HyxContextInit): void {
  contexts.set(request, init);
}

/** @internal */
export function rememberedContext(request: IncomingMessage): HyxContextInit | undefined {
  return contexts.get(request);
}
