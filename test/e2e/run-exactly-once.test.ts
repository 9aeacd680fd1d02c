/**
 * `pipeline run` end to end against the test broker (the mock, or Apache Kafka in the
 * real-broker suite) and real DuckDB: gold tables equal the
 * reference model, dead letters carry raw bytes and coordinates, every partition is read by
 * exactly one stream, runs resume, `latest` starts at the end, and unsafe second runs refuse.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEvents, type GeneratedEvent } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { useE2eBroker } from '../support/broker.js';
import { E2E_TIMEOUT, runAvailableNow, runCli, startCli } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { readOffsetRanges } from '../support/files.js';
import { normalizeReference, readGold } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const murmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;
const partitionOf = (key: string, partitions: number) => (murmur2(Buffer.from(key)) & 0x7fffffff) % partitions;

const PARTITIONS = 6;
// The mock under npm test; Apache Kafka under npm run test:kafka (PIPELINE_E2E_BROKER=kafka).
const broker = useE2eBroker(['main', 'latest', 'layout', 'narrow'].map((name) => ({ name, partitions: name === 'narrow' ? 2 : PARTITIONS })));
const tempDir = tempDirs('run-e2e-');

/** Where each produced event lands: (partition, offset) in produce order. */
function coordinates(events: GeneratedEvent[], partitions: number, start = new Map<number, number>()): Map<string, GeneratedEvent> {
  const next = new Map(start);
  const at = new Map<string, GeneratedEvent>();
  for (const e of events) {
    const p = partitionOf(e.key!, partitions);
    const offset = next.get(p) ?? 0;
    next.set(p, offset + 1);
    at.set(`${p}:${offset}`, e);
  }
  return at;
}

