/**
 * Opens the dashboard in a real browser and reports what it shows: how many points each chart
 * plots and which errors the page logged. Used by the dashboard's browser test and by the
 * end-to-end test of a real run.
 *
 * The browser is Debian's Chromium driven by playwright-core: Playwright's own browser download
 * does not work where the tests run (`.ci/run` installs `chromium` when it is missing).
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

import { chromium } from 'playwright-core';

/** What {@link checkDashboard} does. */
export interface CheckDashboardOptions {
  /** Where to save a full-page PNG of the dashboard (its folder is created). */
  readonly screenshotPath: string;
  /** How long to wait for every chart to plot points, in ms. @defaultValue `15_000` */
  readonly timeoutMs?: number | undefined;
  /** The Chromium binary. @defaultValue `process.env.PIXI_CHROMIUM ?? '/usr/bin/chromium'` */
  readonly executablePath?: string | undefined;
  /** The browser window's width, in CSS pixels. @defaultValue `1440` */
  readonly width?: number | undefined;
}

/** What the browser saw. */
export interface DashboardCheck {
  /** Points each chart plots (0 when it had none by the timeout), by chart name. */
  readonly chartsWithData: Record<string, number>;
  /** Points each chart plots that are not zero (or, for breakers, not closed), by chart name. */
  readonly nonZeroPoints: Record<string, number>;
  /** `console.error` messages, failed resource loads and uncaught errors of the page. */
  readonly consoleErrors: string[];
}

/** The page's test hook (static/dashboard.js). */
interface DashboardHook {
  readonly chartNames: readonly string[];
  polls(): number;
  finished(): boolean;
  pointCounts(): Record<string, number>;
  nonZeroCounts(): Record<string, number>;
}

type WithHook = typeof globalThis & { __pixiDashboard?: DashboardHook };

/**
 * Opens `url` in headless Chromium, waits until every chart has data points (and, while the run
 * is live, the page has redrawn them once more), or until `timeoutMs` passes (then the counts tell
 * which chart has none), saves a screenshot and reports.
 *
 * @example
 * ```ts
 * import { checkDashboard } from './check-dashboard.js';
 *
 * const check = await checkDashboard('http://127.0.0.1:4000/', { screenshotPath: 'test-output/pixi/dashboard.png' });
 * if (check.consoleErrors.length > 0) throw new Error(check.consoleErrors.join('\n'));
 * ```
 */
export async function checkDashboard(url: string, options: CheckDashboardOptions): Promise<DashboardCheck> {
  const browser = await chromium.launch({
    executablePath: options.executablePath ?? process.env['PIXI_CHROMIUM'] ?? '/usr/bin/chromium',
    headless: true,
    // Containers run as root without user namespaces: Chromium's sandbox cannot start there.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: options.width ?? 1440, height: 900 } });
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => {
      consoleErrors.push(`uncaught: ${error.message}`);
    });
    page.on('requestfailed', (request) => {
      consoleErrors.push(`request failed: ${request.url()} (${request.failure()?.errorText ?? 'unknown'})`);
    });

    await page.goto(url, { waitUntil: 'load' });
    try {
      await page.waitForFunction(
        () => {
          const hook = (globalThis as WithHook).__pixiDashboard;
          // Two polls of a live run: the second redraws in place, which the first does not.
          if (hook === undefined || hook.polls() < (hook.finished() ? 1 : 2)) return false;
          const counts = hook.pointCounts();
          return hook.chartNames.every((name) => (counts[name] ?? 0) > 0);
        },
        undefined,
        { timeout: options.timeoutMs ?? 15_000, polling: 100 },
      );
    } catch (error) {
      // Timing out is a finding, not a failure of the check: the counts below show which chart is empty.
      if (!(error instanceof Error && error.name === 'TimeoutError')) throw error;
    }

    const seen = await page.evaluate(() => {
      const hook = (globalThis as WithHook).__pixiDashboard;
      if (hook === undefined) return undefined;
      const points = hook.pointCounts();
      const nonZero = hook.nonZeroCounts();
      return {
        chartsWithData: Object.fromEntries(hook.chartNames.map((name) => [name, points[name] ?? 0])),
        nonZeroPoints: Object.fromEntries(hook.chartNames.map((name) => [name, nonZero[name] ?? 0])),
      };
    });
    if (seen === undefined)
      consoleErrors.push('the dashboard script did not start (no window.__pixiDashboard)');

    await mkdir(dirname(options.screenshotPath), { recursive: true });
    await page.screenshot({ path: options.screenshotPath, fullPage: true });
    return {
      chartsWithData: seen?.chartsWithData ?? {},
      nonZeroPoints: seen?.nonZeroPoints ?? {},
      // A copy: closing the browser aborts the page's poll in flight, which is no finding.
      consoleErrors: [...consoleErrors],
    };
  } finally {
    await browser.close();
  }
}
