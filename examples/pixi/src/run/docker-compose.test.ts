/**
 * docker-compose.yml's `pixi` profile, checked without Docker: the services agree with each other
 * (one run id, the runner's URLs are the services' names and ports), the runner's command line is
 * one Pixi's own parser accepts, every command names an entry that the build produces, and the
 * Redis services before it are left as they were.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { parseCli, type CliOptions } from '../cli-options.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly dockerfile: string };
  readonly profiles?: readonly string[];
  readonly command?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly ports?: readonly string[];
  readonly volumes?: readonly string[];
  readonly depends_on?: Readonly<Record<string, { readonly condition: string }>>;
  readonly init?: boolean;
  readonly restart?: string;
  readonly network_mode?: string;
}

const compose = parse(readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as { readonly services: Readonly<Record<string, ComposeService>> };
const services = Object.entries(compose.services);
const pixi = services.filter(([, service]) => service.build?.dockerfile === 'examples/pixi/Dockerfile');
const entryOf = (service: ComposeService): string | undefined => service.command?.[1];
const pixiNamed = (entry: string): [string, ComposeService][] =>
  pixi.filter(([, service]) => entryOf(service) === `examples/pixi/dist/${entry}.js`);
const gateways = pixiNamed('gateway/gateway-main');
const inventories = pixiNamed('inventory/inventory-main');
const runners = pixiNamed('main');
const [runnerName = '', runner = {}] = runners[0] ?? [];
const runnerArgs = runner.command?.slice(2) ?? [];
const cli: CliOptions = parseCli(runnerArgs, {});

/** The image's working directory, where the compose commands' relative paths start. */
const WORKDIR = /^WORKDIR\s+(\S+)/m.exec(
  readFileSync(path.join(REPO_ROOT, 'examples/pixi/Dockerfile'), 'utf8'),
)?.[1];

