/**
 * A Delta table as the source of a second pipeline, end to end: commerce-events lands its gold
 * tables from the test broker, then pipelines/gold-rollup.yaml reads the `analytics` table by
 * version and maintains sessions and hourly page activity. Its tables must equal a reference
 * computed here from the analytics table (not from the runner's code), after a first run, after
 * more events and a second run, after a SIGKILL mid-run and a restart, and after a run that
 * finds nothing new.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../src/dev-broker/events.js';
import { Lake } from '../../src/lake/index.js';
import { useTestBroker } from '../support/broker.js';
import { E2E_TIMEOUT, runAvailableNow, runCli } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { readTable } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const broker = useTestBroker([{ name: 'rollup', partitions: 3 }]);
const tempDir = tempDirs('delta-source-e2e-');
const ROLLUP = 'pipelines/gold-rollup.yaml';

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** What gold-rollup.yaml promises, computed from the analytics rows it reads. */
function reference(analytics: Record<string, unknown>[]) {
  const sessions = new Map<string, string>();
  const activity = new Map<string, { events: number; signed_in: number; total_duration_ms: number; max_duration_ms: number }>();
  for (const r of analytics) {
    const time = iso(r.event_time);
    const session = String(r.session_id);
    if (!sessions.has(session) || sessions.get(session)! < time) sessions.set(session, time);
    const hour = `${time.slice(0, 13)}:00:00.000Z`;
    const key = `${hour}|${r.page}|${r.device}`;
    const a = activity.get(key) ?? { events: 0, signed_in: 0, total_duration_ms: 0, max_duration_ms: -Infinity };
    a.events++;
    if (r.user_id !== null && r.user_id !== undefined) a.signed_in++;
    a.total_duration_ms += Number(r.duration_ms);
    a.max_duration_ms = Math.max(a.max_duration_ms, Number(r.duration_ms));
    activity.set(key, a);
  }
  return {
    sessions: [...sessions].map(([s, t]) => `${s}|${t}`).sort(),
    activity: [...activity].map(([k, a]) => `${k}|${a.events}|${a.signed_in}|${a.total_duration_ms}|${a.max_duration_ms}`).sort(),
  };
}

/** The rollup's tables in the reference's form. */
async function rollupTables(dir: string) {
  const sessions = await readTable(join(dir, 'rollup/sessions'));
  const activity = await readTable(join(dir, 'rollup/page_activity'));
  return {
    sessions: sessions.map((r) => `${r.session_id}|${iso(r.event_time)}`).sort(),
    activity: activity.map((r) => `${iso(r.window_start)}|${r.page}|${r.device}|${num(r.events)}|${num(r.signed_in)}|${num(r.total_duration_ms)}|${num(r.max_duration_ms)}`).sort(),
  };
}

