/**
 * `pipeline run` against Apache Kafka 4.x (KRaft, one JVM): what the mock broker cannot show.
 * Multi-stream exactness, transactional topics (aborted records and control markers),
 * compacted topics (offset gaps), and consumer-group lag as Kafka's admin API reports it.
 * Run with `npm run test:kafka` (the first run downloads Kafka's jars with Maven).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaBroker } from '../../src/dev-broker/kafka-broker.js';
import { generateEvents, type GeneratedEvent } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { runAvailableNow, startCli } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { readOffsetRanges } from '../support/files.js';
import { normalizeReference, readGold, readTable } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const PARTITIONS = 4;
let kafka: KafkaBroker;
const tempDir = tempDirs('real-kafka-');

beforeAll(async () => {
  kafka = await startKafka({
    topics: [
      { name: 'exact', partitions: PARTITIONS },
      { name: 'txn', partitions: PARTITIONS },
      { name: 'open-txn', partitions: 2 },
      { name: 'txn-live', partitions: 2 },
      { name: 'grow', partitions: 2 },
      // Records of up to 20 MiB (Kafka's default is 1 MiB).
      { name: 'large', partitions: 2, config: { 'max.message.bytes': String(20 << 20) } },
      // Segments roll every 200 ms; retention is cut to 1 ms by the test once the pipeline stopped.
      { name: 'retained', partitions: 2, config: { 'segment.ms': '200', 'retention.ms': '3600000' } },
      // Segments roll every 100 ms and the cleaner runs at once: offset gaps appear quickly.
      { name: 'compacted', partitions: 2, config: { 'cleanup.policy': 'compact', 'segment.ms': '100', 'min.cleanable.dirty.ratio': '0.001', 'min.compaction.lag.ms': '0', 'delete.retention.ms': '0' } },
    ],
  });
});
afterAll(async () => {
  await kafka?.stop();
});

/** Per stream group: Kafka's lag (log end minus committed group offset), summed over the stream's partitions. */
async function kafkaGroupLag(topic: string, groupPrefix: string, streams: number): Promise<number[]> {
  const admin = kafka.client('lag').admin();
  await admin.connect();
  try {
    const high = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
    const lags: number[] = [];
    for (let s = 0; s < streams; s++) {
      const [committed] = await admin.fetchOffsets({ groupId: `${groupPrefix}-${s}`, topics: [topic] });
      lags.push(committed!.partitions.filter((p) => p.partition % streams === s).reduce((sum, p) => sum + high.get(p.partition)! - Math.max(0, Number(p.offset)), 0));
    }
    return lags;
  } finally {
    await admin.disconnect();
  }
}

