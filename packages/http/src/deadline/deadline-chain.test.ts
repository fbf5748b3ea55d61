import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';

import { currentContext, remainingBudgetMs, systemClock, timeout, withContext } from '@hyx/local';

import { protect as protectExpress } from '../express/protect.js';
import { hyxContext as expressContext } from '../express/hyx-context.js';
import { protect as protectFastify } from '../fastify/protect.js';
import { hyxContext as fastifyContext } from '../fastify/hyx-context.js';
import {
  deferred,
  startExpress,
  startFastify,
  type LoopbackServer,
} from '../test-support/loopback-server.js';
import { createHyxFetch, hyxFetch } from './hyx-fetch.js';

const servers: LoopbackServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** What one service saw of its request. */
interface Seen {
  readonly budgetHeader: string | undefined;
  readonly correlationId: string | undefined;
}

function seenOf(headers: Record<string, string | string[] | undefined>): Seen {
  const budget = headers['hyx-timeout-ms'];
  return {
    budgetHeader: typeof budget === 'string' ? budget : undefined,
    correlationId: currentContext()?.correlationId,
  };
}

const CLIENT_BUDGET_MS = 300;
/** Service C needs this long for its work; it must not start with less. */
const C_WORK_MS = 1000;

describe('deadline propagation across services', () => {
  it('carries a 300 ms budget through three services; the third sees what is left and gives up at once', async () => {
    const seenA: Seen[] = [];
    const seenB: Seen[] = [];
    const seenC: Seen[] = [];
    let cWorkRuns = 0;
    const policy = timeout({ timeoutMs: 60_000 });

    // C (Express): would need C_WORK_MS, and refuses work that cannot finish within the budget.
    const c = express();
    c.use(expressContext());
    c.use((request, _response, next) => {
      seenC.push(seenOf(request.headers));
      next();
    });
    c.get(
      '/',
      protectExpress(policy, { minBudgetMs: C_WORK_MS })(() => {
        cWorkRuns += 1;
        return { done: true };
      }),
    );
    const serverC = await startExpress(c);
    servers.push(serverC);

    // B (Fastify): calls C with what is left of its budget.
    const b = Fastify();
    await b.register(fastifyContext);
    b.get(
      '/',
      protectFastify(policy)(async (request, reply, { signal }) => {
        seenB.push(seenOf(request.headers));
        const downstream = await hyxFetch(serverC.url, { signal });
        return reply.code(downstream.status).send(await downstream.text());
      }),
    );
    const serverB = await startFastify(b);
    servers.push(serverB);

    // A (Express): calls B.
    const a = express();
    a.use(expressContext());
    a.get(
      '/',
      protectExpress(policy)(async (request, response, { signal }) => {
        seenA.push(seenOf(request.headers));
        const downstream = await hyxFetch(serverB.url, { signal });
        response.status(downstream.status).send(await downstream.text());
      }),
    );
    const serverA = await startExpress(a);
    servers.push(serverA);

    // One request without a budget first, so that no first-request cost of the three servers is
    // charged to the budget under test.
    expect((await fetch(serverA.url)).status).toBe(200);
    for (const seen of [seenA, seenB, seenC]) seen.length = 0;
    expect(cWorkRuns).toBe(1);

    const response = await fetch(serverA.url, {
      headers: { 'hyx-timeout-ms': String(CLIENT_BUDGET_MS), 'x-correlation-id': 'chain-1' },
    });
    expect(response.status).toBe(504);
    expect(response.headers.get('x-correlation-id')).toBe('chain-1');
    expect(cWorkRuns).toBe(1);

    expect(seenA).toEqual([{ budgetHeader: '300', correlationId: 'chain-1' }]);
    expect(seenB.map((seen) => seen.correlationId)).toEqual(['chain-1']);
    expect(seenC.map((seen) => seen.correlationId)).toEqual(['chain-1']);
    const budgetB = Number(seenB[0]?.budgetHeader);
    const budgetC = Number(seenC[0]?.budgetHeader);
    // Each hop passes on only what is left: never more than its caller had, never nothing.
    expect(budgetB).toBeGreaterThan(0);
    expect(budgetB).toBeLessThanOrEqual(CLIENT_BUDGET_MS);
    expect(budgetC).toBeGreaterThan(0);
    expect(budgetC).toBeLessThanOrEqual(budgetB);
    expect(budgetC).toBeLessThan(C_WORK_MS);
  });

  it('lets handlers read the remaining budget, and answers 504 when the deadline passes', async () => {
    const seen = deferred<{ budgetMs: number | undefined; reason: unknown }>();
    const app = Fastify();
    await app.register(fastifyContext);
    app.get(
      '/',
      protectFastify(timeout({ timeoutMs: 60_000 }))(async (_request, _reply, { signal }) => {
        const budgetMs = remainingBudgetMs(systemClock);
        const reason = await new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            resolve(signal.reason);
          });
        });
        seen.resolve({ budgetMs, reason });
        throw reason;
      }),
    );
    const server = await startFastify(app);
    servers.push(server);
    const response = await fetch(server.url, { headers: { 'grpc-timeout': '100m' } });
    expect(response.status).toBe(504);
    const { budgetMs, reason } = await seen.promise;
    expect(budgetMs).toBeGreaterThan(0);
    expect(budgetMs).toBeLessThanOrEqual(100);
    expect(reason).toMatchObject({ code: 'TIMEOUT', policyName: 'request-deadline' });
  });

  it('fails fast without calling downstream when the budget is spent, and without a context is plain fetch', async () => {
    let hits = 0;
    const seenHeaders = deferred<Record<string, string | string[] | undefined>>();
    const app = express();
    app.get('/', (request, response) => {
      hits += 1;
      seenHeaders.resolve(request.headers);
      response.send('ok');
    });
    const server = await startExpress(app);
    servers.push(server);

    await expect(
      withContext({ deadlineMs: systemClock.now() - 1 }, () => hyxFetch(server.url)),
    ).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
    expect(hits).toBe(0);

    expect((await hyxFetch(server.url)).status).toBe(200);
    const headers = await seenHeaders.promise;
    expect(headers['hyx-timeout-ms']).toBeUndefined();
    expect(headers['x-correlation-id']).toBeUndefined();
  });

  it('sends the correlation id and, when asked, grpc-timeout', async () => {
    const seenHeaders = deferred<Record<string, string | string[] | undefined>>();
    const app = express();
    app.get('/', (request, response) => {
      seenHeaders.resolve(request.headers);
      response.send('ok');
    });
    const server = await startExpress(app);
    servers.push(server);
    const grpcFetch = createHyxFetch({ sendGrpcTimeout: true });
    await withContext({ correlationId: 'req-7', deadlineMs: systemClock.now() + 5000 }, () =>
      grpcFetch(server.url),
    );
    const headers = await seenHeaders.promise;
    expect(headers['x-correlation-id']).toBe('req-7');
    expect(Number(headers['hyx-timeout-ms'])).toBeLessThanOrEqual(5000);
    expect(headers['grpc-timeout']).toMatch(/^\d+m$/);
  });
});
