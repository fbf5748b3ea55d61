import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';

import { backoff, bulkhead, circuitBreaker, compose, retry, timeout, type Policy } from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

import { ClientClosedError } from '../core/protect-core.js';
import { deferred, startExpress, type LoopbackServer } from '../test-support/loopback-server.js';
import { protect, type ProtectedHandler } from './protect.js';

const servers: LoopbackServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve<TAlt>(policy: Policy<TAlt>, handler: ProtectedHandler): Promise<string> {
  const app = express();
  app.get('/', protect(policy)(handler));
  app.use(
    (_error: unknown, _request: express.Request, response: express.Response, _next: express.NextFunction) => {
      response.status(500).end();
    },
  );
  const server = await startExpress(app);
  servers.push(server);
  return server.url;
}

/** Resolves with the signal's reason once it aborts. */
function abortReason(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => {
      resolve(signal.reason);
    });
  });
}

describe('express protect', () => {
  it('sends what the handler returns as JSON', async () => {
    const url = await serve(timeout({ timeoutMs: 5000 }), () => ({ ok: true }));
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it('answers 503 with Retry-After while the circuit is open', async () => {
    const breaker = circuitBreaker({
      name: 'stock',
      window: { kind: 'consecutive' },
      failureCount: 1,
      halfOpenAfterMs: 5000,
      clock: new FakeClock(0),
    });
    const url = await serve(breaker, () => {
      throw new Error('stock service failed');
    });
    expect((await fetch(url)).status).toBe(500);
    const refused = await fetch(url);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toMatchObject({ error: 'circuit_open' });
  });

  it('answers 502 when retries ran out on upstream errors, and 504 when the last attempt timed out', async () => {
    const noWait = { maxAttempts: 2, backoff: backoff.constant({ delayMs: 0 }) };
    const failing = await serve(retry(noWait), () => {
      throw new Error('upstream answered 500');
    });
    const badGateway = await fetch(failing);
    expect(badGateway.status).toBe(502);
    expect(await badGateway.json()).toMatchObject({ error: 'retry_exhausted' });
    const slow = await serve(
      compose(retry(noWait), timeout({ timeoutMs: 5 })),
      (_request, _response, { signal }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            reject(signal.reason as Error);
          });
        }),
    );
    expect((await fetch(slow)).status).toBe(504);
  });

  it('answers 503 when the bulkhead is full', async () => {
    const gate = deferred<undefined>();
    const started = deferred<undefined>();
    const url = await serve(bulkhead({ maxConcurrent: 1, maxQueue: 0 }), async () => {
      started.resolve(undefined);
      await gate.promise;
      return 'done';
    });
    const first = fetch(url);
    await started.promise;
    const refused = await fetch(url);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: 'bulkhead_full' });
    gate.resolve(undefined);
    expect((await first).status).toBe(200);
  });

  it('answers 504 when the policy times out, and the handler sees its signal abort', async () => {
    const seen = deferred<unknown>();
    const url = await serve(compose(timeout({ timeoutMs: 50 })), async (_request, _response, { signal }) => {
      const reason = await abortReason(signal);
      seen.resolve(reason);
      throw reason;
    });
    const response = await fetch(url);
    expect(response.status).toBe(504);
    expect(await seen.promise).toMatchObject({ code: 'TIMEOUT' });
  });

  it('aborts the handler work when the client disconnects', async () => {
    const started = deferred<undefined>();
    const seen = deferred<unknown>();
    const url = await serve(timeout({ timeoutMs: 60_000 }), async (_request, _response, { signal }) => {
      started.resolve(undefined);
      const reason = await abortReason(signal);
      seen.resolve(reason);
      throw reason;
    });
    const client = new AbortController();
    const request = fetch(url, { signal: client.signal });
    await started.promise;
    client.abort();
    await expect(request).rejects.toThrow();
    expect(await seen.promise).toBeInstanceOf(ClientClosedError);
  });
});