/** Log end offset of every partition. */
async function logEnds(topic: string): Promise<Map<number, number>> {
  const admin = kafka.client('ends').admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Asserts the committed offset ranges tile each partition from 0 to its log end, no overlap, no hole. */
function expectRangesTile(dir: string, ends: Map<number, number>): void {
  const ranges = readOffsetRanges(dir).sort((a, b) => a.partition - b.partition || a.from - b.from);
  for (const [p, end] of ends) {
    const mine = ranges.filter((r) => r.partition === p && r.until > r.from);
    let at = 0;
    for (const r of mine) {
      expect(r.from, `partition ${p}`).toBe(at);
      at = r.until;
    }
    expect(at, `partition ${p} read up to its log end`).toBe(end);
  }
}

async function sendInTransaction(id: string, topic: string, events: GeneratedEvent[], outcome: 'commit' | 'abort' | 'open') {
  const producer = kafka.client(id).producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const tx = await producer.transaction();
  await tx.send({ topic, messages: events.map((e) => ({ key: e.key, value: e.value, timestamp: String(e.timestamp) })) });
  if (outcome === 'commit') await tx.commit();
  if (outcome === 'abort') await tx.abort();
  return { producer, tx };
}

describe('pipeline run on Apache Kafka', () => {
  it('merges every record exactly once with three streams, and group lag reaches 0', async () => {
    const dir = tempDir();
    const events = [...generateEvents({ count: 6_000, seed: 11, malformedRate: 0.01 })];
    expect(await produce(kafka, dir, 'exact', events)).toBe(6_000);
    const spec = writeCommerceSpec(dir, { name: 'exact', topic: 'exact', bootstrap: kafka.bootstrap, streams: 3, maxRecordsPerBatch: 1000 });
    const run = await runAvailableNow(spec, dir);
    expect(run.stderr).not.toMatch(/"level":50/);
    expect(run.code).toBe(0);
    const reference = computeReference(events, commerceReferenceSpec());
    expect(run.summary).toMatchObject({ status: 'completed', records: 6_000, deadLettered: reference.deadLetter });
    const gold = await readGold(dir);
    expect(gold.tables).toEqual(normalizeReference(reference.tables));
    expectRangesTile(dir, await logEnds('exact'));
    expect(await kafkaGroupLag('exact', 'pipeline-exact', 3)).toEqual([0, 0, 0]);
  });

  it('never stores aborted transactions, reads past control markers, and a restart neither stalls nor re-reads', async () => {
    const dir = tempDir();
    const events = [...generateEvents({ count: 3_000, seed: 12, malformedRate: 0 })];
    const committed: GeneratedEvent[] = [];
    for (let i = 0; i < 10; i++) {
      const chunk = events.slice(i * 300, (i + 1) * 300);
      const outcome = i % 3 === 1 ? 'abort' : 'commit';
      const { producer } = await sendInTransaction(`tx-${i}`, 'txn', chunk, outcome);
      await producer.disconnect();
      if (outcome === 'commit') committed.push(...chunk);
    }
    const spec = writeCommerceSpec(dir, { name: 'txn', topic: 'txn', bootstrap: kafka.bootstrap, streams: 2, maxRecordsPerBatch: 700 });
    const run1 = await runAvailableNow(spec, dir);
    expect(run1.code, run1.stderr.slice(-2000)).toBe(0);
    const reference = computeReference(committed, commerceReferenceSpec());
    expect(run1.summary).toMatchObject({ status: 'completed', records: committed.length });
    expect((await readGold(dir)).tables).toEqual(normalizeReference(reference.tables));
    const ends = await logEnds('txn');
    expectRangesTile(dir, ends);
    expect(await kafkaGroupLag('txn', 'pipeline-txn', 2)).toEqual([0, 0]);

    // Restart: nothing new, so nothing read, no batch planned, and no wait for records that never come.
    const batchesBefore = readOffsetRanges(dir).length;
    const started = Date.now();
    const run2 = await runAvailableNow(spec, dir);
    expect(run2.code).toBe(0);
    expect(run2.summary).toMatchObject({ status: 'completed', records: 0 });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(readOffsetRanges(dir).length).toBe(batchesBefore);
  });

  it('finishes an --available-now run at an open transaction and reads it once committed', async () => {
    const dir = tempDir();
    const events = [...generateEvents({ count: 600, seed: 13, malformedRate: 0 })];
    const before = await sendInTransaction('open-a', 'open-txn', events.slice(0, 300), 'commit');
    await before.producer.disconnect();
    const open = await sendInTransaction('open-b', 'open-txn', events.slice(300), 'open');
    const spec = writeCommerceSpec(dir, { name: 'open', topic: 'open-txn', bootstrap: kafka.bootstrap, streams: 1 });
    const run1 = await runAvailableNow(spec, dir);
    expect(run1.code, run1.stderr.slice(-2000)).toBe(0);
    expect(run1.summary).toMatchObject({ status: 'completed', records: 300 });
    await open.tx.commit();
    await open.producer.disconnect();
    const run2 = await runAvailableNow(spec, dir);
    expect(run2.code, run2.stderr.slice(-2000)).toBe(0);
    expect(run2.summary).toMatchObject({ status: 'completed', records: 300 });
    expect((await readGold(dir)).tables).toEqual(normalizeReference(computeReference(events, commerceReferenceSpec()).tables));
    expectRangesTile(dir, await logEnds('open-txn'));
  });

  it('reads a compacted topic (offset gaps) exactly once', async () => {
    const dir = tempDir();
    // Few keys, many versions: compaction removes most records. Three sends roll segments.
    const events = [...generateEvents({ count: 3_000, seed: 14, malformedRate: 0, unknownRate: 0 })].filter((e) => !e.value.includes('"analytics"'));
    for (let i = 0; i < 3; i++) {
      await produce(kafka, dir, 'compacted', events.slice(i * 1_000, (i + 1) * 1_000), `c${i}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    const ends = await logEnds('compacted');
    const total = [...ends.values()].reduce((a, b) => a + b, 0);
    // What a plain consumer sees once the cleaner ran and settled: fewer records than offsets,
    // the same twice in a row (the active segments are never cleaned, so it stays so).
    let survivors: { partition: number; offset: number; value: Buffer }[] = [];
    for (let attempt = 0; attempt < 60; attempt++) {
      const read = await readAll('compacted', total);
      const settled = read.length < total && read.length === survivors.length;
      survivors = read;
      if (settled) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(survivors.length).toBeLessThan(total);
    const spec = writeCommerceSpec(dir, { name: 'compact', topic: 'compacted', bootstrap: kafka.bootstrap, streams: 2, maxRecordsPerBatch: 250 });
    const run = await runAvailableNow(spec, dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.summary).toMatchObject({ status: 'completed', records: survivors.length });
    survivors.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    expect((await readGold(dir)).tables).toEqual(normalizeReference(computeReference(survivors, commerceReferenceSpec()).tables));
    expectRangesTile(dir, ends);
    expect(await kafkaGroupLag('compacted', 'pipeline-compact', 2)).toEqual([0, 0]);
  });

  it('reports the same lag as Kafka while running continuously, past a trailing transaction marker; one stable group per stream', async () => {
    const dir = tempDir();
    const events = [...generateEvents({ count: 900, seed: 15, malformedRate: 0 })];
    for (let i = 0; i < 3; i++) {
      const { producer } = await sendInTransaction(`live-${i}`, 'txn-live', events.slice(i * 300, (i + 1) * 300), i === 2 ? 'abort' : 'commit');
      await producer.disconnect();
    }
    const spec = writeCommerceSpec(dir, { name: 'txnlive', topic: 'txn-live', bootstrap: kafka.bootstrap, streams: 2, interval: '200ms' });
    const summaryFile = join(dir, 'summary.json');
    const cli = startCli(['run', spec, '--log-level', 'debug', '--summary-json', summaryFile]);
    const deadline = Date.now() + 90_000;
    let lags = [-1];
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      // The group coordinator may still be loading the new groups: ask again.
      lags = await kafkaGroupLag('txn-live', 'pipeline-txnlive', 2).catch(() => [-1]);
      if (lags.every((l) => l === 0)) break;
    }
    await new Promise((r) => setTimeout(r, 3_000));
    // Kafka's view of the groups: one stable group per stream, one member each.
    const admin = kafka.client('groups').admin();
    await admin.connect();
    const { groups } = await admin.describeGroups(['pipeline-txnlive-0', 'pipeline-txnlive-1']);
    await admin.disconnect();
    cli.child.kill('SIGTERM');
    const result = await cli.done;
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    expect(groups.map((g) => [g.groupId, g.state, g.members.length]).sort()).toEqual([['pipeline-txnlive-0', 'Stable', 1], ['pipeline-txnlive-1', 'Stable', 1]]);
    if (lags.some((l) => l !== 0)) writeFileSync(join(tmpdir(), 'txnlive-stderr.log'), result.stderr);
    expect(lags).toEqual([0, 0]);
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { records: number; timeline: { lag: number }[] };
    expect(summary.records).toBe(600);
    expect(summary.timeline.at(-1)!.lag).toBe(0);
  });
});

describe('a topic gaining partitions on Apache Kafka', () => {
  it('partitions added during a run: nothing lost or doubled, the next run reads the new partitions', async () => {
    const dir = tempDir();
    const before = [...generateEvents({ count: 2_000, seed: 18, malformedRate: 0 })];
    await produce(kafka, dir, 'grow', before, 'before');
    const spec = writeCommerceSpec(dir, { name: 'grow', topic: 'grow', bootstrap: kafka.bootstrap, streams: 2, interval: '200ms' });
    const cli = startCli(['run', spec, '--log-level', 'warn']);
    const deadline = Date.now() + 90_000;
    while ((await kafkaGroupLag('grow', 'pipeline-grow', 2).catch(() => [-1])).some((l) => l !== 0)) {
      if (Date.now() > deadline) throw new Error('the first records were not read in time');
      await new Promise((r) => setTimeout(r, 500));
    }
    const admin = kafka.client('grow').admin();
    await admin.connect();
    await admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 4 }] });
    await admin.disconnect();
    const after = [...generateEvents({ count: 2_000, seed: 19, malformedRate: 0, startTime: Date.UTC(2026, 5, 1) })];
    await produce(kafka, dir, 'grow', after, 'after');
    await new Promise((r) => setTimeout(r, 3_000));
    cli.child.kill('SIGTERM');
    expect((await cli.done).code).toBe(0);
    const rest = await runAvailableNow(spec, dir);
    expect(rest.code, rest.stderr.slice(-2000)).toBe(0);
    expect(rest.summary?.streams.map((s: { partitions: number[] }) => s.partitions)).toEqual([[0, 2], [1, 3]]);
    expect((await readGold(dir)).tables).toEqual(normalizeReference(computeReference([...before, ...after], commerceReferenceSpec()).tables));
    expectRangesTile(dir, await logEnds('grow'));
  });
});

describe('retention under a stopped pipeline on Apache Kafka', () => {
  it('stores a 17 MB record and dead-letters a 17 MB malformed one with its bytes, between small records', async () => {
    const dir = tempDir();
    const big = 'x'.repeat(17 << 20);
    const record = (id: number, extra: Record<string, unknown> = {}) => JSON.stringify({ event_type: 'analytics', id: `a${id}`, seq: id, event_time: '2026-03-01T10:00:00Z', ...extra });
    const malformed = Buffer.concat([Buffer.from('{"event_type": "analytics", "note": "'), Buffer.alloc(17 << 20, 'y'), Buffer.from('", oops}')]);
    const producer = kafka.client('large').producer();
    await producer.connect();
    // Each record alone, so the fetches have to carry one batch larger than the runner's fetch sizes.
    for (const [partition, value] of [[0, record(1)], [0, record(2, { payload: big })], [0, record(3)], [1, malformed], [1, record(4)]] as const) {
      await producer.send({ topic: 'large', messages: [{ partition, value }] });
    }
    await producer.disconnect();
    const spec = writeCommerceSpec(dir, { name: 'large', topic: 'large', bootstrap: kafka.bootstrap, streams: 2 });
    const run = await runAvailableNow(spec, dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.summary).toMatchObject({ status: 'completed', records: 5, deadLettered: 1 });
    const analytics = await readTable(join(dir, 'lake', 'analytics'));
    expect(analytics.map((r) => [r.id, typeof r.payload === 'string' ? (r.payload as string).length : null]).sort()).toEqual([['a1', null], ['a2', 17 << 20], ['a3', null], ['a4', null]]);
    expect(analytics.find((r) => r.id === 'a2')!.payload).toBe(big);
    const dead = await readTable(join(dir, 'lake', '_dead_letter'));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ partition: 1, offset: 0, stage: 'decode' });
    expect(dead[0]!.value_encoding).toBe('utf8');
    expect(dead[0]!.value === malformed.toString('utf8')).toBe(true);
  });

  it('stops with PIPE_SOURCE_DATA_LOSS by default; with failOnDataLoss: false reads exactly what retention kept', async () => {
    const dir = tempDir();
    const now = Date.now();
    const first = [...generateEvents({ count: 1_000, seed: 16, malformedRate: 0, startTime: now })];
    await produce(kafka, dir, 'retained', first, 'first');
    const spec = writeCommerceSpec(dir, { name: 'retained', topic: 'retained', bootstrap: kafka.bootstrap, streams: 2 });
    expect((await runAvailableNow(spec, dir)).code).toBe(0);
    const read = await logEnds('retained');

    // While stopped: more records in several segments, then retention deletes every closed one.
    const later = [...generateEvents({ count: 3_000, seed: 17, malformedRate: 0, startTime: now + 10_000 })];
    for (let i = 0; i < 3; i++) {
      await produce(kafka, dir, 'retained', later.slice(i * 1_000, (i + 1) * 1_000), `later${i}`);
      await new Promise((r) => setTimeout(r, 400));
    }
    const admin = kafka.client('config').admin();
    await admin.connect();
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'retained', configEntries: [{ name: 'retention.ms', value: '1' }] }] });
    let low = new Map<number, number>();
    for (let attempt = 0; attempt < 60; attempt++) {
      low = new Map((await admin.fetchTopicOffsets('retained')).map((o) => [o.partition, Number(o.low)]));
      if ([...low].every(([p, l]) => l > read.get(p)!)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect([...low].every(([p, l]) => l > read.get(p)!), 'retention deleted records the pipeline had not read').toBe(true);
    // The later records carry event times up to minutes ahead: with retention.ms=1 retention
    // would go on deleting them as the clock passes them, under the runs below. Back to an hour,
    // then wait until the log start stops moving (a pass may still run with the old setting).
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'retained', configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
    for (let attempt = 0; attempt < 20; attempt++) {
      await new Promise((r) => setTimeout(r, 2_500));
      const now = new Map((await admin.fetchTopicOffsets('retained')).map((o) => [o.partition, Number(o.low)]));
      const settled = [...now].every(([p, l]) => low.get(p) === l);
      low = now;
      if (settled) break;
    }
    await admin.disconnect();

    const refused = await runAvailableNow(spec, dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/PIPE_SOURCE_DATA_LOSS/);
    expect((await readGold(dir)).tables).toEqual(normalizeReference(computeReference(first, commerceReferenceSpec()).tables));

    const kept = (await readAll('retained', Infinity)).filter((r) => r.offset >= low.get(r.partition)!).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(later.length);
    const lenient = writeCommerceSpec(dir, { name: 'retained', topic: 'retained', bootstrap: kafka.bootstrap, streams: 2, failOnDataLoss: false }, 'lenient.yaml');
    const skipped = await runAvailableNow(lenient, dir);
    expect(skipped.code, skipped.stderr.slice(-2000)).toBe(0);
    expect(skipped.summary).toMatchObject({ status: 'completed', records: kept.length });
    const reference = computeReference([...first.map((e) => ({ value: e.value })), ...kept], commerceReferenceSpec());
    expect((await readGold(dir)).tables).toEqual(normalizeReference(reference.tables));
  });
});

/** Every record of `topic` as a plain read-committed consumer sees it. */
async function readAll(topic: string, upTo: number): Promise<{ partition: number; offset: number; value: Buffer }[]> {
  const consumer = kafka.client('reader').consumer({ groupId: `reader-${Date.now()}`, maxWaitTimeInMs: 100 });
  const seen: { partition: number; offset: number; value: Buffer }[] = [];
  const ends = await logEnds(topic);
  const done = new Set<number>();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) seen.push({ partition: batch.partition, offset: Number(m.offset), value: m.value! });
      if (Number(batch.lastOffset()) + 1 >= ends.get(batch.partition)!) done.add(batch.partition);
      if (done.size === ends.size || seen.length >= upTo) finish();
    },
  });
  const timer = setTimeout(finish, 30_000);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  return seen;
}
