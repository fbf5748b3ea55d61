/**
 * Pixi's command line, parsed and checked: a wrong flag or value stops the run with a message
 * naming the flag and the value, never a silent default.
 */
import { parseArgs } from 'node:util';

import {
  PHASE_NAMES,
  minimumDurationS,
  minimumInstances,
  recoveryWithoutOutage,
  type PhaseName,
} from './run/scenario.js';
import { PIXI_SETTINGS } from './settings.js';

/** What the command line asks for. */
export interface CliOptions {
  readonly instances: number;
  readonly durationMs: number;
  readonly phases: readonly PhaseName[];
  readonly dashboard: boolean;
  readonly dashboardPort: number;
  readonly dashboardHost: string;
  /** How long the dashboard stays up after the report; undefined: the default (see USAGE). */
  readonly lingerMs: number | undefined;
  readonly redisUrl: string | undefined;
  /** Services someone else started (docker compose): the run starts none and no Redis. */
  readonly external: ExternalServiceUrls | undefined;
  readonly json: boolean;
  readonly reportPath: string;
  readonly help: boolean;
}

/** Where the services of a run started elsewhere answer. */
interface ExternalServiceUrls {
  readonly inventoryUrl: string;
  /** In instance order: the first is `gw-1`, the second `gw-2`, ... */
  readonly gatewayUrls: readonly string[];
}

const MAX_INSTANCES = 8;

/** The usage text. */
export const USAGE = `Usage: npm start -- [options]

  --instances N        gateway instances (1-8, default 3)
  --duration S         seconds for the whole scenario (10-3600, default 60)
  --scenario LIST      phases to run, comma-separated, in order (default: ${PHASE_NAMES.join(',')})
  --no-dashboard       do not serve the live dashboard
  --dashboard-port P   port of the dashboard (default: any free port)
  --dashboard-host H   address the dashboard listens on (default 127.0.0.1; 0.0.0.0 in a container)
  --linger S           seconds the dashboard stays up after the report (0-3600; default 20 on a
                       terminal, else 0)
  --redis-url URL      use this Redis (default: REDIS_URL, else a private redis-server from PATH,
                       else in-process mode)
  --inventory-url URL  use the inventory running at URL instead of starting one (with --gateway-urls
                       and --redis-url or REDIS_URL: the Redis those services share)
  --gateway-urls LIST  use the gateways running at these comma-separated URLs, gw-1 first, instead of
                       starting any (with --inventory-url); --instances, if given, must match
  --json               print the report as JSON instead of a table
  --report PATH        where to write the JSON report (default: ./pixi-report.json)
  --help               this text`;

/** A command line Pixi cannot run with. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

function integerFlag(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max)
    throw new CliError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return value;
}

function httpUrl(flag: string, raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || !['http:', 'https:'].includes(url.protocol) || raw.trim() !== raw)
    throw new CliError(`${flag} must be http:// or https:// URLs, got ${JSON.stringify(raw)}`);
  // The run appends paths (`/stock/sku-1`) to it.
  return raw.replace(/\/+$/, '');
}

function externalFlags(
  inventoryRaw: string | undefined,
  gatewaysRaw: string | undefined,
  instancesRaw: string | undefined,
  redisUrl: string | undefined,
): ExternalServiceUrls | undefined {
  if (inventoryRaw === undefined && gatewaysRaw === undefined) return undefined;
  if (inventoryRaw === undefined)
    throw new CliError(
      `--gateway-urls ${JSON.stringify(gatewaysRaw)} needs --inventory-url: the inventory those gateways call`,
    );
  if (gatewaysRaw === undefined)
    throw new CliError(
      `--inventory-url ${JSON.stringify(inventoryRaw)} needs --gateway-urls: the gateways that call it`,
    );
  const inventoryUrl = httpUrl('--inventory-url', inventoryRaw);
  const gatewayUrls = gatewaysRaw.split(',').map((raw) => httpUrl('--gateway-urls', raw));
  if (gatewayUrls.length > MAX_INSTANCES)
    throw new CliError(
      `--gateway-urls takes 1 to ${MAX_INSTANCES} gateways, got ${gatewayUrls.length} in ${JSON.stringify(gatewaysRaw)}`,
    );
  const repeated = gatewayUrls.find((url, index) => gatewayUrls.indexOf(url) !== index);
  if (repeated !== undefined)
    throw new CliError(
      `--gateway-urls names ${JSON.stringify(repeated)} twice, in ${JSON.stringify(gatewaysRaw)}`,
    );
  if (instancesRaw !== undefined && instancesRaw.trim() !== String(gatewayUrls.length))
    throw new CliError(
      `--instances ${JSON.stringify(instancesRaw)} does not match the ${gatewayUrls.length} --gateway-urls`,
    );
  if (redisUrl === undefined)
    throw new CliError(
      `--inventory-url and --gateway-urls need --redis-url (or REDIS_URL): the Redis those services share, got none`,
    );
  return { inventoryUrl, gatewayUrls };
}

function phasesFlag(raw: string | undefined): readonly PhaseName[] {
  if (raw === undefined || raw === 'full') return PHASE_NAMES;
  const names = raw.split(',').map((name) => name.trim());
  const known: readonly string[] = PHASE_NAMES;
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0 || names.length === 0)
    throw new CliError(
      `--scenario: unknown phase(s) ${JSON.stringify(unknown)}; known: ${PHASE_NAMES.join(', ')}`,
    );
  return names as PhaseName[];
}

/** Flags that take a value. */
const VALUE_FLAGS = new Set([
  '--instances',
  '--duration',
  '--scenario',
  '--dashboard-port',
  '--dashboard-host',
  '--linger',
  '--redis-url',
  '--inventory-url',
  '--gateway-urls',
  '--report',
]);

