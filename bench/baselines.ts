/**
 * Baselines the benchmark measures in the same run as the pipeline, each in its own process:
 *   count     — one kafkajs consumer that only counts records (the raw client ceiling);
 *   parse     — kafkajs + JSON.parse in N worker threads, each owning a share of the partitions
 *               (the read+parse ceiling the client imposes on this machine);
 *   monolith  — what a user writes by hand: one consumer, JSON.parse, and per fetched batch a
 *               sequential `INSERT … ON CONFLICT` into each DuckDB table, Parquet export at the end.
 * Usage: node dist/bench/baselines.js <count|parse|monolith> <bootstrap> <topic> <expected> [threads|outDir]
 * Prints one JSON line: {records, seconds, recordsPerSecond, ...}.
 */
import { Kafka, logLevel, AssignerProtocol, type PartitionAssigner, type EachBatchPayload } from 'kafkajs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Assigns the given partitions to the group's single member: exclusive ownership, no rebalancing. */
function ownedAssigner(topic: string, partitions: number[]): PartitionAssigner {
  return () => ({
    name: 'BenchOwned',
    version: 1,
    async assign({ members }) {
      return members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: { [topic]: i === 0 ? partitions : [] },
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return { name: 'BenchOwned', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

const fetchTuning = { maxBytes: 64 << 20, maxBytesPerPartition: 4 << 20, minBytes: 1, maxWaitTimeInMs: 50 };

/** Consumes `partitions` (all when undefined) from the beginning until `expected` records; calls onBatch per fetch. */
async function consume(
  bootstrap: string,
  topic: string,
  expected: number,
  partitions: number[] | undefined,
  onBatch: (payload: EachBatchPayload) => Promise<void> | void,
): Promise<number> {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'bench-baseline', logLevel: logLevel.NOTHING });
  let owned = partitions;
  if (!owned) {
    const admin = kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.disconnect();
    owned = meta.topics[0]!.partitions.map((p) => p.partitionId);
  }
  const consumer = kafka.consumer({
    groupId: `bench-${process.pid}-${Math.random().toString(36).slice(2)}`,
    partitionAssigners: [ownedAssigner(topic, owned)],
    ...fetchTuning,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let count = 0;
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        autoCommit: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async (payload) => {
          await onBatch(payload);
          count += payload.batch.messages.length;
          if (count >= expected) resolve();
        },
      })
      .catch(reject);
    if (expected === 0) resolve();
  });
  await consumer.disconnect();
  return count;
}

async function runCount(bootstrap: string, topic: string, expected: number): Promise<Record<string, number>> {
  const t0 = performance.now();
  const records = await consume(bootstrap, topic, expected, undefined, () => {});
  const seconds = (performance.now() - t0) / 1000;
  return { records, seconds, recordsPerSecond: records / seconds };
}

async function runParse(bootstrap: string, topic: string, expected: number, threads: number): Promise<Record<string, number>> {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'bench-baseline', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const shares: { partitions: number[]; expected: number }[] = Array.from({ length: threads }, () => ({ partitions: [], expected: 0 }));
  for (const o of offsets) {
    const share = shares[o.partition % threads]!;
    share.partitions.push(o.partition);
    share.expected += Number(o.high) - Number(o.low);
  }
  const t0 = performance.now();
  const counts = await Promise.all(
    shares.map(
      (share) =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(fileURLToPath(import.meta.url), { workerData: { bootstrap, topic, ...share } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  const records = counts.reduce((a, b) => a + b, 0);
  return { records, seconds, recordsPerSecond: records / seconds, threads, expected };
}

/** Worker body of `parse`: consume a share and JSON.parse every value (malformed ones are counted, not fatal). */
async function parseWorker(): Promise<void> {
  const { bootstrap, topic, partitions, expected } = workerData as { bootstrap: string; topic: string; partitions: number[]; expected: number };
  let parsed = 0;
  const n = await consume(bootstrap, topic, expected, partitions, ({ batch }) => {
    for (const m of batch.messages) {
      try {
        if (m.value && JSON.parse(m.value.toString('utf8'))) parsed++;
      } catch {
        // malformed input: the ceiling only counts what parses
      }
    }
  });
  parentPort!.postMessage(n);
}

async function runMonolith(bootstrap: string, topic: string, expected: number, outDir: string): Promise<Record<string, number>> {
  const { naiveMonolith } = await import('./monolith.js');
  mkdirSync(outDir, { recursive: true });
  const sink = await naiveMonolith();
  const t0 = performance.now();
  const records = await consume(bootstrap, topic, expected, undefined, async ({ batch, heartbeat }) => {
    await sink.insertBatch(batch.messages.map((m) => m.value));
    await heartbeat();
  });
  await sink.exportParquet(outDir);
  const seconds = (performance.now() - t0) / 1000;
  return { records, seconds, recordsPerSecond: records / seconds, ...sink.counts() };
}

async function main(): Promise<void> {
  const [mode, bootstrap, topic, expectedText, extra] = process.argv.slice(2);
  const expected = Number(expectedText);
  if (!bootstrap || !topic || !Number.isFinite(expected)) throw new Error('usage: baselines.js <count|parse|monolith> <bootstrap> <topic> <expected> [threads|outDir]');
  let result: Record<string, number>;
  if (mode === 'count') result = await runCount(bootstrap, topic, expected);
  else if (mode === 'parse') result = await runParse(bootstrap, topic, expected, Number(extra ?? 2));
  else if (mode === 'monolith') result = await runMonolith(bootstrap, topic, expected, extra ?? join(process.cwd(), 'monolith-out'));
  else throw new Error(`unknown baseline ${mode}`);
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  parseWorker().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
