/**
 * Interoperability of what `pipeline run` writes: a CDC pipeline (date-partitioned upserts
 * with deletes and declared DECIMAL/TIMESTAMP/DATE columns, merged on read with deletion
 * vectors; a composite-key table; an scd2 history) plus its dead-letter table, read by
 * delta-rs, Polars and DuckDB's delta extension.
 * The records come from the mock broker: the readers, not the broker, are under test here.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { writeRecordFile } from '../../src/dev-broker/broker.js';
import { runAvailableNow } from '../support/cli.js';
import { readTable } from '../support/tables.js';
import { expectReadersAgree, python } from './readers.js';
import { useTestBroker } from '../support/broker.js';
import { tempDirs } from '../support/temp-dirs.js';

const broker = useTestBroker([{ name: 'changes', partitions: 3 }]);
const dir = tempDirs('interop-pipeline-')();

/** Change events over 40 orders, their lines and 10 customers; every 7th order is deleted; a few records are broken. */
function changes(): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  let lsn = 0;
  for (let round = 0; round < 3; round++) {
    for (let id = 1; id <= 40; id++) {
      const op = round === 2 && id % 7 === 0 ? 'd' : round === 0 ? 'c' : 'u';
      const day = `2026-0${1 + (id % 3)}-1${id % 10}`;
      out.push({ key: `o${id}`, value: JSON.stringify({ table: 'orders', op, id, lsn: ++lsn, order_date: day, changed_at: `${day}T10:${String(id % 60).padStart(2, '0')}:00.${round}25Z`, total: Number(`${id}.${round}5`), status: ['new', 'paid', 'shipped'][round] }) });
      out.push({ key: `o${id}`, value: JSON.stringify({ table: 'order_lines', op: 'u', order_id: id, line_no: round, lsn: ++lsn, sku: `s${id % 4}`, qty: round + 1 }) });
    }
    for (let id = 1; id <= 10; id++) out.push({ key: `c${id}`, value: JSON.stringify({ table: 'customers', id, lsn: ++lsn, tier: ['bronze', 'silver', 'gold'][round] }) });
  }
  out.push({ key: 'bad1', value: '{"table": "orders", "id": ' });
  out.push({ key: 'bad2', value: JSON.stringify({ table: 'orders', op: 'u', id: 'not-a-number', lsn: ++lsn }) });
  out.push({ key: 'bad3', value: JSON.stringify({ table: 'unknown_table', id: 1 }) });
  return out;
}

it('every table of a CDC pipeline and its dead-letter table read the same in every reader', async () => {
  const file = join(dir, 'changes.bin');
  await writeRecordFile(file, changes());
  await broker.produceFile('changes', file);
  const lake = join(dir, 'lake');
  const spec = join(dir, 'spec.yaml');
  writeFileSync(spec, `apiVersion: pipeline/v1
name: cdc
source:
  kafka:
    brokers: ["${broker.bootstrap}"]
    topic: changes
    startingOffsets: earliest
  format: json
streams: 2
trigger:
  interval: 200ms
  maxRecordsPerBatch: 90
routing:
  field: table
  routes:
    orders: orders
    order_lines: order_lines
    customers: customers_history
  unmatched: dead_letter
tables:
  orders:
    mergeKeys: [id]
    sequenceBy: lsn
    partitionBy: [order_date]
    deleteWhen: "op = 'd'"
    writeMode: merge-on-read
    columns:
      id: BIGINT
      lsn: BIGINT
      order_date: DATE
      changed_at: TIMESTAMP
      total: DECIMAL(18,2)
  order_lines:
    mergeKeys: [order_id, line_no]
    sequenceBy: lsn
  customers_history:
    mode: scd2
    mergeKeys: [id]
    sequenceBy: lsn
deadLetter:
  table: _dead_letter
output:
  path: ${lake}
`);
  const run = await runAvailableNow(spec, dir);
  expect(run.code, run.stderr.slice(-2000)).toBe(0);
  const tables = ['orders', 'order_lines', 'customers_history', '_dead_letter'].map((t) => join(lake, t));
  // The tables hold what the events say before any reader is asked.
  // Deleted orders stay as tombstone rows (__is_deleted); replaced versions are hidden by deletion vectors.
  const orders = await readTable(tables[0]!);
  expect(orders).toHaveLength(40);
  expect(orders.filter((r) => r.__is_deleted !== true)).toHaveLength(40 - 5);
  const deletionVectors = readdirSync(tables[0]!).filter((f) => f.startsWith('deletion_vector_'));
  expect(deletionVectors.length).toBeGreaterThan(0);
  expect(await readTable(tables[1]!)).toHaveLength(120);
  expect(await readTable(tables[2]!)).toHaveLength(30);
  expect((await readTable(tables[3]!)).length).toBeGreaterThanOrEqual(2);
  // The orders table merges on read: delta-rs (deltalake 1.6) refuses reader feature deletionVectors outright.
  await expectReadersAgree(tables, { 'delta-rs': /deletionVectors.*not yet supported/ });

  // The query `pipeline demo` suggests, as printed (with the extension loaded from its wheel).
  const byStatus = (await python(['sql', `SELECT status, count(*) FROM delta_scan('${tables[0]}') GROUP BY status ORDER BY 2 DESC;`])) as { rows: Record<string, unknown>[] };
  const counts = new Map<string, number>();
  for (const r of await readTable(tables[0]!)) counts.set(String(r.status), (counts.get(String(r.status)) ?? 0) + 1);
  expect(byStatus.rows.map((r) => [r.status, r['count_star()']])).toEqual([...counts].sort((a, b) => b[1] - a[1]));
});
