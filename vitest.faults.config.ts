import { defineConfig } from 'vitest/config';

/**
 * The fault-injection suite (`npm run test:faults`): every scenario spawns the built CLI
 * against the test broker, so files run one at a time (each may take the machine's two
 * cores) with generous timeouts. `PIPELINE_FAULT_SUITE` tells the heavy files they run here
 * and not under the main config.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.faults.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    fileParallelism: false,
    pool: 'forks',
    env: { PIPELINE_FAULT_SUITE: '1' },
  },
});
