/**
 * Event time on the test broker: out-of-order and late clickstream events on four
 * partitions, run by `pipelines/clickstream-windows.yaml` (validated, planned, run) with
 * small batches over two streams. The window table must equal the reference computed from
 * the produced events with the documented watermark rule (test/event-time/reference.ts);
 * late records land in the dead-letter table with stage `late`; the tables are partitioned
 * by hour (`table show` lists the partitions); a SIGKILL mid-window and a restart give the
 * same windows; `append` windows over three streams are written once and final, also across
 * crashes mid-window and right after a window commit, and across a re-shard to two streams; a
 * stream without records holds them back until `idleTimeout` leaves it out.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeRecordFile } from '../../src/dev-broker/broker.js';
import { useTestBroker } from '../support/broker.js';
import { ROOT } from '../support/build.js';
import { E2E_TIMEOUT, runAvailableNow, runCli, startCli } from '../support/cli.js';
import { loggedRows, readTable } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';
import { referenceWindows, lateRecords, type RefEvent, type RefRow } from '../event-time/reference.js';

const murmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;
const partitionOf = (key: string, partitions: number) => (murmur2(Buffer.from(key)) & 0x7fffffff) % partitions;

const PARTITIONS = [0, 1, 2, 3];
const SPEC = join(ROOT, 'pipelines', 'clickstream-windows.yaml');
const T0 = Date.parse('2026-03-01T09:58:00Z');
const TYPES = ['click', 'page_view', 'click', 'scroll'];

const broker = useTestBroker([
  { name: 'clickstream', partitions: PARTITIONS.length },
  { name: 'clickstream_half', partitions: PARTITIONS.length },
  { name: 'clickstream_reshard', partitions: PARTITIONS.length },
]);
const tempDir = tempDirs('event-time-');

/** A deterministic pseudo-random sequence (the test must not depend on luck). */
function rng(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

/** Events per partition: roughly ascending event times, ±25 s out of order, every 13th record 3 minutes behind (late). */
function makeEvents(perPartition: number, partitions = PARTITIONS): { events: RefEvent[]; records: { key: string; value: string }[] } {
  const rand = rng(7);
  const events: RefEvent[] = [];
  const records: { key: string; value: string }[] = [];
  let n = 0;
  for (let i = 0; i < perPartition; i++) {
    for (const p of partitions) {
      let key: string;
      do key = `u${n++}`; while (partitionOf(key, PARTITIONS.length) !== p);
      const behind = i % 13 === 12 ? 180_000 : 0;
      const ts = T0 + i * 1500 + Math.floor(rand() * 50_000) - 25_000 - behind;
      const type = TYPES[Math.floor(rand() * TYPES.length)]!;
      const duration = rand() < 0.2 ? null : Math.floor(rand() * 5000);
      const value: Record<string, unknown> = { event_type: type, event_time: new Date(ts).toISOString(), duration_ms: duration };
      if (duration !== null) value.user_id = key;
      records.push({ key, value: JSON.stringify(value) });
      events.push({ partition: p, ts, table: type === 'click' ? 'clicks' : type === 'page_view' ? 'page_views' : undefined, group: type, value: duration });
    }
  }
  return { events, records };
}

const DATA = makeEvents(120);
/** Records on partitions 0 and 2 only: with two streams, stream 1 (partitions 1 and 3) gets none. */
const HALF = makeEvents(60, [0, 2]);
const OPTS = { delayMs: 60_000, sizeMs: 60_000, slideMs: 30_000, tables: ['clicks', 'page_views'], partitions: PARTITIONS };

beforeAll(async () => {
  const file = join(tempDir(), 'clicks.bin');
  await writeRecordFile(file, DATA.records);
  expect(await broker.produceFile('clickstream', file)).toBe(DATA.records.length);
  const half = join(tempDir(), 'half.bin');
  await writeRecordFile(half, HALF.records);
  expect(await broker.produceFile('clickstream_half', half)).toBe(HALF.records.length);
});

/** `--set` overrides pointing the example at the test broker and a temp lake, with small batches. */
function overrides(dir: string, extra: string[] = []): string[] {
  return ['--set', `output.path=${join(dir, 'lake')}`, '--set', `checkpoint.path=${join(dir, 'lake', '_checkpoints')}`, '--set', 'trigger.interval=200ms', '--set', 'trigger.maxRecordsPerBatch=37', ...extra];
}
const env = () => ({ KAFKA_BROKERS: broker.bootstrap });

const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : Date.parse(String(v)));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** The window table as reference rows (measure names of the example). */
async function windows(dir: string): Promise<RefRow[]> {
  const path = join(dir, 'lake', 'events_per_minute');
  const rows = existsSync(join(path, '_delta_log')) ? await readTable(path) : [];
  return rows
    .map((r) => ({
      start: ms(r.window_start), end: ms(r.window_end), group: String(r.event_type), n: Number(r.events), valued: Number(r.users),
      total: null, lo: null, hi: num(r.max_duration_ms), mean: num(r.avg_duration_ms),
    }))
    .sort((a, b) => a.start - b.start || a.group.localeCompare(b.group));
}

