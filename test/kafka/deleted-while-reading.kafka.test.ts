/**
 * Records deleted on Apache Kafka while a run is reading the partition (retention or
 * DeleteRecords moving the log start past the run's position). The broker answers the next
 * fetch "offset out of range" and kafkajs jumps to the earliest offset on its own: the run
 * must not carry on as if the deleted records were a compaction gap. By default it stops with
 * PIPE_SOURCE_DATA_LOSS; with failOnDataLoss: false it skips them, counts them and says so.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startKafka, type KafkaBroker } from '../../src/dev-broker/kafka-broker.js';
import { generateEvents } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { normalizeReference, produce, readGold, readOffsetRanges, startCli, writeCommerceSpec } from '../e2e/harness.js';

const TOTAL = 60_000;
let kafka: KafkaBroker;
let dir: string;
beforeAll(async () => {
  kafka = await startKafka({ topics: [{ name: 'deleted', partitions: 1 }] });
  dir = mkdtempSync(join(tmpdir(), 'kafka-deleted-'));
});
afterAll(async () => {
  await kafka?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Small fetches: the run never holds more than a few thousand records ahead of its commits. */
const ENV = { PIPELINE_KAFKA_MAX_BYTES_PER_PARTITION: String(64 << 10) };

function commits(): number {
  const at = join(dir, 'lake/_checkpoints/0/commits');
  return existsSync(at) ? readdirSync(at).length : 0;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Moves the partition's log start to `offset`, as retention deleting segments does. */
async function deleteBefore(offset: number): Promise<void> {
  const admin = kafka.client('delete').admin();
  await admin.connect();
  try {
    // kafkajs finds the partition's leader in metadata it must have loaded first.
    await admin.fetchTopicMetadata({ topics: ['deleted'] });
    await admin.deleteTopicRecords({ topic: 'deleted', partitions: [{ partition: 0, offset: String(offset) }] });
  } finally {
    await admin.disconnect();
  }
}

/** Committed offset ranges of partition 0, adjacent ones merged: where the table's records came from. */
function committedSpans(): [number, number][] {
  const ranges = readOffsetRanges(dir).filter((r) => r.until > r.from).sort((a, b) => a.from - b.from);
  const spans: [number, number][] = [];
  for (const r of ranges) {
    const last = spans.at(-1);
    expect(r.from, 'committed ranges never overlap').toBeGreaterThanOrEqual(last?.[1] ?? 0);
    if (last && last[1] === r.from) last[1] = r.until;
    else spans.push([r.from, r.until]);
  }
  return spans;
}

it('records deleted under a running stream stop it with PIPE_SOURCE_DATA_LOSS, or with failOnDataLoss: false are skipped and counted', async () => {
  // One partition, produced in order by an idempotent producer: offset i holds events[i].
  const events = [...generateEvents({ count: TOTAL, seed: 31, malformedRate: 0 })];
  // In slices: one send of the producer's 5,000 records to a single partition would exceed the broker's 1 MB message limit.
  let produced = 0;
  for (let i = 0; i < TOTAL; i += 2_000) produced += await produce(kafka, dir, 'deleted', events.slice(i, i + 2_000), `slice${i}`);
  expect(produced).toBe(TOTAL);
  const reference = (offsets: [number, number][]) =>
    normalizeReference(computeReference(offsets.flatMap(([from, until]) => events.slice(from, until)), commerceReferenceSpec()).tables);

  // Strict (the default): a continuous run, records deleted far ahead of what it fetched.
  const spec = writeCommerceSpec(dir, { name: 'deleted', topic: 'deleted', bootstrap: kafka.bootstrap, streams: 1, interval: '100ms', maxRecordsPerBatch: 500 });
  const strict = startCli(['run', spec, '--log-level', 'warn'], ENV, 240_000);
  await until('two committed batches', () => commits() >= 2, 120_000);
  await deleteBefore(40_000);
  const stopped = await strict.done;
  expect(stopped.code, stopped.stderr.slice(-2000)).toBe(1);
  expect(stopped.stderr).toMatch(/PIPE_SOURCE_DATA_LOSS/);
  expect(stopped.stderr).toMatch(/while the run was reading/);
  const spans = committedSpans();
  expect(spans.length).toBe(1);
  const read = spans[0]![1];
  expect(spans[0]![0]).toBe(0);
  expect(read).toBeGreaterThan(0);
  expect(read).toBeLessThan(40_000);
  expect((await readGold(dir)).tables).toEqual(reference([[0, read]]));

  // Lenient: the start skips what the first deletion took; a second deletion lands mid-run.
  const lenient = writeCommerceSpec(dir, { name: 'deleted', topic: 'deleted', bootstrap: kafka.bootstrap, streams: 1, interval: '100ms', maxRecordsPerBatch: 500, failOnDataLoss: false }, 'lenient.yaml');
  const summaryFile = join(dir, 'summary.json');
  const before = commits();
  const run = startCli(['run', lenient, '--available-now', '--log-level', 'warn', '--summary-json', summaryFile], ENV, 240_000);
  await until('a batch of the lenient run', () => commits() > before, 120_000);
  await deleteBefore(50_000);
  const done = await run.done;
  expect(done.code, done.stderr.slice(-2000)).toBe(0);
  const skipped = /offsets (\d+)\.\.(\d+) of partition 0 were deleted \(retention\) while the run was reading/.exec(done.stderr);
  expect(skipped, done.stderr.slice(-2000)).not.toBeNull();
  const [from, to] = [Number(skipped![1]), Number(skipped![2]) + 1];
  expect(from).toBeGreaterThanOrEqual(40_000);
  expect(to).toBe(50_000);
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { records: number; lostToRetention: number };
  expect(summary.lostToRetention).toBe(40_000 - read + (to - from));
  expect(summary.records).toBe(from - 40_000 + TOTAL - to);
  // The start's skip is between two ranges; the mid-run skip is inside the range that crossed it.
  expect(committedSpans()).toEqual([[0, read], [40_000, TOTAL]]);
  expect((await readGold(dir)).tables).toEqual(reference([[0, read], [40_000, from], [to, TOTAL]]));
});
