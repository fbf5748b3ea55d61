/**
 * One gateway instance: an Express app that rate-limits callers per API key with the shared
 * limiter, answers `GET /stock/:item` through the inventory pipeline (with a fallback to the last
 * good answer per item), serves Prometheus metrics, and exposes its records to the run.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

import express, { type Express } from 'express';
import { Registry } from 'prom-client';

import { createHyxFetch } from '@hyx/http';
import { hyxContext, protect, rateLimit } from '@hyx/http/express';
import { fallback, type FallbackReason, type Policy } from '@hyx/local';
import { instrument } from '@hyx/telemetry/prometheus';

import { INSTANCE_HEADER } from '../inventory/inventory-app.js';
import type { BreakerState } from '../records.js';
import type { PixiSettings } from '../settings.js';
import { isCatalogued } from './catalogue.js';
import { InventoryError, inventoryPipeline, type SharedPolicies } from './policies.js';
import type { RecordLog } from './record-log.js';
import { RecordingRateLimiter } from './recording-rate-limiter.js';

/** What a gateway needs. */
export interface GatewayOptions {
  readonly instance: string;
  readonly settings: PixiSettings;
  readonly policies: SharedPolicies;
  readonly inventoryUrl: string;
  readonly log: RecordLog;
  /** Asked by `POST /pixi/crash`: end this instance the hard way (the scenario's leader crash). */
  readonly crash: () => void;
}

/** A stock answer; `stale` when it came from the cache because the inventory could not answer. */
interface StockAnswer {
  readonly item: string;
  readonly inStock: number;
  readonly stale?: boolean;
}

const BREAKER_STATES: readonly string[] = ['closed', 'half-open', 'open', 'isolated'];

function breakerState(value: string): BreakerState {
  return BREAKER_STATES.includes(value) ? (value as BreakerState) : 'closed';
}

/** Builds the gateway's app, and starts recording its policies' events into `log`. */
export function gatewayApp(options: GatewayOptions): Express {
  const { instance, settings, policies, inventoryUrl, log } = options;
  const registry = new Registry();
  const pipeline = inventoryPipeline(settings, policies);
  instrument(pipeline, { registry });
  instrument(policies.limiter, { registry });
  const limiter = new RecordingRateLimiter(policies.limiter, instance, settings.windowMs, (record) => {
    log.add(record);
  });
  policies.breaker.onEvent((event) => {
    if (event.type !== 'circuit.transitioned' && event.type !== 'circuit.observed') return;
    log.add({
      type: 'breaker',
      instance,
      atMs: Date.now(),
      from: breakerState(event.from),
      to: breakerState(event.to),
      cause: event.type === 'circuit.transitioned' ? 'local' : 'observed',
      reason: event.reason,
    });
  });
  policies.election.onEvent((event) => {
    if (event.type !== 'leader.elected' && event.type !== 'leader.lost') return;
    log.add({
      type: 'leader',
      instance,
      // A term ends when it stops being valid, which after a stall is before the event comes
      // (the elections run on the system clock: its ms are wall-clock ms).
      atMs: event.type === 'leader.lost' ? Math.min(Date.now(), event.endedAtMs) : Date.now(),
      event: event.type === 'leader.elected' ? 'elected' : 'lost',
      fencingToken: event.fencingToken,
    });
  });

  // How late the event loop runs: the breaker agreement bound allows for it (report/analyze.ts).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  setInterval(() => {
    log.add({ type: 'lag', instance, atMs: Date.now(), maxDelayMs: Math.round(loopDelay.max / 1e6) });
    loopDelay.reset();
  }, 1_000).unref();

  // The budget left reaches the inventory as `hyx-timeout-ms`, with our correlation id.
  const inventoryFetch = createHyxFetch();
  const lastGood = new Map<string, StockAnswer>();
  const stockOf = async (item: string, signal: AbortSignal): Promise<StockAnswer> => {
    const answer = await pipeline.execute(
      async ({ signal: attemptSignal }) => {
        // Inside the bulkhead's permit: the interval written here lies within the real hold.
        const startMs = Date.now();
        try {
          const response = await inventoryFetch(`${inventoryUrl}/stock/${item}`, {
            signal: attemptSignal,
            headers: { [INSTANCE_HEADER]: instance },
          });
          if (!response.ok) {
            await response.arrayBuffer();
            throw new InventoryError(response.status);
          }
          return (await response.json()) as StockAnswer;
        } finally {
          log.add({ type: 'permit', instance, startMs, endMs: Date.now() });
        }
      },
      { signal },
    );
    lastGood.set(item, answer);
    return answer;
  };
  // A fallback per item (the catalogue is small and fixed): the last good answer, marked stale.
  const guardedByItem = new Map<string, ReturnType<typeof protect>>();
  const guardedFor = (item: string): ReturnType<typeof protect> => {
    let guarded = guardedByItem.get(item);
    if (guarded === undefined) {
      const cached: Policy<StockAnswer> = fallback({
        name: 'pixi-cached-stock',
        value: (reason: FallbackReason) => {
          const known = lastGood.get(item);
          if (known !== undefined) return { ...known, stale: true };
          throw reason.kind === 'error' ? reason.error : new Error('no answer and nothing cached');
        },
      });
      instrument(cached, { registry });
      guarded = protect(cached);
      guardedByItem.set(item, guarded);
    }
    return guarded;
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(hyxContext({ maxBudgetMs: settings.requestBudgetMs * 10 }));
  app.get('/metrics', async (_request, response) => {
    response.type(registry.contentType).send(await registry.metrics());
  });
  app.get('/pixi/records', (request, response) => {
    const after = Number(request.query['after'] ?? 0);
    response.json(log.page(Number.isSafeInteger(after) ? after : 0));
  });
  app.get('/pixi/state', (_request, response) => {
    response.json({
      instance,
      breaker: policies.breaker.state,
      isLeader: policies.election.isLeader,
      fencingToken: policies.election.fencingToken?.toString(),
    });
  });
  app.post('/pixi/crash', (_request, response) => {
    response.json({ crashing: instance });
    // After the answer is on its way: the caller learns the crash was asked for.
    setImmediate(options.crash);
  });
  app.use(
    rateLimit({
      limits: [{ limiter, key: { header: 'x-api-key' }, windowMs: settings.windowMs }],
    }),
  );
  app.get('/stock/:item', (request, response, next) => {
    const item = request.params.item;
    if (!isCatalogued(item)) {
      response.status(404).json({ error: `no item ${item}` });
      return;
    }
    guardedFor(item)((_request, _response, { signal }) => stockOf(item, signal))(request, response, next);
  });
  return app;
}