/** The reference with the example's measures only (no sum or min). */
const expected = (append: boolean): RefRow[] => referenceWindows(DATA.events, { ...OPTS, append }).map((r) => ({ ...r, total: null, lo: null }));

describe('event time on the test broker', () => {
  it('validates and plans the example, and runs it: windows equal the reference, late records dead-lettered, tables partitioned by hour', async () => {
    const validated = await runCli(['validate', SPEC], env());
    expect(validated.code, validated.stdout + validated.stderr).toBe(0);
    const planned = await runCli(['plan', SPEC], env());
    expect(planned.code).toBe(0);
    expect(planned.stdout).toContain('window.events_per_minute [window]');
    expect(planned.stdout).toContain('watermark --[late]--> sink._dead_letter');

    const dir = tempDir();
    const run = await runAvailableNow(SPEC, dir, env(), overrides(dir));
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const { late } = lateRecords(DATA.events, OPTS.delayMs);
    expect(late.size).toBeGreaterThan(20);
    expect(run.summary!.late).toBe(late.size);
    expect(run.summary!.batches).toBeGreaterThan(8);
    const dead = await readTable(join(dir, 'lake', '_dead_letter'));
    expect(dead.filter((r) => r.stage === 'late')).toHaveLength(late.size);
    const want = expected(false);
    expect(want.length).toBeGreaterThan(12);
    expect(await windows(dir)).toEqual(want);
    // Every stream reports its watermark; the pipeline's is the least.
    expect(run.summary!.streams.every((s: { watermark?: string }) => typeof s.watermark === 'string')).toBe(true);
    expect(run.summary!.watermark).toBe(run.summary!.streams.map((s: { watermark: string }) => s.watermark).sort()[0]);

    const shown = await runCli(['table', 'show', join(dir, 'lake', 'clicks')]);
    expect(shown.code, shown.stderr).toBe(0);
    const clicks = await readTable(join(dir, 'lake', 'clicks'));
    const hours = new Map<string, number>();
    for (const r of clicks) hours.set(String(r.event_hour), (hours.get(String(r.event_hour)) ?? 0) + 1);
    expect(hours.size).toBeGreaterThan(1);
    for (const [hour, count] of hours) expect(shown.stdout).toMatch(new RegExp(`event_hour=${hour}\\s+\\d+ files\\s+${count} rows`));
    const windowTable = await runCli(['table', 'show', join(dir, 'lake', 'events_per_minute')]);
    expect(windowTable.stdout).toMatch(/Partitioned by\s+window_hour/);
  }, E2E_TIMEOUT);

  it('a SIGKILL mid-window and a restart give the same update windows', async () => {
    const dir = tempDir();
    const crashed = await runAvailableNow(SPEC, dir, { ...env(), PIPELINE_FAILPOINT: 'batch.after-table-commit:9' }, overrides(dir));
    expect(crashed.signal, crashed.stderr.slice(-1500)).toBe('SIGKILL');
    expect((await windows(dir)).length).toBeGreaterThan(0);
    const restarted = await runAvailableNow(SPEC, dir, env(), overrides(dir));
    expect(restarted.code, restarted.stderr.slice(-2000)).toBe(0);
    expect(await windows(dir)).toEqual(expected(false));
  }, E2E_TIMEOUT);

  it('append windows over three streams are written once, final, across a SIGKILL mid-window and one right after a window commit', async () => {
    const dir = tempDir();
    const append = overrides(dir, ['--set', 'streams=3', '--set', 'aggregations.events_per_minute.outputMode=append']);
    const crashed = await runAvailableNow(SPEC, dir, { ...env(), PIPELINE_FAILPOINT: 'batch.before-checkpoint-commit:6' }, append);
    expect(crashed.signal, crashed.stderr.slice(-1500)).toBe('SIGKILL');
    const emitted = await runAvailableNow(SPEC, dir, { ...env(), PIPELINE_FAILPOINT: 'windows.after-emit:1' }, append);
    expect(emitted.signal, emitted.stderr.slice(-1500)).toBe('SIGKILL');
    const partial = (await windows(dir)).length;
    const restarted = await runAvailableNow(SPEC, dir, env(), append);
    expect(restarted.code, restarted.stderr.slice(-2000)).toBe(0);
    const want = expected(true);
    expect(want.length).toBeGreaterThan(6);
    // Killed right after a window commit: the restart must not write those windows again.
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThanOrEqual(want.length);
    expect(want.length).toBeLessThan(expected(false).length); // the newest windows are still open
    expect(await windows(dir)).toEqual(want);
    // Written once and final: every window row is in exactly one `add` of the log, none removed.
    expect(loggedRows(join(dir, 'lake', 'events_per_minute'))).toEqual({ added: want.length, removes: 0 });
    // The last run's summary counts the window rows it wrote.
    expect(restarted.summary!.tables.events_per_minute?.inserted ?? 0).toBe(want.length - partial);
    const dead = await readTable(join(dir, 'lake', '_dead_letter'));
    expect(dead.filter((r) => r.stage === 'late')).toHaveLength(lateRecords(DATA.events, OPTS.delayMs).late.size);
  }, E2E_TIMEOUT);
  it('a stream without records holds append windows back; with idleTimeout a running pipeline leaves it out and writes them', async () => {
    const half = (dir: string, extra: string[] = []) => overrides(dir, [
      '--set', 'source.kafka.topic=clickstream_half', '--set', 'streams=2', '--set', 'aggregations.events_per_minute.outputMode=append', '--set', 'trigger.maxRecordsPerBatch=100000', ...extra,
    ]);
    const held = tempDir();
    const run = await runAvailableNow(SPEC, held, env(), half(held));
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.summary!.records).toBe(HALF.records.length);
    expect(await windows(held)).toEqual([]);

    const dir = tempDir();
    const want = referenceWindows(HALF.events, { ...OPTS, partitions: [0, 2], append: true }).map((r) => ({ ...r, total: null, lo: null }));
    expect(want.length).toBeGreaterThan(3);
    const { child, done } = startCli(['run', SPEC, '--log-level', 'warn', ...half(dir, ['--set', 'watermark.idleTimeout=2s'])], env(), E2E_TIMEOUT - 30_000);
    try {
      for (let waited = 0; (await windows(dir)).length < want.length && waited < 90_000; waited += 500) await new Promise((r) => setTimeout(r, 500));
    } finally {
      child.kill('SIGTERM');
    }
    const stopped = await done;
    expect(stopped.code, stopped.stderr.slice(-2000)).toBe(0);
    expect(await windows(dir)).toEqual(want);
    expect(loggedRows(join(dir, 'lake', 'events_per_minute'))).toEqual({ added: want.length, removes: 0 });
  }, E2E_TIMEOUT);
  it('append windows survive a re-shard from three streams to two mid-stream: exact, each written once', async () => {
    const dir = tempDir();
    const at = DATA.records.length / 2;
    const produce = async (records: typeof DATA.records) => {
      const file = join(tempDir(), 'part.bin');
      await writeRecordFile(file, records);
      expect(await broker.produceFile('clickstream_reshard', file)).toBe(records.length);
    };
    const args = (streams: number, extra: string[] = []) => overrides(dir, ['--set', 'source.kafka.topic=clickstream_reshard', '--set', `streams=${streams}`, '--set', 'aggregations.events_per_minute.outputMode=append', ...extra]);
    await produce(DATA.records.slice(0, at));
    const first = await runAvailableNow(SPEC, dir, env(), args(3));
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    const before = (await windows(dir)).length;
    await produce(DATA.records.slice(at));
    const second = await runAvailableNow(SPEC, dir, env(), [...args(2), '--reshard']);
    expect(second.code, second.stderr.slice(-2000)).toBe(0);
    const want = expected(true);
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(want.length);
    expect(await windows(dir)).toEqual(want);
    expect(loggedRows(join(dir, 'lake', 'events_per_minute'))).toEqual({ added: want.length, removes: 0 });
  }, E2E_TIMEOUT);
});
