import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';

import { bulkhead } from '../bulkhead/bulkhead.js';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { fallback } from '../fallback/fallback.js';
import { retry } from '../retry/retry.js';
import type { Policy } from '../policy/policy.js';

describe('the signal of work that nothing can cancel', () => {
  const policies: readonly [string, Policy<unknown>][] = [
    ['bulkhead', bulkhead({ maxConcurrent: 1 })],
    ['circuitBreaker', circuitBreaker()],
    ['fallback', fallback({ value: 0 })],
    ['retry', retry({ maxAttempts: 1 })],
  ];

  it.each(policies)(
    '%s: keeps no abort listener that work adds and never removes, so nothing piles up across calls',
    async (_name, policy) => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error): void => {
        warnings.push(warning);
      };
      process.on('warning', onWarning);
      const signals = new Set<AbortSignal>();
      try {
        for (let call = 0; call < 20; call++) {
          await policy.execute(({ signal }) => {
            signals.add(signal);
            signal.addEventListener('abort', () => {});
            signal.onabort = () => {};
            return 1;
          });
        }
        // Warnings are emitted on the next tick.
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off('warning', onWarning);
      }
      for (const signal of signals) {
        expect(signal.aborted).toBe(false);
        expect(getEventListeners(signal, 'abort')).toHaveLength(0);
        expect(signal.onabort).toBeNull();
      }
      expect(warnings.map((warning) => warning.name)).not.toContain('MaxListenersExceededWarning');
    },
  );

  it('still delivers events of other types', async () => {
    const seen: string[] = [];
    await retry({ maxAttempts: 1 }).execute(({ signal }) => {
      const listener = (event: Event): void => {
        seen.push(event.type);
      };
      signal.addEventListener('custom', listener);
      signal.dispatchEvent(new Event('custom'));
      signal.removeEventListener('custom', listener);
      return 1;
    });
    expect(seen).toEqual(['custom']);
  });
});