describe('docker-compose.yml, profile pixi', () => {
  it('has Redis, one inventory, 3 gateways and one runner, all from the one image, under the profile', () => {
    expect(compose.services['redis']).toBeDefined();
    expect(inventories).toHaveLength(1);
    expect(gateways).toHaveLength(3);
    expect(runners).toHaveLength(1);
    expect(pixi).toHaveLength(5);
    for (const [name, service] of pixi) {
      expect(service.build?.context, name).toBe('.');
      expect(service.image, name).toBe('hyx-pixi:local');
      // Not started by `docker compose up -d redis` nor by `--profile cluster`.
      expect(service.profiles, name).toEqual(['pixi']);
      // A PID 1 cannot SIGKILL itself (the leader crash), and a crashed gateway must stay dead.
      expect(service.init, name).toBe(true);
      expect(service.restart, name).toBe('no');
      expect(service.command?.[0], name).toBe('node');
    }
  });

  it('leaves the Redis services as they were: redis on 6379 without a profile, the cluster under its own', () => {
    const redis = compose.services['redis'];
    expect(redis?.profiles).toBeUndefined();
    expect(redis?.ports).toEqual(['6379:6379']);
    const cluster = services.filter(([name]) => name.startsWith('redis-cluster-'));
    expect(cluster.map(([name]) => name)).toEqual([
      'redis-cluster-node-1',
      'redis-cluster-node-2',
      'redis-cluster-node-3',
      'redis-cluster-init',
    ]);
    for (const [name, service] of cluster) {
      expect(service.profiles, name).toEqual(['cluster']);
      expect(service.network_mode, name).toBe('host');
    }
  });

  it('every command runs an entry the build produces: dist/X.js from an existing src/X.ts', () => {
    const tsconfig = JSON.parse(
      readFileSync(path.join(REPO_ROOT, 'examples/pixi/tsconfig.json'), 'utf8'),
    ) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    for (const [name, service] of pixi) {
      const entry = entryOf(service) ?? '';
      const match = /^examples\/pixi\/dist\/(.+)\.js$/.exec(entry);
      expect(match, `${name}: ${entry}`).not.toBeNull();
      const source = path.join(REPO_ROOT, 'examples/pixi/src', `${match?.[1]}.ts`);
      expect(existsSync(source), `${name}: ${source}`).toBe(true);
    }
  });

  it('the image: npm ci and npm run build from the repository root, without local installs or builds', () => {
    const dockerfile = readFileSync(path.join(REPO_ROOT, 'examples/pixi/Dockerfile'), 'utf8');
    expect(WORKDIR).toBe('/app');
    expect(dockerfile).toMatch(/^COPY \. \.$/m);
    expect(dockerfile).toMatch(/^RUN npm ci\b.*&& npm run build$/m);
    const ignored = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const pattern of ['**/node_modules', '**/dist', '**/test-output', '.git'])
      expect(ignored).toContain(pattern);
    // What the runner serves at run time is in the context (src is copied, chart.js installed).
    expect(existsSync(path.join(REPO_ROOT, 'examples/pixi/src/dashboard/static/index.html'))).toBe(true);
    const pixiPackage = JSON.parse(
      readFileSync(path.join(REPO_ROOT, 'examples/pixi/package.json'), 'utf8'),
    ) as {
      dependencies: Record<string, string>;
    };
    expect(pixiPackage.dependencies['chart.js']).toBeDefined();
  });

  it('every pixi service has the same PIXI_RUN_ID; the gateways listen on every interface of a fixed port', () => {
    const runIds = new Set(gateways.map(([, service]) => service.environment?.['PIXI_RUN_ID']));
    expect(runIds.size).toBe(1);
    expect([...runIds][0]).toMatch(/^\S+$/);
    for (const [name, service] of pixi) {
      const runId = service.environment?.['PIXI_RUN_ID'];
      if (runId !== undefined) expect(runId, name).toBe([...runIds][0]);
    }
    for (const [name, service] of [...gateways, ...inventories]) {
      expect(service.environment?.['PIXI_HOST'], name).toBe('0.0.0.0');
      expect(service.environment?.['PIXI_PORT'], name).toMatch(/^[1-9]\d*$/);
    }
  });

  it("the runner's command line parses, in the mode that uses these services", () => {
    expect(cli.external).toBeDefined();
    expect(cli.instances).toBe(gateways.length);
    expect(cli.redisUrl).toBe('redis://redis:6379');
    expect(compose.services[new URL(cli.redisUrl ?? '').hostname]).toBe(compose.services['redis']);
    expect(Object.keys(runner.depends_on ?? {}).sort()).toEqual(
      ['redis', ...pixi.map(([name]) => name).filter((name) => name !== runnerName)].sort(),
    );
  });

  it("the runner's gateway URLs are the gateway services' names and ports, gw-1 first", () => {
    const urls = cli.external?.gatewayUrls ?? [];
    expect(urls).toHaveLength(gateways.length);
    urls.forEach((raw, index) => {
      const url = new URL(raw);
      const gateway = compose.services[url.hostname];
      expect(gateway, raw).toBeDefined();
      expect(gateways.map(([, service]) => service)).toContain(gateway);
      expect(gateway?.environment?.['PIXI_INSTANCE'], raw).toBe(`gw-${index + 1}`);
      expect(url.port, raw).toBe(gateway?.environment?.['PIXI_PORT']);
      expect(gateway?.environment?.['PIXI_REDIS_URL'], raw).toBe(cli.redisUrl);
      expect(gateway?.environment?.['PIXI_INVENTORY_URL'], raw).toBe(cli.external?.inventoryUrl);
      expect(gateway?.depends_on?.['redis']?.condition, raw).toBe('service_healthy');
    });
  });

  it("the runner's inventory URL is the inventory service's name and port", () => {
    const url = new URL(cli.external?.inventoryUrl ?? '');
    const [inventoryName, inventory] = inventories[0] ?? [];
    expect(url.hostname).toBe(inventoryName);
    expect(url.port).toBe(inventory?.environment?.['PIXI_PORT']);
  });

  it('the dashboard listens on every interface of a fixed port, published; the report lands in a mounted folder', () => {
    expect(cli.dashboard).toBe(true);
    expect(cli.dashboardHost).toBe('0.0.0.0');
    expect(cli.dashboardPort).toBeGreaterThan(0);
    const published = (runner.ports ?? []).map((mapping) => mapping.split(':').at(-1));
    expect(published).toContain(String(cli.dashboardPort));
    // The verdicts stay on the page for a while after the report.
    expect(cli.lingerMs).toBeGreaterThan(0);
    const report = path.posix.resolve(WORKDIR ?? '/', cli.reportPath);
    const mounts = (runner.volumes ?? []).map((volume) => volume.split(':')[1] ?? '');
    expect(
      mounts.some((mount) => report.startsWith(`${mount}/`)),
      `${report} in ${mounts.join(', ')}`,
    ).toBe(true);
  });
});
