/**
 * Starts the inventory and the gateway instances, in either mode, behind one interface the run
 * drives: separate processes on Redis, or servers in this process sharing in-memory policies; or
 * finds those someone else started (docker compose) at the URLs given.
 */
import { listen, type RunningServer } from '../http-server.js';
import { campaignWhileAlive } from '../gateway/campaign.js';
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
    campaignWhileAlive(policies.election, life.signal);
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

/** How long services started elsewhere may take to answer: a bound against a hang (containers start slowly). */
const EXTERNAL_READY_TIMEOUT_MS = 60_000;
/** How long a crashed gateway may keep answering before the crash counts as failed. */
const CRASH_TIMEOUT_MS = 15_000;
/** One request's bound while waiting for a service to come up or go down. */
const ATTEMPT_TIMEOUT_MS = 1_000;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `GET url` as JSON, or undefined when nothing answers (refused, unknown host, timeout, not 2xx). */
async function answer(url: string): Promise<unknown> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) });
    return response.ok ? await response.json() : undefined;
  } catch {
    return undefined;
  }
}

/** Waits until `url` answers, until `deadline` (epoch ms); `what` names it in the error. */
async function awaitAnswer(url: string, what: string, deadline: number, timeoutMs: number): Promise<unknown> {
  for (;;) {
    const body = await answer(url);
    if (body !== undefined) return body;
    if (Date.now() >= deadline) throw new Error(`${what} did not answer GET ${url} within ${timeoutMs} ms`);
    await pause(250);
  }
}

/** A gateway someone else started, crashed by asking it to SIGKILL itself. */
function externalGateway(name: string, url: string): GatewayInstance {
  let isAlive = true;
  return {
    name,
    url,
    get isAlive() {
      return isAlive;
    },
    async crash() {
      isAlive = false;
      // A refused or cut request may mean it is already gone: the wait below tells.
      await fetch(`${url}/pixi/crash`, {
        method: 'POST',
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      }).catch(() => undefined);
      const deadline = Date.now() + CRASH_TIMEOUT_MS;
      while ((await answer(`${url}/pixi/state`)) !== undefined) {
        if (Date.now() >= deadline)
          throw new Error(
            `gateway ${name} at ${url} still answers ${CRASH_TIMEOUT_MS} ms after POST /pixi/crash ` +
              '(in a container, PID 1 cannot SIGKILL itself: run it under an init, compose `init: true`)',
          );
        await pause(100);
      }
    },
  };
}

/**
 * The inventory and gateways someone else started (docker compose), at `inventoryUrl` and
 * `gatewayUrls` (the first is `gw-1`, ...), once each answers (within `readyTimeoutMs` in all).
 * Each gateway must say it is the instance its place names, as the records it serves carry that
 * name. Nothing is started, so `stop()` leaves them running; `crash()` asks a gateway to SIGKILL
 * itself (`POST /pixi/crash`) and waits until it stops answering.
 */
export async function startExternalServices(
  inventoryUrl: string,
  gatewayUrls: readonly string[],
  readyTimeoutMs = EXTERNAL_READY_TIMEOUT_MS,
): Promise<Services> {
  const deadline = Date.now() + readyTimeoutMs;
  await awaitAnswer(`${inventoryUrl}/stats`, 'the inventory', deadline, readyTimeoutMs);
  const gateways: GatewayInstance[] = [];
  for (const [index, url] of gatewayUrls.entries()) {
    const name = instanceName(index);
    const state = (await awaitAnswer(`${url}/pixi/state`, `gateway ${name}`, deadline, readyTimeoutMs)) as {
      instance?: unknown;
    };
    if (state.instance !== name)
      throw new Error(
        `the gateway at ${url} is ${JSON.stringify(state.instance)}, but its place in the list makes it ${name} (set its PIXI_INSTANCE to ${name})`,
      );
    gateways.push(externalGateway(name, url));
  }
  return {
    inventoryUrl,
    gateways,
    stop: () => Promise.resolve(),
  };
}
