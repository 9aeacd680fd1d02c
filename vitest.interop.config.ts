import { defineConfig } from 'vitest/config';

/**
 * The interoperability suite (`npm run test:interop`): tables written here are read by
 * independent Delta readers from `.cache/venv` (test/interop/setup.sh installs them).
 */
export default defineConfig({
  test: {
    include: ['test/interop/**/*.interop.test.ts'],
    globalSetup: ['test/interop/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    fileParallelism: false,
    pool: 'forks',
  },
});
