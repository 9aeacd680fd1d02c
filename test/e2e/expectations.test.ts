/**
 * Expectations through `pipeline run` against the test broker and real DuckDB: `warn` keeps
 * and counts, `drop` discards and counts, `quarantine` dead-letters with the expectation's
 * name, `fail` stops with a coded error naming the record, commits nothing of its batch
 * (every table stays at its previous version), and a fixed restart replays the batch exactly.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeRecordFile } from '../../src/dev-broker/broker.js';
import { Lake } from '../../src/lake/index.js';
import { useTestBroker } from '../support/broker.js';
import { E2E_TIMEOUT, runAvailableNow, runCli } from '../support/cli.js';
import { tempDirs } from '../support/temp-dirs.js';
import { readVersioned } from '../support/tables.js';

const broker = useTestBroker([{ name: 'quality', partitions: 1 }, { name: 'strict', partitions: 1 }]);
const tempDir = tempDirs('expect-');

async function produce(topic: string, values: Record<string, unknown>[]): Promise<void> {
  const file = join(tempDir(), `${topic}.bin`);
  await writeRecordFile(file, values.map((v, i) => ({ key: `k${i}`, value: JSON.stringify(v), timestamp: 1_700_000_000_000 + i })));
  expect(await broker.produceFile(topic, file)).toBe(values.length);
}

function writeSpec(dir: string, topic: string, currencyAction: string, maxRecordsPerBatch: number): string {
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, `apiVersion: pipeline/v1
name: quality
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: ${topic} }
  expectations:
    - { name: has_amount, expr: "amount IS NOT NULL" }
streams: 1
trigger: { interval: 200ms, maxRecordsPerBatch: ${maxRecordsPerBatch} }
routing:
  field: kind
  routes: { order: orders, payment: payments }
tables:
  orders:
    mergeKeys: [id]
    sequenceBy: seq
    expectations:
      - { name: amount_non_negative, expr: "amount >= 0", action: quarantine }
      - { name: not_a_test, expr: "status <> 'test'", action: drop }
  payments:
    mode: append
    expectations:
      - { name: currency_known, expr: "currency IN ('EUR', 'USD')", action: ${currencyAction} }
deadLetter: { table: _dead_letter }
output: { path: ${join(dir, 'lake')} }
`);
  return file;
}

function read(dir: string) {
  return readVersioned(join(dir, 'lake'), ['orders', 'payments', '_dead_letter']);
}

describe('expectations through pipeline run', () => {
  it('warn keeps and counts, drop discards and counts, quarantine dead-letters with the name', async () => {
    await produce('quality', [
      { kind: 'order', id: 1, seq: 1, amount: 5, status: 'new' },
      { kind: 'order', id: 2, seq: 1, amount: -3, status: 'new' },
      { kind: 'order', id: 3, seq: 1, amount: 4, status: 'test' },
      { kind: 'order', id: 4, seq: 1, status: 'new' },
      { kind: 'order', id: 5, seq: 1, amount: -1, status: 'test' },
      { kind: 'payment', id: 9, amount: 2, currency: 'EUR' },
    ]);
    const dir = tempDir();
    const run = await runAvailableNow(writeSpec(dir, 'quality', 'warn', 100), dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    // 6 records: 2 written (order 1, the payment), 3 quarantined, 1 dropped.
    expect(run.summary).toMatchObject({ records: 6, deadLettered: 3, dropped: 1 });
    const t = await read(dir);
    // id 4 has no amount: `has_amount` only warns, and NULL >= 0 is not true, so it is quarantined.
    expect(t.orders!.rows.map((r) => r.id).sort()).toEqual([1]);
    expect(t.payments!.rows.map((r) => r.id)).toEqual([9]);
    // id 5 fails both: the first failing rule in the list (quarantine) decides.
    expect(t._dead_letter!.rows.map((r) => [r.offset, r.stage, r.error]).sort()).toEqual([
      [1, 'expectation', "table 'orders': expectation 'amount_non_negative' failed: amount >= 0"],
      [3, 'expectation', "table 'orders': expectation 'amount_non_negative' failed: amount >= 0"],
      [4, 'expectation', "table 'orders': expectation 'amount_non_negative' failed: amount >= 0"],
    ]);

    // The batch's quality record: one row per table in `_events`, written with the batch.
    const lake = await Lake.create({ threads: 1 });
    try {
      const events = await lake.scan(join(dir, 'lake', '_events'));
      const orders = events.find((e) => e.table_name === 'orders')!;
      expect({ ...orders, committed_at: undefined, batch_id: Number(orders.batch_id), records_in: Number(orders.records_in), records_out: Number(orders.records_out), dropped: Number(orders.dropped), dead_lettered: Number(orders.dead_lettered), duplicate_keys: Number(orders.duplicate_keys) }).toEqual({
        pipeline: 'quality', stream: 0, batch_id: 0, table_name: 'orders', committed_at: undefined, replay: false, status: 'committed',
        records_in: 5, records_out: 1, dropped: 1, dead_lettered: 3, duplicate_keys: 0,
        dead_letters: JSON.stringify({ "expectation: table 'orders': expectation 'amount_non_negative' failed: amount >= 0": 3 }),
        nulls: '{}',
        expectations: JSON.stringify({
          has_amount: { action: 'warn', evaluated: 5, failed: 1 },
          amount_non_negative: { action: 'quarantine', evaluated: 5, failed: 3 },
          not_a_test: { action: 'drop', evaluated: 5, failed: 2 },
        }),
      });
      expect(events.map((e) => e.table_name).sort()).toEqual(['orders', 'payments']);
    } finally {
      lake.close();
    }

    // `deadletter show` counts them by table, stage and reason.
    const shown = await runCli(['deadletter', 'show', join(dir, 'spec.yaml'), '--stage', 'expectation', '--format', 'json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      records: 3,
      matching: 3,
      groups: [{ table: 'orders', stage: 'expectation', reason: "expectation 'amount_non_negative' failed: amount >= 0", count: 3, first: { partition: 0, offset: 1 }, last: { partition: 0, offset: 4 } }],
    });
  }, E2E_TIMEOUT);

  it('fail stops naming the record and commits nothing of its batch; the fixed restart replays it exactly', async () => {
    await produce('strict', [
      { kind: 'order', id: 1, seq: 1, amount: 5, status: 'new' },
      { kind: 'payment', id: 1, amount: 5, currency: 'EUR' },
      { kind: 'order', id: 2, seq: 1, amount: 6, status: 'new' },
      { kind: 'payment', id: 2, amount: 6, currency: 'USD' },
      // batch 1 (records 4-7): the order would commit first if nothing checked the payments.
      { kind: 'order', id: 3, seq: 1, amount: 7, status: 'new' },
      { kind: 'payment', id: 3, amount: 7, currency: 'EUR' },
      { kind: 'payment', id: 4, amount: 8, currency: 'XXX' },
      { kind: 'order', id: 1, seq: 2, amount: 9, status: 'paid' },
    ]);
    const dir = tempDir();
    const failed = await runAvailableNow(writeSpec(dir, 'strict', 'fail', 4), dir);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/pipeline run: error PIPE_RUN_EXPECTATION_FAILED stream 0: expectation 'currency_known' \(currency IN \('EUR', 'USD'\)\) failed for table payments on the record at strict partition 0 offset 6: currency="XXX"/);
    const before = await read(dir);
    // Batch 0 committed; batch 1 left every table at its previous version.
    expect(before.orders!.version).toBe(0);
    expect(before.payments!.version).toBe(0);
    expect(before._dead_letter).toBeUndefined();
    expect(before.orders!.rows.map((r) => [r.id, r.amount]).sort()).toEqual([[1, 5], [2, 6]]);

    // A restart with the same spec stops at the same record again, and still commits nothing.
    const again = await runAvailableNow(writeSpec(dir, 'strict', 'fail', 4), dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/offset 6: currency="XXX"/);
    expect((await read(dir)).payments!.version).toBe(0);

    // Fixed (quarantine instead of fail): the batch is replayed over exactly the same records.
    const fixed = await runAvailableNow(writeSpec(dir, 'strict', 'quarantine', 4), dir);
    expect(fixed.code, fixed.stderr.slice(-2000)).toBe(0);
    const after = await read(dir);
    expect(after.orders!.rows.map((r) => [r.id, r.amount]).sort()).toEqual([[1, 9], [2, 6], [3, 7]]);
    expect(after.payments!.rows.map((r) => r.id).sort()).toEqual([1, 2, 3]);
    expect(after._dead_letter!.rows.map((r) => [r.offset, r.stage])).toEqual([[6, 'expectation']]);
    expect(after.orders!.version).toBe(1);
    expect(after.payments!.version).toBe(1);
    // The failed attempts wrote no quality rows; the replayed batch wrote its rows once.
    const lake = await Lake.create({ threads: 1 });
    try {
      const events = (await lake.scan(join(dir, 'lake', '_events'))).map((e) => `${e.batch_id}/${e.table_name}`).sort();
      expect(events).toEqual(['0/orders', '0/payments', '1/orders', '1/payments']);
    } finally {
      lake.close();
    }
  }, E2E_TIMEOUT);
});
