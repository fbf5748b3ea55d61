import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const demoPath = fileURLToPath(new URL('./demo.ts', import.meta.url));

describe('npm start demo', () => {
  it('runs every scenario, shows what each policy did and exits by itself', async () => {
    // The demo uses real time (it is a demo): this only checks what it prints, never how fast.
    const { stdout } = await run(process.execPath, ['--conditions=source', '--import', 'tsx', demoPath], {
      timeout: 60_000,
    });
    expect(stdout).toContain('1. healthy');
    expect(stdout).toMatch(
      /retry "inventory": attempt 1 failed \(ServiceError: inventory answered 503\), retrying in \d+ ms/,
    );
    expect(stdout).toContain('timeout "per-attempt": timed out after 80 ms');
    expect(stdout).toContain('hedge "inventory": no answer yet, starting hedged attempt 2');
    expect(stdout).toContain('circuit-breaker "inventory": closed -> open (failure-count)');
    expect(stdout).toContain('rejected without calling (circuit-open');
    expect(stdout).toContain('fallback "cached-stock": answering with the cached value');
    expect(stdout).toContain('service saw 9 call(s)');
    expect(stdout).toContain('Done.');
  });
});
