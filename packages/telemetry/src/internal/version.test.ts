import { readFileSync } from 'node:fs';

import { expect, it } from 'vitest';

import { TELEMETRY_VERSION } from './version.js';

it('reports the version package.json declares', () => {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(TELEMETRY_VERSION).toBe(manifest.version);
});
