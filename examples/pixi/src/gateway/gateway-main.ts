/**
 * A gateway process: `node dist/gateway/gateway-main.js` with its settings in the environment
 * (PIXI_INSTANCE, PIXI_REDIS_URL, PIXI_INVENTORY_URL, optional PIXI_PORT and PIXI_HOST). Started by
 * the run (one per instance) or by docker-compose. Tells a parent over IPC where it listens.
 */
import { Redis } from 'ioredis';

import { listen } from '../http-server.js';
import { PIXI_SETTINGS } from '../settings.js';
import { campaignWhileAlive } from './campaign.js';
import { gatewayApp } from './gateway-app.js';
import { inventoryHealthCheck } from './health-check.js';
import { redisPolicies, type SharedPolicies } from './policies.js';
import { RecordLog } from './record-log.js';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    console.error(`gateway: ${name} must be set`);
    process.exit(2);
  }
  return value;
}

const instance = required('PIXI_INSTANCE');
const inventoryUrl = required('PIXI_INVENTORY_URL');
// Never resend a command whose reply was lost: a script must not run twice (docs/distributed.md).
const redis = new Redis(required('PIXI_REDIS_URL'), {
  maxRetriesPerRequest: 1,
  autoResendUnfulfilledCommands: false,
});
redis.on('error', (error: Error) => {
  console.error(`gateway ${instance}: redis: ${error.message}`);
});

const log = new RecordLog();
// The breaker's health check probes on behalf of this instance under its current term (the
// breaker only runs it here while this instance leads the election).
const election: { current?: SharedPolicies['election'] } = {};
const healthCheck = inventoryHealthCheck(inventoryUrl, () => ({
  instance,
  fencingToken: election.current?.fencingToken,
  record: (record) => {
    log.add(record);
  },
}));
const policies = redisPolicies(redis, PIXI_SETTINGS, healthCheck, required('PIXI_RUN_ID'));
election.current = policies.election;

const life = new AbortController();
campaignWhileAlive(policies.election, life.signal);

const app = gatewayApp({
  instance,
  settings: PIXI_SETTINGS,
  policies,
  inventoryUrl,
  log,
  crash: () => {
    // The hard way: no lease is given back, no connection closed. Others must cope.
    process.kill(process.pid, 'SIGKILL');
  },
});
const server = await listen(
  app,
  Number(process.env['PIXI_PORT'] ?? 0),
  process.env['PIXI_HOST'] ?? '127.0.0.1',
);
console.log(`gateway ${instance} listening on ${server.url}`);
process.send?.({ type: 'listening', url: server.url });

async function shutdown(): Promise<void> {
  life.abort();
  await server.close();
  await policies.close();
  redis.disconnect();
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
// A parent that goes away takes its children with it.
process.once('disconnect', () => void shutdown());