/**
 * `--duration -5` as `--duration=-5`: Node's parser takes a value that starts with `-` for an
 * option, and its "ambiguous" message would hide the range the flag accepts.
 */
function joinDashedValues(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    const next = argv[index + 1];
    if (VALUE_FLAGS.has(arg) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      index++;
    } else joined.push(arg);
  }
  return joined;
}

/** Parses `argv` (without node and the script) with `env` for `REDIS_URL`. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: joinDashedValues(argv),
      strict: true,
      allowPositionals: false,
      options: {
        instances: { type: 'string' },
        duration: { type: 'string' },
        scenario: { type: 'string' },
        'no-dashboard': { type: 'boolean' },
        'dashboard-port': { type: 'string' },
        'dashboard-host': { type: 'string' },
        linger: { type: 'string' },
        'redis-url': { type: 'string' },
        'inventory-url': { type: 'string' },
        'gateway-urls': { type: 'string' },
        json: { type: 'boolean' },
        report: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error));
  }
  const redisUrl = values['redis-url'] ?? (env['REDIS_URL'] === '' ? undefined : env['REDIS_URL']);
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl))
    throw new CliError(
      `--redis-url (or REDIS_URL) must start with redis:// or rediss://, got ${JSON.stringify(redisUrl)}`,
    );
  if (values.report === '') throw new CliError('--report must be a path, got ""');
  const dashboardHost = values['dashboard-host'] ?? '127.0.0.1';
  if (!/^[\w.:-]+$/.test(dashboardHost))
    throw new CliError(
      `--dashboard-host must be a host name or address, got ${JSON.stringify(dashboardHost)}`,
    );
  const external = externalFlags(values['inventory-url'], values['gateway-urls'], values.instances, redisUrl);
  const instances =
    external?.gatewayUrls.length ?? integerFlag('instances', values.instances, 3, 1, MAX_INSTANCES);
  const durationS = integerFlag('duration', values.duration, 60, 10, 3600);
  const phases = phasesFlag(values.scenario);
  // A run too short (or too small) for its phases would fail by design: say so up front.
  const neededS = minimumDurationS(phases, PIXI_SETTINGS);
  if (durationS < neededS)
    throw new CliError(
      `--duration ${durationS} is too short for ${phases.join(',')}: at these settings the phases need at least ${neededS} s`,
    );
  if (recoveryWithoutOutage(phases, PIXI_SETTINGS) !== undefined)
    throw new CliError(
      `--scenario ${phases.join(',')}: recovery heals the inventory an outage broke, so it needs outage right before it (e.g. --scenario outage,recovery)`,
    );
  const neededInstances = minimumInstances(phases, PIXI_SETTINGS);
  if (instances < neededInstances)
    throw new CliError(
      `--instances ${instances} is too few for ${phases.join(',')}: the leader-crash phase needs at least ${neededInstances}, one to be killed and one to take over`,
    );
  return {
    instances,
    durationMs: durationS * 1000,
    phases,
    dashboard: values['no-dashboard'] !== true,
    dashboardPort: integerFlag('dashboard-port', values['dashboard-port'], 0, 0, 65_535),
    dashboardHost,
    lingerMs:
      values.linger === undefined ? undefined : integerFlag('linger', values.linger, 0, 0, 3600) * 1000,
    redisUrl,
    external,
    json: values.json === true,
    reportPath: values.report ?? 'pixi-report.json',
    help: values.help === true,
  };
}
