/**
 * The live dashboard's HTTP server: the page (static/), Chart.js from the installed `chart.js`
 * package (no CDN, so the page works offline), and `GET /api/state`, which the page polls.
 *
 * The static files are plain browser JavaScript, served as they are: `tsc -b` does not copy them to
 * `dist`, so the server looks for them beside this module (running from source, as the tests do)
 * and else in `../../src/dashboard/static` (running from `dist`, as `npm start` does).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import express from 'express';

import { listen } from '../http-server.js';

import type { DashboardState } from './dashboard-state.js';

/** Where and what the dashboard serves. */
export interface DashboardOptions {
  /** @defaultValue `'127.0.0.1'` */
  readonly host?: string | undefined;
  /** @defaultValue `0` (any free port) */
  readonly port?: number | undefined;
  /** The state to serve now; called on every `GET /api/state`. */
  readonly getState: () => DashboardState;
}

/** A running dashboard. */
export interface RunningDashboard {
  /** `http://host:port/`: the page. */
  readonly url: string;
  /** Stops the server and ends its connections, so it keeps nothing alive. */
  close(): Promise<void>;
}

/** The folder holding index.html, from source or from `dist`. */
function dashboardStaticDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'static'), join(here, '..', '..', 'src', 'dashboard', 'static')];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (found === undefined) throw new Error(`dashboard: no static/index.html in ${candidates.join(' or ')}`);
  return found;
}

/** Chart.js's UMD build (a global `Chart`, every chart type registered) in the installed package. */
function chartJsFile(): string {
  // The package's exports map has no entry for the UMD file, so it is found beside its main file.
  const main = fileURLToPath(import.meta.resolve('chart.js'));
  return join(dirname(main), 'chart.umd.min.js');
}

/**
 * Starts the dashboard.
 *
 * @example
 * ```ts
 * import { startDashboard } from './dashboard-server.js';
 * import type { DashboardState } from './dashboard-state.js';
 *
 * declare const latestState: () => DashboardState;
 * const dashboard = await startDashboard({ getState: latestState });
 * console.log(`dashboard: ${dashboard.url}`);
 * await dashboard.close();
 * ```
 */
export async function startDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  const staticDir = dashboardStaticDir();
  const chartJs = chartJsFile();
  if (!existsSync(chartJs)) throw new Error(`dashboard: Chart.js not found at ${chartJs} (run npm install)`);

  const app = express();
  app.disable('x-powered-by');
  app.get('/api/state', (_request, response) => {
    // Every poll must see the run as it is now.
    response.set('Cache-Control', 'no-store').json(options.getState());
  });
  app.get('/vendor/chart.umd.min.js', (_request, response) => {
    response.sendFile(chartJs);
  });
  app.use(express.static(staticDir, { index: 'index.html' }));

  const server = await listen(app, options.port ?? 0, options.host ?? '127.0.0.1');
  return { url: `${server.url}/`, close: () => server.close() };
}
