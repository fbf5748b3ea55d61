/**
 * Pixi's command line, parsed and checked: a wrong flag or value stops the run with a message
 * naming the flag and the value, never a silent default.
 */
import { parseArgs } from 'node:util';

import { PHASE_NAMES, type PhaseName } from './run/scenario.js';

/** What the command line asks for. */
export interface CliOptions {
  readonly instances: number;
  readonly durationMs: number;
  readonly phases: readonly PhaseName[];
  readonly dashboard: boolean;
  readonly dashboardPort: number;
  readonly redisUrl: string | undefined;
  readonly json: boolean;
  readonly reportPath: string;
  readonly help: boolean;
}

/** The usage text. */
export const USAGE = `Usage: npm start -- [options]

  --instances N        gateway instances (1-8, default 3)
  --duration S         seconds for the whole scenario (10-3600, default 60)
  --scenario LIST      phases to run, comma-separated, in order (default: ${PHASE_NAMES.join(',')})
  --no-dashboard       do not serve the live dashboard
  --dashboard-port P   port of the dashboard (default: any free port)
  --redis-url URL      use this Redis (default: REDIS_URL, else a private redis-server from PATH,
                       else in-process mode)
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

/** Parses `argv` (without node and the script) with `env` for `REDIS_URL`. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        instances: { type: 'string' },
        duration: { type: 'string' },
        scenario: { type: 'string' },
        'no-dashboard': { type: 'boolean' },
        'dashboard-port': { type: 'string' },
        'redis-url': { type: 'string' },
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
  return {
    instances: integerFlag('instances', values.instances, 3, 1, 8),
    durationMs: integerFlag('duration', values.duration, 60, 10, 3600) * 1000,
    phases: phasesFlag(values.scenario),
    dashboard: values['no-dashboard'] !== true,
    dashboardPort: integerFlag('dashboard-port', values['dashboard-port'], 0, 0, 65_535),
    redisUrl,
    json: values.json === true,
    reportPath: values.report ?? 'pixi-report.json',
    help: values.help === true,
  };
}