describe('pipeline run --available-now', () => {
  it('merges every record exactly once, dead-letters failures with raw bytes, and resumes', async () => {
    const dir = tempDir();
    const first = [...generateEvents({ count: 6_000, seed: 7, malformedRate: 0.01 })];
    await produce(broker, dir, 'main', first);
    const spec = writeCommerceSpec(dir, { topic: 'main', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 1500 });

    const run1 = await runAvailableNow(spec, dir);
    expect(run1.stderr).not.toMatch(/"level":50/);
    expect(run1.code).toBe(0);
    const reference = computeReference(first, commerceReferenceSpec());
    expect(run1.summary).toMatchObject({ status: 'completed', records: 6_000, deadLettered: reference.deadLetter, dropped: 0 });
    expect(run1.stdout).toMatch(/pipeline e2e: completed — 6000 records/);
    let gold = await readGold(dir);
    expect(gold.tables).toEqual(normalizeReference(reference.tables));

    // Dead letters: one per failed record, at its coordinates, with its exact bytes.
    const at = coordinates(first, PARTITIONS);
    expect(gold.deadLetter).toHaveLength(reference.deadLetter);
    const stages = new Set<string>();
    for (const row of gold.deadLetter) {
      const event = at.get(`${row.partition}:${row.offset}`)!;
      const raw = row.value_encoding === 'base64' ? Buffer.from(String(row.value), 'base64') : Buffer.from(String(row.value), 'utf8');
      expect(raw.equals(event.value)).toBe(true);
      expect(row.key).toBe(event.key);
      expect(new Date(String(row.timestamp)).getTime()).toBe(event.timestamp);
      expect(row).toMatchObject({ topic: 'main', pipeline: 'e2e', stream: Number(row.partition) % 2 });
      expect(String(row.error).length).toBeGreaterThan(5);
      stages.add(String(row.stage));
    }
    expect([...stages].sort()).toEqual(['decode', 'route']);
    expect(gold.deadLetter.some((r) => r.value_encoding === 'base64' && r.error === 'value is not valid UTF-8')).toBe(true);
    expect(gold.deadLetter.some((r) => r.error === "routing field 'event_type' is missing")).toBe(true);

    // Each partition was read by exactly one stream (p % streams), in contiguous ranges.
    const ranges = readOffsetRanges(dir).sort((a, b) => a.partition - b.partition || a.batchId - b.batchId);
    for (let p = 0; p < PARTITIONS; p++) {
      const mine = ranges.filter((r) => r.partition === p);
      expect(new Set(mine.map((r) => r.stream))).toEqual(new Set([p % 2]));
      let next = 0;
      for (const r of mine) {
        expect(r.from).toBe(next);
        next = r.until;
      }
      expect(next).toBe(first.filter((e) => partitionOf(e.key!, PARTITIONS) === p).length);
    }

    // A second run resumes where the first stopped: only the new records are read.
    const second = [...generateEvents({ count: 2_000, seed: 8, startTime: Date.UTC(2026, 1, 1) })].map((e) => ({ ...e, key: `b-${e.key}` }));
    const renamed = second.map((e) => ({ ...e, value: Buffer.from(e.value.toString('latin1').replace(/"id":"/, '"id":"b-'), 'latin1') }));
    await produce(broker, dir, 'main', renamed, 'second');
    const run2 = await runAvailableNow(spec, dir);
    expect(run2.code).toBe(0);
    expect(run2.summary?.records).toBe(2_000);
    gold = await readGold(dir);
    expect(gold.tables).toEqual(normalizeReference(computeReference([...first, ...renamed], commerceReferenceSpec()).tables));
  }, E2E_TIMEOUT);

  it('startingOffsets: latest skips what is already in the topic on the first run only', async () => {
    const dir = tempDir();
    const old = [...generateEvents({ count: 1_000, seed: 21 })];
    await produce(broker, dir, 'latest', old);
    const spec = writeCommerceSpec(dir, { name: 'latest-e2e', topic: 'latest', bootstrap: broker.bootstrap, streams: 1, startingOffsets: 'latest' });
    const run1 = await runAvailableNow(spec, dir);
    expect(run1.code).toBe(0);
    expect(run1.summary?.records).toBe(0);
    const fresh = [...generateEvents({ count: 1_500, seed: 22 })].map((e) => ({ ...e, value: Buffer.from(e.value.toString('latin1').replace(/"id":"/, '"id":"n-'), 'latin1') }));
    await produce(broker, dir, 'latest', fresh, 'fresh');
    const run2 = await runAvailableNow(spec, dir);
    expect(run2.summary?.records).toBe(1_500);
    expect((await readGold(dir)).tables).toEqual(normalizeReference(computeReference(fresh, commerceReferenceSpec()).tables));
  }, E2E_TIMEOUT);

  it('with more streams than partitions, the extra stream idles and the result is exact', async () => {
    const dir = tempDir();
    const events = [...generateEvents({ count: 2_000, seed: 31 })];
    await produce(broker, dir, 'narrow', events);
    const spec = writeCommerceSpec(dir, { name: 'narrow-e2e', topic: 'narrow', bootstrap: broker.bootstrap, streams: 3 });
    const run = await runAvailableNow(spec, dir, {}, ['--log-level', 'info']);
    expect(run.code).toBe(0);
    expect(run.summary?.streams.map((s: { state: string; partitions: number[] }) => [s.state, s.partitions])).toEqual([
      ['caught-up', [0]],
      ['caught-up', [1]],
      ['idle', []],
    ]);
    expect(run.stderr.match(/stream owns no partition/g)).toHaveLength(1);
    expect((await readGold(dir)).tables).toEqual(normalizeReference(computeReference(events, commerceReferenceSpec()).tables));
  }, E2E_TIMEOUT);
});

describe('checkpoint safety', () => {
  it('refuses a second runner and a changed stream count; --reshard carries positions over exactly', async () => {
    const dir = tempDir();
    const events = [...generateEvents({ count: 3_000, seed: 41 })];
    await produce(broker, dir, 'layout', events);
    const spec = writeCommerceSpec(dir, { name: 'layout-e2e', topic: 'layout', bootstrap: broker.bootstrap, streams: 2 });

    // A long-running first runner holds the stream locks...
    const summaryFile = join(dir, 'long.json');
    const long = startCli(['run', spec, '--log-level', 'warn', '--summary-json', summaryFile]);
    const lockFile = join(dir, 'lake', '_checkpoints', '0', 'lock');
    for (let i = 0; i < 100 && !existsSync(lockFile); i++) await new Promise((r) => setTimeout(r, 100));
    const second = await runCli(['run', spec, '--available-now']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/pipeline run: error PIPE_CHECKPOINT_LOCKED checkpoint of stream 0 .* is in use by pid \d+/);
    // ...until SIGTERM: it finishes the batch in flight and exits 0.
    // Each stream creates its commits folder at its first commit, in either order.
    const committed = (stream: number) => {
      const commits = join(dir, 'lake', '_checkpoints', String(stream), 'commits');
      return existsSync(commits) && readdirSync(commits).length > 0;
    };
    for (let i = 0; i < 300 && !(committed(0) && committed(1)); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    long.child.kill('SIGTERM');
    const stopped = await long.done;
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(/pipeline layout-e2e: stopped/);
    // A live run reports end-to-end latency (record timestamp → checkpoint commit) and a timeline.
    const live = JSON.parse(readFileSync(summaryFile, 'utf8'));
    expect(live.records).toBeGreaterThan(0);
    expect(live.metrics.pipeline_end_to_end_latency_p99_ms).toBeGreaterThanOrEqual(live.metrics.pipeline_end_to_end_latency_p50_ms);
    expect(live.metrics.pipeline_end_to_end_latency_max_ms).toBeGreaterThanOrEqual(live.metrics.pipeline_end_to_end_latency_p99_ms);
    expect(live.timeline.at(-1)).toMatchObject({ records: live.records });

    const changed = await runAvailableNow(spec, dir, {}, ['--set', 'streams=3']);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/PIPE_CHECKPOINT_STREAMS .*written with streams: 2, but the spec now says streams: 3.*--reshard/);

    const more = [...generateEvents({ count: 2_000, seed: 42 })].map((e) => ({ ...e, value: Buffer.from(e.value.toString('latin1').replace(/"id":"/, '"id":"m-'), 'latin1') }));
    await produce(broker, dir, 'layout', more, 'more');
    const resharded = await runAvailableNow(spec, dir, {}, ['--set', 'streams=3', '--reshard']);
    expect(resharded.code).toBe(0);
    expect((await readGold(dir)).tables).toEqual(normalizeReference(computeReference([...events, ...more], commerceReferenceSpec()).tables));
    const ranges = readOffsetRanges(dir);
    expect(new Set(ranges.map((r) => r.stream))).toEqual(new Set([0, 1, 2]));
    for (const r of ranges) expect(r.stream).toBe(r.partition % 3);
  }, E2E_TIMEOUT);
});
