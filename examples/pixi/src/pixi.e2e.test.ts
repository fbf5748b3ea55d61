/**
 * Pixi end to end, as a user runs it: the CLI from source, real processes, real HTTP, a real
 * Redis started by the test harness (never the machine's own), and Chromium on the live dashboard.
 * Then again in-process, with no redis-server on PATH.
 *
 * The bounds are the scenario's own: the run's phases are long enough for what they must show at
 * the configured values (breaker window, half-open wait, leader lease), and the verdicts come from
 * the report, which derives every bound from those values.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startRedis, type RedisServer } from '../../../test/support/redis-harness.js';
import { checkDashboard, type DashboardCheck } from './dashboard/check-dashboard.js';
import type { PhaseReport, PixiReport, Verdict } from './report/analyze.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OUTPUT_DIR = path.join(REPO_ROOT, 'test-output', 'pixi');
/** A bound against a hang: the scenario itself lasts `--duration`. */
const RUN_TIMEOUT_MS = 150_000;

interface PixiRun {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly report: PixiReport;
  readonly dashboard: DashboardCheck | undefined;
}

/** Runs the CLI; when `openDashboard`, checks the dashboard in Chromium midway through the run. */
function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  reportPath: string,
  openDashboard: { readonly screenshotPath: string; readonly afterMs: number } | undefined,
): Promise<PixiRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', MAIN, ...args, '--report', reportPath],
      { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    let dashboard: Promise<DashboardCheck> | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = /Live dashboard: (\S+)/.exec(stdout)?.[1];
      if (openDashboard !== undefined && url !== undefined && dashboard === undefined) {
        const { screenshotPath, afterMs } = openDashboard;
        dashboard = new Promise((wait) => setTimeout(wait, afterMs)).then(() =>
          checkDashboard(url, { screenshotPath }),
        );
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      const finish = async (): Promise<void> => {
        const report = JSON.parse(readFileSync(reportPath, 'utf8')) as PixiReport;
        resolve({ exitCode, stdout, stderr, report, dashboard: await dashboard });
      };
      finish().catch((error: unknown) => {
        reject(
          new Error(`pixi exited ${exitCode} without a readable report\n${stdout}\n${stderr}`, {
            cause: error,
          }),
        );
      });
    });
  });
}

/** Every phase check and invariant, as "name: detail" of those that failed. */
function failures(report: PixiReport): string[] {
  const failed = (verdict: Verdict): boolean => !verdict.holds;
  return [
    ...report.invariants.filter(failed).map((verdict) => `${verdict.name}: ${verdict.detail}`),
    ...report.phases.flatMap((phase: PhaseReport) =>
      phase.checks.filter(failed).map((check) => `${phase.name}: ${check.name}: ${check.detail}`),
    ),
  ];
}

describe('pixi, npm start', () => {
  let redis: RedisServer;
  let scratch: string;

  beforeAll(async () => {
    redis = await startRedis();
    scratch = mkdtempSync(path.join(os.tmpdir(), 'pixi-e2e-'));
  });

  afterAll(async () => {
    await redis.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it(
    'on Redis: every phase shows its effect, every invariant holds, and the dashboard plots it all',
    async () => {
      const run = await runCli(
        ['--instances', '3', '--duration', '40'],
        { ...process.env, REDIS_URL: `redis://127.0.0.1:${redis.port}` },
        path.join(scratch, 'redis-report.json'),
        // Midway: after the surge and into the outage, so every chart has something to show.
        { screenshotPath: path.join(OUTPUT_DIR, 'dashboard-during-run.png'), afterMs: 20_000 },
      );
      expect(failures(run.report), run.stdout + run.stderr).toEqual([]);
      expect(run.exitCode).toBe(0);
      expect(run.report.mode).toBe('redis');
      expect(run.report.phases.map((phase) => phase.name)).toEqual([
        'steady',
        'surge',
        'outage',
        'recovery',
        'leader-crash',
      ]);
      expect(run.report.invariants.map((invariant) => invariant.name)).toHaveLength(5);
      const surge = run.report.phases[1];
      expect(surge?.answers.rateLimited).toBeGreaterThan(0);
      expect(surge?.maxAdmittedInWindow).toBeLessThanOrEqual(run.report.settings.limitPerKey);
      expect(run.stdout).toContain('All invariants held.');
      const dashboard = run.dashboard;
      expect(dashboard?.consoleErrors).toEqual([]);
      for (const [chart, points] of Object.entries(dashboard?.chartsWithData ?? {}))
        expect(points, `chart ${chart} has no points`).toBeGreaterThan(0);
      expect(Object.keys(dashboard?.chartsWithData ?? {}).length).toBeGreaterThanOrEqual(5);
    },
    RUN_TIMEOUT_MS + 10_000,
  );

  it(
    'without redis-server on PATH: says so in one line, runs in-process, and the invariants hold',
    async () => {
      // A PATH with node alone: no redis-server to find.
      const bin = mkdtempSync(path.join(scratch, 'bin-'));
      symlinkSync(process.execPath, path.join(bin, 'node'));
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin };
      delete env['REDIS_URL'];
      const run = await runCli(
        ['--instances', '2', '--duration', '30', '--no-dashboard'],
        env,
        path.join(scratch, 'local-report.json'),
        undefined,
      );
      expect(failures(run.report), run.stdout + run.stderr).toEqual([]);
      expect(run.exitCode).toBe(0);
      expect(run.report.mode).toBe('in-process');
      expect(run.stdout).toMatch(/In-process mode \(no redis-server on PATH and no REDIS_URL\)/);
      expect(run.stdout).not.toContain('Live dashboard');
    },
    RUN_TIMEOUT_MS + 10_000,
  );

  it('rejects a bad flag naming it and its value, with exit code 2', async () => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', MAIN, '--instances', 'many'],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exitCode = await new Promise((resolve) => child.once('exit', resolve));
    expect(exitCode).toBe(2);
    expect(stderr).toContain('--instances must be an integer from 1 to 8, got "many"');
  });

  it('refuses a folder as the report before running anything, with exit code 2', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'pixi-report-folder-'));
    try {
      const child = spawn(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', MAIN, '--no-dashboard', '--report', folder],
        { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      for (const stream of [child.stdout, child.stderr]) {
        stream.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
      }
      const exitCode = await new Promise((resolve) => child.once('exit', resolve));
      expect(exitCode).toBe(2);
      expect(output).toContain(`--report ${JSON.stringify(folder)} is a folder`);
      // Refused up front: no service was started.
      expect(output).not.toContain('Redis:');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
