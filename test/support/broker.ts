/**
 * The test broker for a whole test file: started before the file's first test, after checking
 * the CLI is built, and stopped after its last. Either librdkafka's mock cluster, or for the
 * broker-agnostic e2e files the mock or Apache Kafka, as the suite that runs them says.
 */
import { startBroker, type StartBrokerOptions, type TestBroker } from '../../src/dev-broker/broker.js';
import { startKafka } from '../../src/dev-broker/kafka-broker.js';
import { requireBuild } from './build.js';
import { perFile } from './per-file.js';

/**
 * Whether the e2e files run on Apache Kafka: `PIPELINE_E2E_BROKER=kafka`, set by the real-broker
 * suite (vitest.kafka.config.ts) for the files it shares with `npm test`. Otherwise the mock.
 */
export const E2E_ON_KAFKA = process.env.PIPELINE_E2E_BROKER === 'kafka';

/** What the broker-agnostic e2e tests need of a broker. */
export type E2eBroker = Pick<TestBroker, 'bootstrap' | 'produceFile' | 'stop'>;

/** Starts the e2e broker with `topics`: the mock, or Apache Kafka under {@link E2E_ON_KAFKA}. */
export async function startE2eBroker(topics: { name: string; partitions: number }[]): Promise<E2eBroker> {
  return E2E_ON_KAFKA ? await startKafka({ topics }) : await startBroker({ topics });
}

/** Starts a broker with `start` before the file's first test (once the build is checked), stops it after its last. */
function brokerPerFile<B extends { stop(): Promise<void> }>(start: () => Promise<B>): B {
  return perFile(
    'test broker',
    async () => {
      requireBuild();
      return await start();
    },
    (broker) => broker.stop(),
  );
}

/**
 * Starts a test broker with `topics` for this test file and returns it. The returned object
 * stands for the broker once `beforeAll` has run: use it inside tests and hooks, not at the
 * top level of the file. Call at the top level of a file.
 */
export function useTestBroker(topics: StartBrokerOptions['topics'], options: Omit<StartBrokerOptions, 'topics'> = {}): TestBroker {
  return brokerPerFile(() => startBroker({ ...options, topics }));
}

/**
 * {@link useTestBroker} for the broker-agnostic e2e files: the mock under `npm test`, Apache
 * Kafka under {@link E2E_ON_KAFKA}. Same use: at the top level, the broker inside tests and hooks.
 */
export function useE2eBroker(topics: { name: string; partitions: number }[]): E2eBroker {
  return brokerPerFile(() => startE2eBroker(topics));
}

/**
 * The mock's fault controls (broker down/up, round-trip delay) behind a {@link useE2eBroker}
 * broker; only for tests skipped on Apache Kafka, which has none.
 */
export function mockControls(broker: E2eBroker): TestBroker {
  if (E2E_ON_KAFKA) throw new Error('the mock broker controls are used on Apache Kafka');
  return broker as TestBroker;
}
