/**
 * What `pipeline run` refuses instead of doing silently: a spec whose table layout (keys,
 * partitions, declared column types) differs from the one the table was written with (until
 * `--allow-layout-change` rewrites it), and a
 * new checkpoint facing tables that already hold its batches (until `--reset`).
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeRecordFile } from '../../src/dev-broker/broker.js';
import { Lake } from '../../src/lake/index.js';
import { E2E_TIMEOUT, runAvailableNow } from '../support/cli.js';
import { readTable } from '../support/tables.js';
import { useTestBroker } from '../support/broker.js';
import { tempDirs } from '../support/temp-dirs.js';

const broker = useTestBroker([{ name: 'guards', partitions: 2 }, { name: 'guard-windows', partitions: 1 }, { name: 'guard-reset', partitions: 1 }]);
const dir = tempDirs('guards-')();

function writeSpec(table: string): string {
  const file = join(dir, 'spec.yaml');
  writeFileSync(
    file,
    `apiVersion: pipeline/v1
name: guards
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: guards }
trigger: { interval: 100ms }
routing: { field: t, routes: { item: items } }
tables:
  items: ${table}
output: { path: ${join(dir, 'lake')} }
`,
  );
  return file;
}

async function produce(from: number, to: number): Promise<void> {
  const file = join(dir, `records-${from}.bin`);
  const records = [];
  for (let n = from; n < to; n++) records.push({ key: `k${n}`, value: JSON.stringify({ t: 'item', id: n % 10, region: n % 2 === 0 ? 'eu' : 'us', seq: n }), timestamp: 1_700_000_000_000 + n });
  await writeRecordFile(file, records);
  expect(await broker.produceFile('guards', file)).toBe(to - from);
}

const items = () => join(dir, 'lake', 'items');

describe('table guards of pipeline run', () => {
  it('refuses a changed layout with what changed, then rewrites the table in one commit when allowed', async () => {
    await produce(0, 40);
    const first = await runAvailableNow(writeSpec('{ mergeKeys: [id], sequenceBy: seq }'), dir);
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    expect(await readTable(items())).toHaveLength(10);

    const changed = writeSpec('{ mergeKeys: [id, region], sequenceBy: seq, partitionBy: [region] }');
    const refused = await runAvailableNow(changed, dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`PIPE_LAKE_LAYOUT_CHANGED table 'items' (${items()}) was written with another layout: mergeKeys [id] → [id, region]; partitionBy [] → [region]`);
    expect(refused.stderr).toContain('--allow-layout-change');

    await produce(40, 60);
    const allowed = await runAvailableNow(changed, dir, {}, ['--allow-layout-change']);
    expect(allowed.code, allowed.stderr.slice(-2000)).toBe(0);
    const lake = await Lake.create({ threads: 1 });
    try {
      const snap = await lake.snapshot(items());
      expect(snap.partitionColumns).toEqual(['region']);
      expect(snap.configuration['pipeline.mergeKeys']).toBe('["id","region"]');
      expect((await lake.history(items())).filter((h) => h.operation === 'REPLACE TABLE')).toHaveLength(1);
    } finally {
      lake.close();
    }
    // ids are even/odd per region, so (id, region) keys are still the 10 ids; the newest seq wins.
    const rows = (await readTable(items())).sort((a, b) => Number(a.id) - Number(b.id));
    expect(rows.map((r) => [r.id, r.seq])).toEqual(Array.from({ length: 10 }, (_, i) => [i, 50 + i]));
    // The same spec again changes nothing.
    expect((await runAvailableNow(changed, dir)).code).toBe(0);
  }, E2E_TIMEOUT);

  it('a new checkpoint facing tables that hold its batches refuses to start; --reset never skips records', async () => {
    const spec = writeSpec('{ mergeKeys: [id, region], sequenceBy: seq, partitionBy: [region] }');
    rmSync(join(dir, 'lake', '_checkpoints'), { recursive: true, force: true });
    await produce(60, 70);
    const refused = await runAvailableNow(spec, dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/PIPE_CHECKPOINT_TABLES_AHEAD the checkpoint of stream 0 \(.*\) is new, but table '.*' already holds batch \d+ of guards\/0/);
    expect(refused.stderr).toContain('--reset');
    // Refusing twice is the same answer (the refusal left no state behind that would skip the check).
    expect((await runAvailableNow(spec, dir)).code).toBe(1);

    const reset = await runAvailableNow(spec, dir, {}, ['--reset']);
    expect(reset.code, reset.stderr.slice(-2000)).toBe(0);
    expect(reset.summary!.records).toBe(70);
    const rows = (await readTable(items())).sort((a, b) => Number(a.id) - Number(b.id));
    expect(rows.map((r) => [r.id, r.seq])).toEqual(Array.from({ length: 10 }, (_, i) => [i, 60 + i]));
  }, E2E_TIMEOUT);

  it('a declared column type other than the stored one is refused, then converted exactly when allowed', async () => {
    // `pipeline diff` calls this a table change; run agrees instead of keeping the stored type.
    const spec = writeSpec('{ mergeKeys: [id, region], sequenceBy: seq, partitionBy: [region], columns: { seq: "DECIMAL(12,2)" } }');
    const refused = await runAvailableNow(spec, dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`PIPE_LAKE_LAYOUT_CHANGED table 'items' (${items()}) was written with another layout: columns.seq BIGINT → DECIMAL(12,2)`);
    await produce(70, 75);
    const allowed = await runAvailableNow(spec, dir, {}, ['--allow-layout-change']);
    expect(allowed.code, allowed.stderr.slice(-2000)).toBe(0);
    const rows = (await readTable(items())).sort((a, b) => Number(a.id) - Number(b.id));
    expect(rows.map((r) => [r.id, String(r.seq)])).toEqual(Array.from({ length: 10 }, (_, i) => [i, i < 5 ? `${70 + i}.00` : `${60 + i}.00`]));
    expect((await runAvailableNow(spec, dir)).code).toBe(0);
  }, E2E_TIMEOUT);
});

describe('window guards of pipeline run', () => {
  /** A pipeline `name` reading topic `name` into `dir`: clicks and one aggregation `w` over them. */
  const windowSpec = (dir: string, name: string, measures: string, size = '1m', outputMode = 'append', partitionBy?: string) => {
    const file = join(dir, 'spec.yaml');
    writeFileSync(file, `apiVersion: pipeline/v1
name: ${name}
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: ${name} }
trigger: { interval: 100ms }
watermark: { column: ts, delay: 10s }
routing: { field: t, routes: { click: clicks } }
tables:
  clicks: { mode: append }
aggregations:
  w:
    from: [clicks]
    window: { type: tumbling, size: ${size} }
    groupBy: [g]
    measures: { ${measures} }
    outputMode: ${outputMode}
${partitionBy ? `    partitionBy: ${partitionBy}\n` : ''}output: { path: ${join(dir, 'lake')} }
`);
    return file;
  };
  const wdir = tempDirs('guard-windows-')();
  const spec = (measures: string, size = '1m', outputMode = 'append', partitionBy?: string) => windowSpec(wdir, 'guard-windows', measures, size, outputMode, partitionBy);
  const produce = async (name: string, clicks: [string, number][]) => {
    const file = join(wdir, `${name}.bin`);
    await writeRecordFile(file, clicks.map(([ts, v]) => ({ key: null, value: JSON.stringify({ t: 'click', g: 'a', ts: `2026-03-01T${ts}Z`, v }) })));
    expect(await broker.produceFile('guard-windows', file)).toBe(clicks.length);
  };

  it('refuses a changed aggregation while its open windows or its table were counted the old way', async () => {
    const sum = 'n: "count(*)", total: "sum(v)"';
    await produce('a', [['10:00:10', 1], ['10:00:50', 2]]);
    expect((await runAvailableNow(spec(sum), wdir)).code).toBe(0);
    // The 10:00 window is open in the stream's checkpoint: an avg cannot continue a sum.
    const avg = await runAvailableNow(spec('n: "count(*)", total: "avg(v)"'), wdir);
    expect(avg.code).toBe(1);
    expect(avg.stderr).toContain(`PIPE_LAKE_WINDOW_CHANGED aggregation 'w' was counted under another definition (the open windows of stream 0): measures n: count(*), total: sum(v) → n: count(*), total: avg(v)`);
    // Update output would never write the open append window (its records would be lost).
    const update = await runAvailableNow(spec(sum, '1m', 'update'), wdir);
    expect(update.code).toBe(1);
    expect(update.stderr).toContain(`PIPE_LAKE_WINDOW_CHANGED aggregation 'w' was counted under another definition (the open windows of stream 0): output mode append → update`);
    // The same definition (measures in another order) goes on; the window closes and is written once.
    await produce('b', [['10:02:00', 4]]);
    const same = await runAvailableNow(spec('total: "sum(v)", n: "count(*)"'), wdir);
    expect(same.code, same.stderr.slice(-2000)).toBe(0);
    expect((await readTable(join(wdir, 'lake', 'w'))).map((r) => [r.n, String(r.total)])).toEqual([[2, '3']]);
    // Now the table records the definition too.
    const wider = await runAvailableNow(spec(sum, '5m'), wdir);
    expect(wider.code).toBe(1);
    expect(wider.stderr).toContain(`aggregation 'w' was counted under another definition (its table ${join(wdir, 'lake', 'w')}): window size 60s → 300s`);
    // An append window table does not take update rows: refused before any stream reads, not at its first write.
    const table = await runAvailableNow(spec(sum, '1m', 'update'), wdir);
    expect(table.code).toBe(1);
    expect(table.stderr).toContain(`aggregation 'w' was counted under another definition (its table ${join(wdir, 'lake', 'w')}): output mode append → update`);
    expect((await readTable(join(wdir, 'lake', 'w'))).map((r) => [r.n, String(r.total)])).toEqual([[2, '3']]);
    // New partition columns: a window table is not rewritten; refused before any stream reads.
    const parts = await runAvailableNow(spec(sum, '1m', 'append', '[window_date]'), wdir, {}, ['--allow-layout-change']);
    expect(parts.code).toBe(1);
    expect(parts.stderr).toContain(`aggregation 'w' was counted under another definition (its table ${join(wdir, 'lake', 'w')}): partitionBy [] → [window_date]`);
  }, E2E_TIMEOUT);

  it('--reset refuses to count the records again into update windows that hold them; with the window table moved aside it counts them once', async () => {
    const rdir = tempDirs('guard-reset-')();
    const file = windowSpec(rdir, 'guard-reset', 'n: "count(*)"', '1m', 'update');
    const records = join(rdir, 'clicks.bin');
    await writeRecordFile(records, ['10:00:01', '10:00:02', '10:05:00'].map((ts) => ({ key: null, value: JSON.stringify({ t: 'click', g: 'a', ts: `2026-03-01T${ts}Z` }) })));
    expect(await broker.produceFile('guard-reset', records)).toBe(3);
    const counts = async () => (await readTable(join(rdir, 'lake', 'w'))).map((r) => Number(r.n)).sort();
    expect((await runAvailableNow(file, rdir)).code).toBe(0);
    expect(await counts()).toEqual([1, 2]);
    rmSync(join(rdir, 'lake', '_checkpoints'), { recursive: true, force: true });
    const refused = await runAvailableNow(file, rdir, {}, ['--reset']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`PIPE_CHECKPOINT_RESET_WINDOWS --reset would count the records of guard-reset/0 again into aggregation 'w' (${join(rdir, 'lake', 'w')}), whose update rows already hold them`);
    expect(await counts()).toEqual([1, 2]);
    renameSync(join(rdir, 'lake', 'w'), join(rdir, 'w-before-reset'));
    const reset = await runAvailableNow(file, rdir, {}, ['--reset']);
    expect(reset.code, reset.stderr.slice(-2000)).toBe(0);
    expect(await counts()).toEqual([1, 2]);
  }, E2E_TIMEOUT);
});
