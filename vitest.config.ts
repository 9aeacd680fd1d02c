import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The fault-injection suite runs on its own: `npm run test:faults` (vitest.faults.config.ts),
    // and so do the object-storage tests (`npm run test:s3`), the real-broker tests
    // (`npm run test:kafka`) and the external Delta readers (`npm run test:interop`).
    exclude: ['**/node_modules/**', 'test/faults/**/*.faults.test.ts', 'test/s3/**', 'test/kafka/**', 'test/interop/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: integration tests own a broker and DuckDB each; run files two at a time at most.
    maxWorkers: 2,
    pool: 'forks',
  },
});
