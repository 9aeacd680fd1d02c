import { defineConfig } from 'vitest/config';

/**
 * The real-broker suite (`npm run test:kafka`): Apache Kafka 4.x in one JVM per file, the
 * built CLI spawned against it. Files run one at a time (a JVM and the runner share two cores).
 */
export default defineConfig({
  test: {
    // Plus the broker-agnostic e2e files, on Apache Kafka instead of the mock.
    include: ['test/kafka/**/*.kafka.test.ts', 'test/e2e/run-exactly-once.test.ts', 'test/e2e/crash-recovery.test.ts', 'test/e2e/replay-kafka.test.ts'],
    env: { PIPELINE_E2E_BROKER: 'kafka' },
    testTimeout: 300_000,
    hookTimeout: 600_000,
    maxWorkers: 1,
    fileParallelism: false,
    pool: 'forks',
  },
});
