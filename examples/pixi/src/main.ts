/**
 * `npm start`: runs Pixi's scenario, prints the report, writes it as JSON, and exits non-zero when
 * an invariant failed (or the command line was wrong: 2).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { CliError, USAGE, parseCli } from './cli-options.js';
import { formatReport } from './report/format.js';
import { runPixi } from './run/run-pixi.js';
import { PhaseProgress } from './terminal/progress.js';

const DASHBOARD_LINGER_MS = 20_000;

/** The run was stopped by a signal. */
class Interrupted extends Error {
  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.name = 'Interrupted';
  }
}

async function main(): Promise<number> {
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
  say(
    `Pixi: ${options.instances} gateways share one rate limit, circuit breaker, bulkhead and recovery leader ` +
      `(${options.durationMs / 1000} s: ${options.phases.join(' -> ')})`,
  );
  const reportPath = path.resolve(options.reportPath);
  // Ctrl-C or SIGTERM: stop the run and everything it started (processes, a private Redis);
  // a second one leaves at once.
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) process.exit(130);
    say(`\n${signal}: stopping everything Pixi started (again to leave at once)`);
    interrupt.abort(new Interrupted(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let report;
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
        writeFileSync(reportPath, `${JSON.stringify(finished, null, 2)}\n`);
        if (options.json) console.log(JSON.stringify(finished, null, 2));
        else say(`\n${formatReport(finished)}`);
        say(`Report: ${reportPath}`);
      },
      // Someone at a terminal (or at a container's published port) may be watching the dashboard:
      // leave the verdicts up for a while.
      dashboardLingerMs: options.lingerMs ?? (process.stdout.isTTY ? DASHBOARD_LINGER_MS : 0),
    });
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    // Interrupted during the linger, the report is already out; otherwise there is none.
    return 130;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return report.passed ? 0 : 1;
}

process.exitCode = await main();
