/**
 * Starts the inventory and the gateway instances, in either mode, behind one interface the run
 * drives: separate processes on Redis, or servers in this process sharing in-memory policies.
 */
import { listen, type RunningServer } from '../http-server.js';
import { gatewayApp } from '../gateway/gateway-app.js';
import { inventoryHealthCheck, type Prober } from '../gateway/health-check.js';
import { InProcessPolicies, type SharedPolicies } from '../gateway/policies.js';
import { RecordLog } from '../gateway/record-log.js';
import { inventoryApp } from '../inventory/inventory-app.js';
import type { PixiSettings } from '../settings.js';
import { startChild, stopChild } from './child-process.js';

/** A gateway instance as the run sees it. */
export interface GatewayInstance {
  readonly name: string;
  readonly url: string;
  /** Whether it still runs (false once crashed). */
  readonly isAlive: boolean;
  /** Kills it the hard way: no lease given back, no goodbye. */
  crash(): Promise<void>;
}

/** Everything the run started. */
export interface Services {
  readonly inventoryUrl: string;
  readonly gateways: readonly GatewayInstance[];
  stop(): Promise<void>;
}

/** The name of instance `index` (0-based): `gw-1`, `gw-2`, ... */
function instanceName(index: number): string {
  return `gw-${index + 1}`;
}

/** Separate processes: one inventory, `count` gateways, all on the Redis at `redisUrl`. */
export async function startProcessServices(
  count: number,
  redisUrl: string,
  runId: string,
): Promise<Services> {
  const inventory = await startChild('inventory/inventory-main', {}, 'inventory');
  const started = await Promise.all(
    Array.from({ length: count }, (_, index) =>
      startChild(
        'gateway/gateway-main',
        {
          PIXI_INSTANCE: instanceName(index),
          PIXI_REDIS_URL: redisUrl,
          PIXI_INVENTORY_URL: inventory.url,
          PIXI_RUN_ID: runId,
        },
        `gateway ${instanceName(index)}`,
      ),
    ),
  );
  const gateways = started.map(({ child, url }, index): GatewayInstance => {
    let isAlive = true;
    return {
      name: instanceName(index),
      url,
      get isAlive() {
        return isAlive;
      },
      async crash() {
        isAlive = false;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        // The gateway kills itself with SIGKILL (as it would in a container); the signal is the fallback.
        await fetch(`${url}/pixi/crash`, { method: 'POST' }).catch(() => child.kill('SIGKILL'));
        await exited;
      },
    };
  });
  return {
    inventoryUrl: inventory.url,
    gateways,
    async stop() {
      await Promise.all([...started.map(({ child }) => stopChild(child)), stopChild(inventory.child)]);
    },
  };
}

/** One process: the inventory and `count` gateway servers sharing one set of in-memory policies. */
export async function startInProcessServices(count: number, settings: PixiSettings): Promise<Services> {
  const inventory = await listen(
    inventoryApp({ errorRate: 0, latencyMs: settings.inventoryLatencyMs }),
    0,
    '127.0.0.1',
  );
  const members: { name: string; policies: SharedPolicies; log: RecordLog }[] = [];
  // One breaker for all instances: its health check runs on behalf of whichever instance leads.
  const prober = (): Prober | undefined => {
    const leader = members.find((member) => member.policies.election.isLeader);
    return leader === undefined
      ? undefined
      : {
          instance: leader.name,
          fencingToken: leader.policies.election.fencingToken,
          record: (record) => {
            leader.log.add(record);
          },
        };
  };
  const shared = new InProcessPolicies(settings, inventoryHealthCheck(inventory.url, prober));
  const servers: RunningServer[] = [];
  const lives: AbortController[] = [];
  const gateways: GatewayInstance[] = [];
  for (let index = 0; index < count; index++) {
    const name = instanceName(index);
    const policies = shared.forInstance();
    const log = new RecordLog();
    members.push({ name, policies, log });
    const life = new AbortController();
    lives.push(life);
    let isAlive = true;
    const server = await listen(
      gatewayApp({
        instance: name,
        settings,
        policies,
        inventoryUrl: inventory.url,
        log,
        crash: () => undefined,
      }),
      0,
      '127.0.0.1',
    );
    servers.push(server);
    policies.election
      .runWhileLeader(
        ({ signal }) =>
          new Promise<void>((resolve) => {
            signal.addEventListener('abort', () => {
              resolve();
            });
          }),
        { signal: life.signal },
      )
      .catch(() => undefined);
    gateways.push({
      name,
      url: server.url,
      get isAlive() {
        return isAlive;
      },
      async crash() {
        isAlive = false;
        life.abort();
        await server.close();
      },
    });
  }
  return {
    inventoryUrl: inventory.url,
    gateways,
    async stop() {
      for (const life of lives) life.abort();
      await Promise.all([...servers.map((server) => server.close()), inventory.close()]);
    },
  };
}
