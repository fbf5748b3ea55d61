/**
 * The inventory process: `node dist/inventory/inventory-main.js`, on PIXI_PORT (default: any free
 * port) and PIXI_HOST (default 127.0.0.1). Tells a parent over IPC where it listens.
 */
import { listen } from '../http-server.js';
import { PIXI_SETTINGS } from '../settings.js';
import { inventoryApp } from './inventory-app.js';

const server = await listen(
  inventoryApp({ errorRate: 0, latencyMs: PIXI_SETTINGS.inventoryLatencyMs }),
  Number(process.env['PIXI_PORT'] ?? 0),
  process.env['PIXI_HOST'] ?? '127.0.0.1',
);
console.log(`inventory listening on ${server.url}`);
process.send?.({ type: 'listening', url: server.url });

const shutdown = (): void => void server.close();
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
process.once('disconnect', shutdown);
