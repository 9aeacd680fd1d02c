import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: integration tests own a broker and DuckDB each; run files two at a time at most.
    maxWorkers: 2,
    pool: 'forks',
  },
});
