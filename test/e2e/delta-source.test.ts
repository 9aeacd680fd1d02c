/**
 * A Delta table as the source of a second pipeline, end to end: commerce-events lands its gold
 * tables from the test broker, then pipelines/gold-rollup.yaml reads the `analytics` table by
 * version and maintains sessions and hourly page activity. Its tables must equal a reference
 * computed here from the analytics table (not from the runner's code), after a first run, after
 * more events and a second run, after a SIGKILL mid-run and a restart, and after a run that
 * finds nothing new.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../src/dev-broker/events.js';
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
