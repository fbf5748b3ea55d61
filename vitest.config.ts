import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Workspaces resolve each other's TypeScript sources through the `source` export condition,
    // so tests never need a build first.
    conditions: ['source'],
  },
  ssr: {
    resolve: {
      conditions: ['source'],
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/src/**/*.test.ts'],
    setupFiles: ['test/support/fast-check-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
