/**
 * `npm start`: runs Pixi's scenario, prints the report, writes it as JSON. Exit codes: 0 when every
 * invariant held and every phase showed its effect, 1 otherwise or when the run could not be
 * carried out, 2 for a wrong command line, 128 + the signal's number when interrupted.
 */
import { accessSync, constants, existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { CliError, USAGE, parseCli } from './cli-options.js';
import { formatReport } from './report/format.js';
import { runPixi } from './run/run-pixi.js';
import { PhaseProgress } from './terminal/progress.js';

const DASHBOARD_LINGER_MS = 20_000;

/** The run was stopped by a signal. */
class Interrupted extends Error {
  /** The conventional exit code: 128 + the signal's number. */
  readonly exitCode: number;
  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.name = 'Interrupted';
    this.exitCode = signal === 'SIGTERM' ? 143 : 130;
  }
}

/** Whether the report can be written where asked: checked before a minute is spent on the run. */
function reportPathProblem(reportPath: string): string | undefined {
  try {
    // A folder given as the report (`--report /tmp`) would only fail once the run is over.
    if (existsSync(reportPath) && statSync(reportPath).isDirectory()) {
      return `--report ${JSON.stringify(reportPath)} is a folder: give the report's file name (e.g. ${JSON.stringify(path.join(reportPath, 'pixi-report.json'))})`;
    }
    if (existsSync(reportPath)) accessSync(reportPath, constants.W_OK);
    accessSync(path.dirname(reportPath), constants.W_OK);
    return undefined;
  } catch (error) {
    return `--report ${JSON.stringify(reportPath)}: it or its folder cannot be written (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
}

/**
 * Output piped into a reader that stops early (`| head`) must not end the run: the processes it
 * started would be stopped without the report. Lines to a closed pipe are dropped instead.
 */
function ignoreClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
}

async function main(): Promise<number> {
  ignoreClosedPipes();
  let options;
  try {
    options = parseCli(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    console.error(`pixi: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  // With --json, stdout carries the report alone; everything else goes to stderr.
  const say = (line: string): void => {
    if (options.json) console.error(line);
    else console.log(line);
  };
  const reportPath = path.resolve(options.reportPath);
  const problem = reportPathProblem(reportPath);
  if (problem !== undefined) {
    console.error(`pixi: ${problem}`);
    return 2;
  }
  const gateways = options.instances === 1 ? '1 gateway shares' : `${options.instances} gateways share`;
  say(
    `Pixi: ${gateways} one rate limit, circuit breaker, bulkhead and recovery leader ` +
      `(${options.durationMs / 1000} s: ${options.phases.join(' -> ')})`,
  );
  // Ctrl-C or SIGTERM: stop the run and everything it started (processes, a private Redis);
  // a second one leaves at once.
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) process.exit(signal === 'SIGTERM' ? 143 : 130);
    say(`\n${signal}: stopping everything Pixi started (again to leave at once)`);
    interrupt.abort(new Interrupted(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let report;
  const written = { report: true };
  try {
    report = await runPixi({
      signal: interrupt.signal,
      instances: options.instances,
      durationMs: options.durationMs,
      phases: options.phases,
      redisUrl: options.redisUrl,
      dashboard: options.dashboard,
      dashboardPort: options.dashboardPort,
      dashboardHost: options.dashboardHost,
      external: options.external,
      say,
      progress: new PhaseProgress(options.json ? process.stderr : process.stdout),
      onReport: (finished) => {
        // Shown first: a report that cannot be written must not take the verdicts with it.
        if (options.json) console.log(JSON.stringify(finished, null, 2));
        else say(`\n${formatReport(finished)}`);
        try {
          writeFileSync(reportPath, `${JSON.stringify(finished, null, 2)}\n`);
          say(`Report: ${reportPath}`);
        } catch (error) {
          console.error(
            `pixi: --report ${JSON.stringify(reportPath)} could not be written: ${String(error)}`,
          );
          written.report = false;
        }
      },
      // Someone at a terminal (or at a container's published port) may be watching the dashboard:
      // leave the verdicts up for a while.
      dashboardLingerMs: options.lingerMs ?? (process.stdout.isTTY ? DASHBOARD_LINGER_MS : 0),
    });
  } catch (error) {
    // Interrupted during the linger, the report is already out; otherwise there is none.
    if (error instanceof Interrupted) return error.exitCode;
    // A run that could not be carried out (no Redis at the URL, a port taken, services that do
    // not answer): its message, without a stack trace unless asked for.
    const detail = error instanceof Error ? error.message : String(error);
    console.error(`pixi: ${detail}`);
    if (process.env['PIXI_DEBUG'] !== undefined) console.error(error);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return report.passed && report.phasesShown && written.report ? 0 : 1;
}

process.exitCode = await main();