describe('source: delta (pipelines/gold-rollup.yaml over commerce-events)', () => {
  it('maintains the rollup exactly through appends, a SIGKILL and a restart', async () => {
    const dir = tempDir();
    const env = { GOLD_PATH: join(dir, 'lake'), ROLLUP_PATH: join(dir, 'rollup') };
    // Small batches on both sides: many analytics versions, many rollup batches.
    const rollup = (extra: Record<string, string> = {}, batch = 150) => runAvailableNow(ROLLUP, dir, { ...env, ...extra }, ['--set', `trigger.maxRecordsPerBatch=${batch}`]);
    const spec = writeCommerceSpec(dir, { topic: 'rollup', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 400 });
    const events = [...generateEvents({ count: 3_000, seed: 21 })];
    await produce(broker, dir, 'rollup', events.slice(0, 1_800));
    expect((await runAvailableNow(spec, dir)).code).toBe(0);

    const first = await rollup();
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    const analytics = await readTable(join(dir, 'lake/analytics'));
    expect(analytics.length).toBeGreaterThan(300);
    expect(first.summary?.records).toBe(analytics.length);
    expect(first.summary?.batches).toBeGreaterThan(2);
    expect(await rollupTables(dir)).toEqual(reference(analytics));

    // More events land in the gold table. The next rollup run is killed in its second batch,
    // between the sessions commit and page_activity's (a batch commits sessions, page_activity,
    // then _events), then restarted: it replays that batch and reads only new versions, none twice.
    await produce(broker, dir, 'rollup', events.slice(1_800), 'more');
    expect((await runAvailableNow(spec, dir)).code).toBe(0);
    const killed = await rollup({ PIPELINE_FAILPOINT: 'batch.after-table-commit:4' });
    expect(killed.signal ?? killed.code).toBe('SIGKILL');
    // The restart cuts its new batches differently: the interrupted one is re-read exactly.
    const restarted = await rollup({}, 1_000);
    expect(restarted.code, restarted.stderr.slice(-2000)).toBe(0);
    const all = await readTable(join(dir, 'lake/analytics'));
    expect(all.length).toBeGreaterThan(analytics.length);
    expect(await rollupTables(dir)).toEqual(reference(all));
    expect(await readTable(join(dir, 'rollup/_dead_letter'))).toEqual([]);

    // Nothing new: a run reads nothing and changes nothing; status says it is caught up.
    const idle = await rollup();
    expect(idle.code).toBe(0);
    expect(idle.summary?.records).toBe(0);
    expect(await rollupTables(dir)).toEqual(reference(all));
    const status = await runCli(['status', ROLLUP, '--format', 'json'], env);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ pipeline: 'gold-rollup', versionsBehind: 0 });

    // An upsert table rewrites files on MERGE: read with `removes: fail`, the source stops
    // with a coded error at the first version that updated rows.
    const other = { GOLD_PATH: join(dir, 'lake'), ROLLUP_PATH: join(dir, 'orders-rollup') };
    const changed = await runAvailableNow(ROLLUP, dir, other, ['--set', `source.delta.path=${join(dir, 'lake/orders')}`]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/PIPE_DELTA_SOURCE_CHANGED version \d+ of .*orders \(MERGE\) updated or deleted rows/);
  }, E2E_TIMEOUT);
});

