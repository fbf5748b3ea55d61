/**
 * Listening and closing for Pixi's HTTP servers: loopback by default, an ephemeral port unless one
 * is given, and a close that also ends idle keep-alive connections so no socket keeps the process alive.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Express } from 'express';

/** A server Pixi started. */
export interface RunningServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The host part of a URL that reaches a server bound to `host` from this machine: a wildcard
 * address (every interface, as in a container) is reached on loopback; an IPv6 address is bracketed.
 */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts `app` on `host:port` (port 0: any free one). */
export function listen(app: Express, port: number, host: string): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server: Server = app.listen(port, host);
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      const { port: boundPort } = server.address() as AddressInfo;
      const shownHost = urlHost(host);
      resolve({
        url: `http://${shownHost}:${boundPort}`,
        port: boundPort,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => {
              done();
            });
            server.closeAllConnections();
          }),
      });
    });
  });
}
