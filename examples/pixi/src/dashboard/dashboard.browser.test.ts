import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { checkDashboard } from './check-dashboard.js';
import { startDashboard } from './dashboard-server.js';
import type { DashboardState } from './dashboard-state.js';
import { sampleTimelineInput } from './sample-run.js';
import { buildDashboardState } from './timeline.js';

const OUTPUT = fileURLToPath(new URL('../../../../test-output/pixi/', import.meta.url));
const CHARTS = ['admitted', 'rejections', 'breakers', 'probes', 'inFlight'];

const running: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

async function serve(getState: () => DashboardState): Promise<string> {
  const dashboard = await startDashboard({ getState });
  running.push(dashboard);
  return dashboard.url;
}

describe('the dashboard', () => {
  it('serves the page, Chart.js from node_modules and the state', async () => {
    const state = buildDashboardState(sampleTimelineInput(10_000));
    const url = await serve(() => state);

    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<canvas id="chart-admitted">');
    const chartJs = await fetch(new URL('vendor/chart.umd.min.js', url));
    expect(chartJs.status).toBe(200);
    expect(await chartJs.text()).toContain('window.Chart');
    const served = await fetch(new URL('api/state', url));
    expect(served.headers.get('cache-control')).toBe('no-store');
    expect(await served.json()).toEqual(JSON.parse(JSON.stringify(state)));
  });

  it('draws every chart of a run in progress, without console errors', { timeout: 60_000 }, async () => {
    // Mid-outage: the breaker is open, the leader probing; each poll sees the run further on.
    let elapsedMs = 15_000;
    const url = await serve(() => {
      elapsedMs = Math.min(elapsedMs + 250, 29_000);
      return buildDashboardState(sampleTimelineInput(elapsedMs));
    });

    const check = await checkDashboard(url, { screenshotPath: `${OUTPUT}dashboard-live.png` });

    expect(check.consoleErrors).toEqual([]);
    for (const chart of CHARTS) expect(check.chartsWithData[chart], chart).toBeGreaterThan(0);
    expect(check.nonZeroPoints['breakers']).toBeGreaterThan(0);
    expect(check.nonZeroPoints['probes']).toBeGreaterThan(0);
  });

  it('draws a finished run with its verdicts, without console errors', { timeout: 60_000 }, async () => {
    const state = buildDashboardState(sampleTimelineInput());
    // The sample's story, as the state tells it: breakers opened and closed, the leader changed.
    expect(state.finished).toBe(true);
    expect(state.leaderTerms.map((term) => term.instance)).toEqual(['gw-1', 'gw-2']);
    expect(Math.max(...state.series.inFlightMax)).toBe(state.bulkheadCap);
    expect(Math.max(...(state.series.admittedInWindow ?? []))).toBe(state.limitPerWindow);
    const url = await serve(() => state);

    const check = await checkDashboard(url, { screenshotPath: `${OUTPUT}dashboard.png` });

    expect(check.consoleErrors).toEqual([]);
    expect(Object.keys(check.chartsWithData).sort()).toEqual([...CHARTS].sort());
    // 60 buckets of 500 ms: every per-bucket series is complete.
    expect(check.chartsWithData['probes']).toBe(60);
    expect(check.chartsWithData['inFlight']).toBe(60);
    expect(check.chartsWithData['rejections']).toBe(120);
    // Three breakers over 60 buckets, less gw-1's after its kill at 24 s (12 buckets).
    expect(check.chartsWithData['breakers']).toBe(3 * 60 - 12);
    expect(check.nonZeroPoints['probes']).toBe(5);
  });

  it('reports what the page logs when it cannot draw a state', { timeout: 60_000 }, async () => {
    const broken = { ...buildDashboardState(sampleTimelineInput(5_000)), series: undefined };
    const url = await serve(() => broken as unknown as DashboardState);

    const check = await checkDashboard(url, {
      screenshotPath: `${OUTPUT}dashboard-broken.png`,
      timeoutMs: 2_000,
    });

    expect(check.consoleErrors.length).toBeGreaterThan(0);
    expect(check.consoleErrors[0]).toContain('cannot draw the state');
    expect(Object.values(check.chartsWithData).every((count) => count === 0)).toBe(true);
  });
});
