import { readFile } from 'node:fs/promises';

import { describe, expect, it } from 'vitest';

describe('README example', () => {
  it('is the type-checked file examples/demo/src/readme-example.ts, word for word', async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const example = await readFile(new URL('./readme-example.ts', import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });
});
