/**
 * `inventory`: the flaky downstream every gateway calls. Its error rate and latency are set by the
 * scenario through `POST /control`; it counts the calls in flight at once and logs every health
 * check (with the caller's instance and fencing token), so the report can check the gateways'
 * guarantees from the receiving end.
 */
import express, { type Express, type Request } from 'express';

import type { InventoryProbe } from '../records.js';

/** How the inventory behaves now. */
export interface InventoryBehaviour {
  /** The share of `/stock` calls answered 503, 0..1; at 0.5 or more `/health` answers 503 too. */
  readonly errorRate: number;
  /** How long each answer takes, in ms. */
  readonly latencyMs: number;
}

/** What `GET /stats` answers. */
export interface InventoryStats {
  readonly stockCalls: number;
  /** The most `/stock` calls in flight at once since the start. */
  readonly maxConcurrentStockCalls: number;
  readonly probes: readonly InventoryProbe[];
}

/** The header a gateway names itself in. */
export const INSTANCE_HEADER = 'x-pixi-instance';
/** The header a health check carries its leader's fencing token in. */
export const FENCING_TOKEN_HEADER = 'x-fencing-token';

function parseBehaviour(body: unknown, current: InventoryBehaviour): InventoryBehaviour | string {
  if (typeof body !== 'object' || body === null) return 'the body must be a JSON object';
  const { errorRate = current.errorRate, latencyMs = current.latencyMs } = body as Record<string, unknown>;
  if (typeof errorRate !== 'number' || !(errorRate >= 0 && errorRate <= 1))
    return `errorRate must be a number in [0, 1], got ${JSON.stringify(errorRate)}`;
  if (typeof latencyMs !== 'number' || !(latencyMs >= 0 && latencyMs <= 60_000))
    return `latencyMs must be a number in [0, 60000], got ${JSON.stringify(latencyMs)}`;
  return { errorRate, latencyMs };
}

/** Waits `ms`, or less when the client goes away (its answer would be thrown away). */
function pause(ms: number, request: Request): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      request.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    request.once('close', done);
  });
}

/** A stock figure that stays the same for an item, so a cached answer is recognisable. */
function stockOf(item: string): number {
  let hash = 0;
  for (const char of item) hash = (hash * 31 + char.charCodeAt(0)) % 1000;
  return hash;
}

/** Builds the inventory's app; `behaviour` is where it starts. */
export function inventoryApp(
  behaviour: InventoryBehaviour = { errorRate: 0, latencyMs: 20 },
  random: () => number = Math.random,
): Express {
  let current = behaviour;
  let inFlight = 0;
  let maxInFlight = 0;
  let stockCalls = 0;
  const probes: InventoryProbe[] = [];
  const app = express();
  app.use(express.json());

  app.get('/stock/:item', async (request, response) => {
    stockCalls++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      await pause(current.latencyMs, request);
      if (random() < current.errorRate) {
        response.status(503).json({ error: 'inventory is failing (scenario)' });
        return;
      }
      const item = request.params.item;
      response.json({ item, inStock: stockOf(item) });
    } finally {
      inFlight--;
    }
  });

  app.get('/health', async (request, response) => {
    const startMs = Date.now();
    await pause(current.latencyMs, request);
    probes.push({
      startMs,
      endMs: Date.now(),
      instance: request.get(INSTANCE_HEADER) ?? 'unknown',
      fencingToken: request.get(FENCING_TOKEN_HEADER) ?? '',
    });
    if (current.errorRate >= 0.5) response.status(503).json({ healthy: false });
    else response.json({ healthy: true });
  });

  app.post('/control', (request, response) => {
    const next = parseBehaviour(request.body, current);
    if (typeof next === 'string') {
      response.status(400).json({ error: next });
      return;
    }
    current = next;
    response.json(current);
  });

  app.get('/stats', (_request, response) => {
    const stats: InventoryStats = { stockCalls, maxConcurrentStockCalls: maxInFlight, probes };
    response.json(stats);
  });
  return app;
}
