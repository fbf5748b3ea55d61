import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Express } from 'express';
import type { FastifyInstance } from 'fastify';

/** A server listening on an ephemeral loopback port. */
export interface LoopbackServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts an Express app on 127.0.0.1 and an ephemeral port. */
export async function startExpress(app: Express): Promise<LoopbackServer> {
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Starts a Fastify app on 127.0.0.1 and an ephemeral port. */
export async function startFastify(app: FastifyInstance): Promise<LoopbackServer> {
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    close: async () => {
      // Connections a client aborted can linger until the client's keep-alive timeout otherwise.
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

/** A promise with its resolve function, to observe what a handler saw. */
export function deferred<T>(): { readonly promise: Promise<T>; resolve(value: T): void } {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}
