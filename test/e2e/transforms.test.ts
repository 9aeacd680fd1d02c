/**
 * `derive` and `where` through `pipeline run` against the test broker and real DuckDB:
 * computed columns (at the source and per table) used as partition column, merge key and
 * sequence; a `where` whose non-matching records are counted drops. The same records with
 * one record per batch and with one batch for everything must leave identical tables.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeRecordFile } from '../../src/dev-broker/broker.js';
import { Lake } from '../../src/lake/index.js';
import { useTestBroker } from '../support/broker.js';
import { E2E_TIMEOUT, runAvailableNow, runCli } from '../support/cli.js';
import { tempDirs } from '../support/temp-dirs.js';

const broker = useTestBroker([{ name: 'derive', partitions: 2 }]);
const tempDir = tempDirs('derive-');

/** Orders over three days (one a test order), and clicks; one order whose key cannot be computed. */
function records(): { key: string; value: string; partition: number }[] {
  const out: { key: string; value: string; partition: number }[] = [];
  const add = (partition: number, v: Record<string, unknown>) => out.push({ key: `k${out.length}`, value: JSON.stringify(v), partition });
  add(0, { kind: 'order', id: 'a-1', ts: '2026-03-01T10:00:00Z', rev: 1, amount: 10.25, status: 'new' });
  add(1, { kind: 'order', id: 'A-1', ts: '2026-03-01T11:00:00Z', rev: 2, amount: 12.5, status: 'paid', day: 'ignored' });
  add(0, { kind: 'order', id: 'b-2', ts: '2026-03-02T09:30:00Z', rev: 1, amount: 3, status: 'test' });
  add(1, { kind: 'order', id: 'c-3', ts: '2026-03-03T23:59:59Z', rev: 5, amount: 7.125, status: 'new' });
  add(0, { kind: 'order', ts: '2026-03-03T01:00:00Z', rev: 1, amount: 1, status: 'new' });
  add(1, { kind: 'click', page: '/home', ts: '2026-03-01T10:00:00Z' });
  add(0, { kind: 'click', page: '/cart', ts: 'not a time' });
  add(1, { kind: 'click', page: '/internal/health', ts: '2026-03-02T00:00:00Z' });
  return out;
}

function writeSpec(dir: string, maxRecordsPerBatch: number, orderDerive = 'upper(id)'): string {
  const spec = `apiVersion: pipeline/v1
name: derive
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: derive }
  derive:
    day: "CAST(TRY_CAST(ts AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE)"
  where: "coalesce(page, '') NOT LIKE '/internal/%'"
streams: 1
trigger: { interval: 200ms, maxRecordsPerBatch: ${maxRecordsPerBatch} }
routing:
  field: kind
  routes: { order: orders, click: clicks }
tables:
  orders:
    mergeKeys: [order_key]
    sequenceBy: version
    partitionBy: [day]
    derive:
      order_key: "${orderDerive}"
      version: "rev * 10"
      cents: "CAST(round(amount * 100) AS BIGINT)"
    where: "status <> 'test'"
  clicks: { mode: append, partitionBy: [day] }
deadLetter: { table: _dead_letter }
output: { path: ${join(dir, 'lake')} }
`;
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, spec);
  return file;
}

async function readAll(dir: string) {
  const lake = await Lake.create({ threads: 1 });
  const out: Record<string, { types: string[]; rows: Record<string, unknown>[] }> = {};
  try {
    for (const t of ['orders', 'clicks', '_dead_letter']) {
      const path = join(dir, 'lake', t);
      if (!(await lake.exists(path))) continue;
      const types = (await lake.columns(path)).map((c) => `${c.name}:${c.type}`).sort();
      const all = await lake.scan(path);
      const rows = (t === '_dead_letter' ? all.map(({ stage, error }) => ({ stage, error })) : all.map(({ __source_offset: _o, __source_partition: _p, ...r }) => r))
        .map((r) => JSON.parse(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))) as Record<string, unknown>)
        .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
      out[t] = { types, rows };
    }
  } finally {
    lake.close();
  }
  return out;
}

describe('derive and where through pipeline run', () => {
  it('computes partition, key and sequence columns; drops what where rejects; batch cuts do not matter', async () => {
    const recs = records();
    const file = join(tempDir(), 'records.bin');
    await writeRecordFile(file, recs.map((r, i) => ({ ...r, timestamp: 1_700_000_000_000 + i })));
    expect(await broker.produceFile('derive', file)).toBe(recs.length);

    const cut = tempDir();
    const run1 = await runAvailableNow(writeSpec(cut, 1), cut);
    expect(run1.code, run1.stderr.slice(-2000)).toBe(0);
    const whole = tempDir();
    const run2 = await runAvailableNow(writeSpec(whole, 100_000), whole);
    expect(run2.code, run2.stderr.slice(-2000)).toBe(0);

    // Every record accounted for: written + dead-lettered + dropped.
    for (const run of [run1, run2]) expect(run.summary).toMatchObject({ records: 8, deadLettered: 1, dropped: 2 });
    const a = await readAll(cut);
    expect(a).toEqual(await readAll(whole));

    expect(a.orders!.types).toEqual(['__source_offset:BIGINT', '__source_partition:INTEGER', 'amount:DOUBLE', 'cents:BIGINT', 'day:DATE', 'id:VARCHAR', 'kind:VARCHAR', 'order_key:VARCHAR', 'rev:BIGINT', 'status:VARCHAR', 'ts:VARCHAR', 'version:BIGINT']);
    // a-1 and A-1 share the derived key A-1; the greater derived version (20) wins. The test order is dropped.
    expect(a.orders!.rows.map((r) => [r.order_key, r.version, r.cents, r.day])).toEqual([
      ['A-1', 20, 1250, '2026-03-01'],
      ['C-3', 50, 713, '2026-03-03'],
    ]);
    // The record's own `day` field gave way to the computed column.
    expect(a.orders!.rows[0]).not.toHaveProperty('day', 'ignored');
    expect(a.clicks!.rows.map((r) => [r.page, r.day])).toEqual([['/cart', null], ['/home', '2026-03-01']]);
    // Derived partition values are real Hive directories.
    expect(readdirSync(join(cut, 'lake', 'orders')).filter((d) => d.startsWith('day=')).sort()).toEqual(['day=2026-03-01', 'day=2026-03-03']);
    expect(a._dead_letter!.rows).toEqual([{ stage: 'sink', error: "table 'orders': derived column order_key (merge key or sequence) is NULL" }]);
  }, E2E_TIMEOUT);

  it('validate points at a derive expression that cannot bind, with line and column', async () => {
    const dir = tempDir();
    const spec = writeSpec(dir, 10, 'no_such_function(id)');
    const r = await runCli(['validate', spec]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/spec\.yaml:19:\d+: error PIPE0067 `tables\.orders\.derive\.order_key` is not a valid SQL expression: .*no_such_function/);
  }, E2E_TIMEOUT);
});