describe('source: delta with append windows', () => {
  /** A pipeline reading `source` whose hourly page counts are written once each hour closes. */
  const appendSpec = (dir: string, source: string) => {
    const spec = join(dir, 'hourly.yaml');
    writeFileSync(spec, [
      'apiVersion: pipeline/v1', 'name: hourly-pages',
      `source: { delta: { path: ${source}, removes: fail, startingVersion: earliest } }`,
      'streams: 1', 'trigger: { interval: 1s }',
      'watermark: { column: event_time, delay: 10m, lateData: dead_letter }',
      'routing: { field: event_type, routes: { analytics: events }, unmatched: dead_letter }',
      'tables: { events: { mode: append } }',
      'aggregations:', '  per_hour:', '    from: [events]', '    window: { type: tumbling, size: 1h }', '    groupBy: [page]',
      '    measures: { n: "count(*)" }', '    outputMode: append',
      'deadLetter: { table: _dead_letter }', `output: { path: ${join(dir, 'out')} }`, `checkpoint: { path: ${join(dir, 'out/_checkpoints')} }`,
    ].join('\n'));
    return spec;
  };
  /** The closed windows (end at or before the greatest event time less the delay), each once. */
  const closedWindows = (rows: { page: string; at: number }[]) => {
    const watermark = Math.max(...rows.map((r) => r.at)) - 10 * 60_000;
    const counts = new Map<string, number>();
    for (const r of rows) {
      const start = r.at - (r.at % 3_600_000);
      if (start + 3_600_000 > watermark) continue;
      const key = `${new Date(start).toISOString()}|${r.page}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].map(([k, n]) => `${k}|${n}`).sort();
  };

  it('writes each closed window once, across runs and batch cuts', async () => {
    const dir = tempDir();
    const source = join(dir, 'analytics');
    const rows: { page: string; at: number }[] = [];
    const lake = await Lake.create({ threads: 1 });
    // Versions of an append-only table: 20 events each, 7 minutes apart (event time only grows).
    const addVersions = async (n: number) => {
      for (let v = 0; v < n; v++) {
        const batch = Array.from({ length: 20 }, () => {
          const r = { page: `/p${rows.length % 3}`, at: Date.UTC(2026, 0, 1) + rows.length * 7 * 60_000 };
          rows.push(r);
          return { event_type: 'analytics', page: r.page, event_time: new Date(r.at).toISOString() };
        });
        await lake.write(source, { kind: 'rows', rows: batch }, { mode: 'append' });
      }
    };
    const table = async () => (await readTable(join(dir, 'out/per_hour'))).map((r) => `${iso(r.window_start)}|${r.page}|${num(r.n)}`).sort();
    try {
      const spec = appendSpec(dir, source);
      await addVersions(3);
      const first = await runAvailableNow(spec, dir, {}, ['--set', 'trigger.maxRecordsPerBatch=7']);
      expect(first.code, first.stderr.slice(-2000)).toBe(0);
      expect(first.summary?.tables?.per_hour?.inserted).toBeGreaterThan(0);
      // The summary names what the stream reads (it owns no Kafka partitions) and its watermark.
      expect(first.stdout + first.stderr).toMatch(/stream 0: stopped, reads \S+analytics, \d+ batches, 60 records, watermark 2026-01-01T06:43:00\.000Z/);
      expect(await table()).toEqual(closedWindows(rows));
      await addVersions(4);
      const second = await runAvailableNow(spec, dir, {}, ['--set', 'trigger.maxRecordsPerBatch=33']);
      expect(second.code, second.stderr.slice(-2000)).toBe(0);
      expect(await table()).toEqual(closedWindows(rows));
      expect(await readTable(join(dir, 'out/_dead_letter'))).toEqual([]);
    } finally {
      lake.close();
    }
  }, E2E_TIMEOUT);
});

describe('source: delta whose table is replaced', () => {
  it('stops when the table at its path is another one; deleting the checkpoint and --reset reads the new table from its start', async () => {
    const dir = tempDir();
    const source = join(dir, 'src');
    const spec = join(dir, 'copy.yaml');
    writeFileSync(spec, [
      'apiVersion: pipeline/v1', 'name: copy',
      `source: { delta: { path: ${source} } }`,
      'routing: { field: type, routes: { x: out } }', 'tables: { out: { mode: append } }',
      `output: { path: ${join(dir, 'lake')} }`, `checkpoint: { path: ${join(dir, 'cp')} }`,
    ].join('\n'));
    const rows = (ids: number[]) => ({ kind: 'rows' as const, rows: ids.map((id) => ({ type: 'x', id })) });
    const out = async () => (await readTable(join(dir, 'lake/out'))).map((r) => Number(r.id)).sort((a, b) => a - b);
    const lake = await Lake.create({ threads: 1 });
    try {
      await lake.write(source, rows([1, 2, 3]), { mode: 'append' });
      await lake.write(source, rows([4, 5]), { mode: 'append' });
      expect((await runAvailableNow(spec, dir)).code).toBe(0);
      expect(await out()).toEqual([1, 2, 3, 4, 5]);
      // Deleted and created again: its versions start over (one version here, below the two read).
      rmSync(source, { recursive: true, force: true });
      await lake.write(source, rows([6, 7]), { mode: 'append' });
      const replaced = await runAvailableNow(spec, dir);
      expect(replaced.code).toBe(1);
      expect(replaced.stderr).toMatch(/PIPE_CHECKPOINT_SOURCE_REPLACED checkpoint .* read Delta table .*src \(id [0-9a-f-]+\) up to version 1, but the table there now is another one/);
      expect(await out()).toEqual([1, 2, 3, 4, 5]);
      rmSync(join(dir, 'cp'), { recursive: true, force: true });
      const reset = await runAvailableNow(spec, dir, {}, ['--reset']);
      expect(reset.code, reset.stderr.slice(-2000)).toBe(0);
      expect(await out()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    } finally {
      lake.close();
    }
  }, E2E_TIMEOUT);
});
