/**
 * The end-to-end helpers live in test/support; this module keeps their older import path
 * working, and says which broker the broker-agnostic e2e files run on.
 */
import { startBroker, type TestBroker } from '../../src/dev-broker/broker.js';
import { startKafka } from '../../src/dev-broker/kafka-broker.js';

export { ROOT } from '../support/build.js';
export { E2E_TIMEOUT, runAvailableNow, runCli, startCli, type CliResult } from '../support/cli.js';
export { COMMERCE_TYPES, produce, writeCommerceSpec, type SpecOptions } from '../support/commerce.js';
export { readOffsetRanges } from '../support/files.js';
export { normalizeReference, readGold, readTable } from '../support/tables.js';

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
