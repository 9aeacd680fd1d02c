import { defineConfig } from 'vitest/config';

/**
 * The object-storage suite (`npm run test:s3`): tables in a bucket of a real MinIO server
 * (built once into `.cache/bin` by the global setup). Files run one at a time: each owns a
 * server and spawns writer processes.
 */
export default defineConfig({
  test: {
    include: ['test/s3/**/*.s3.test.ts'],
    globalSetup: ['test/s3/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    fileParallelism: false,
    pool: 'forks',
  },
});
