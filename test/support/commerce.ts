/**
 * The commerce world of the end-to-end tests: the nine-table commerce spec written to a temp
 * dir and pointing at a broker, and events produced into its topic.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeRecordFile, type TestBroker } from '../../src/dev-broker/broker.js';
import type { GeneratedEvent } from '../../src/dev-broker/events.js';

/** The event types of the generated commerce events, one table each. */
export const COMMERCE_TYPES = ['orders', 'users', 'payments', 'inventory', 'products', 'shipments', 'refunds', 'reviews', 'analytics'];

/** What varies between the commerce specs of the tests. */
export interface SpecOptions {
  name?: string;
  topic: string;
  bootstrap: string;
  streams: number;
  interval?: string;
  maxRecordsPerBatch?: number;
  startingOffsets?: 'earliest' | 'latest';
  unmatched?: 'dead_letter' | 'drop';
  failOnDataLoss?: boolean;
  /** Where tables go (default `<dir>/lake`). */
  outputPath?: string;
  /** Where checkpoints go (default `<outputPath>/_checkpoints`). */
  checkpointPath?: string;
  /** Extra YAML lines under `source.kafka:` (indented here). */
  kafkaExtra?: string[];
  description?: string;
}

/** Writes the commerce spec (9 tables, analytics appended) as `<dir>/<file>`; returns its path. */
export function writeCommerceSpec(dir: string, o: SpecOptions, file = 'spec.yaml'): string {
  const output = o.outputPath ?? join(dir, 'lake');
  const tables = COMMERCE_TYPES.map((t) => (t === 'analytics' ? `  ${t}: { mode: append }` : `  ${t}: { mergeKeys: [id], sequenceBy: seq }`)).join('\n');
  const routes = COMMERCE_TYPES.map((t) => `    ${t}: ${t}`).join('\n');
  const kafka = [...(o.failOnDataLoss === undefined ? [] : [`failOnDataLoss: ${o.failOnDataLoss}`]), ...(o.kafkaExtra ?? [])].map((l) => `    ${l}\n`).join('');
  const text = `apiVersion: pipeline/v1
name: ${o.name ?? 'e2e'}
${o.description ? `description: "${o.description}"\n` : ''}source:
  kafka:
    brokers: ["${o.bootstrap}"]
    topic: ${o.topic}
    startingOffsets: ${o.startingOffsets ?? 'earliest'}
${kafka}  format: json
streams: ${o.streams}
trigger:
  interval: ${o.interval ?? '500ms'}
  maxRecordsPerBatch: ${o.maxRecordsPerBatch ?? 2000}
routing:
  field: event_type
  routes:
${routes}
  unmatched: ${o.unmatched ?? 'dead_letter'}
tables:
${tables}
deadLetter:
  table: _dead_letter
output:
  path: ${output}
checkpoint:
  path: ${o.checkpointPath ?? join(output, '_checkpoints')}
`;
  const path = join(dir, file);
  writeFileSync(path, text);
  return path;
}

/** Produces events through a broker (the mock's fast path or Apache Kafka's producer); resolves with the delivered count. */
export async function produce(broker: Pick<TestBroker, 'produceFile'>, dir: string, topic: string, events: GeneratedEvent[], tag = 'batch'): Promise<number> {
  const file = join(dir, `${tag}-${Date.now()}.bin`);
  await writeRecordFile(file, events);
  return broker.produceFile(topic, file);
}
