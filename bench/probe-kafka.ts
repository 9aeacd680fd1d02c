/**
 * Probes the test broker's speed and limits: how fast `produce` loads generated commerce
 * events, how fast one kafkajs consumer reads them back, and how much a partition retains.
 *
 *   node dist/bench/probe-kafka.js [--events 1000000] [--partitions 64] [--compression gzip] [--retention]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, writeRecordFile, type Compression, type TestBroker } from '../src/dev-broker/broker.js';
import { generateEvents } from '../src/dev-broker/events.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '64' },
    compression: { type: 'string', default: 'none' },
    retention: { type: 'boolean', default: false },
  },
});
const count = Number(values.events);
const partitions = Number(values.partitions);
const compression = values.compression as Compression;
const seconds = (since: number) => (Date.now() - since) / 1000;
const rate = (n: number, s: number) => `${Math.round(n / s).toLocaleString('en-US')}/s`;

function kafka(broker: TestBroker): Kafka {
  return new Kafka({ clientId: 'probe', brokers: broker.bootstrap.split(','), logLevel: logLevel.NOTHING });
}

/** Reads the whole topic with one consumer; resolves with the record count and seconds taken. */
async function consumeAll(broker: TestBroker, topic: string, expected: number): Promise<{ records: number; seconds: number }> {
  const consumer = kafka(broker).consumer({ groupId: 'probe', maxBytes: 64 << 20, maxBytesPerPartition: 4 << 20, maxWaitTimeInMs: 100, sessionTimeout: 30_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let records = 0;
  let started = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (!started) started = Date.now();
      records += batch.messages.length;
      if (records >= expected) done();
    },
  });
  const stall = setInterval(() => process.stderr.write(`  consumed ${records}\n`), 5_000);
  await finished;
  const took = seconds(started);
  clearInterval(stall);
  await consumer.disconnect();
  return { records, seconds: took };
}

/** Produces ~15 MB into one partition and reports the offsets the broker still holds. */
async function probeRetention(broker: TestBroker, dir: string): Promise<void> {
  const file = join(dir, 'retention.bin');
  const value = Buffer.alloc(1000, 'x');
  const n = 15_000;
  await writeRecordFile(file, (function* () {
    for (let i = 0; i < n; i++) yield { key: null, value };
  })());
  await broker.produceFile('retention', file);
  const admin = kafka(broker).admin();
  await admin.connect();
  const [offsets] = await admin.fetchTopicOffsets('retention');
  await admin.disconnect();
  const low = Number(offsets!.low), high = Number(offsets!.high);
  console.log(`retention: produced ${n} x 1 KB records to one partition; broker keeps offsets [${low}, ${high}) = ${high - low} records ≈ ${((high - low) * 1000 / 1048576).toFixed(2)} MiB of values`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'probe-kafka-'));
  const broker = await startBroker({ topics: [{ name: 'events', partitions }, { name: 'retention', partitions: 1 }] });
  try {
    const file = join(dir, 'events.bin');
    let t = Date.now();
    await writeRecordFile(file, generateEvents({ count, seed: 1 }));
    const genSeconds = seconds(t);
    console.log(`generate+write: ${count} events, ${(statSync(file).size / 1048576).toFixed(0)} MiB in ${genSeconds.toFixed(1)} s (${rate(count, genSeconds)})`);

    t = Date.now();
    const produced = await broker.produceFile('events', file, { compression });
    const produceSeconds = seconds(t);
    console.log(`produce (${compression}): ${produced} records to ${partitions} partitions in ${produceSeconds.toFixed(1)} s (${rate(produced, produceSeconds)})`);

    const admin = kafka(broker).admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('events');
    await admin.disconnect();
    const aged = offsets.reduce((s, o) => s + Number(o.low), 0);
    const held = offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0);
    console.log(`broker holds ${held} records; ${aged} aged out (low watermark > 0)`);

    const read = await consumeAll(broker, 'events', held);
    console.log(`kafkajs consume: ${read.records} records in ${read.seconds.toFixed(1)} s (${rate(read.records, read.seconds)}), one consumer`);

    if (values.retention) await probeRetention(broker, dir);
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
