import { setTimeout as delay } from 'node:timers/promises';

/** How long {@link waitUntil} waits by default: generous, so a loaded 2-core machine never trips it. */
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Polls `probe` until it returns something other than `undefined` or `false`, and returns that.
 * Throws after `timeoutMs` naming `description` and the last error the probe threw. The bound is
 * a safety net against a hang, never a measure of speed.
 *
 * @example
 * ```ts
 * const info = await waitUntil('the replica is in sync', async () => {
 *   const text = await replica.command('INFO', 'replication');
 *   return String(text).includes('master_link_status:up') ? text : undefined;
 * });
 * ```
 */
export async function waitUntil<T>(
  description: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number } = {},
): Promise<T> {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = 25 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await probe();
      if (result !== undefined && result !== false) return result;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${description}${why}`, {
        cause: lastError,
      });
    }
    await delay(intervalMs);
  }
}
