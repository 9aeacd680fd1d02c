/**
 * Reading the Spark-written reference tables in ../shared/delta-golden: every table yields
 * the rows, versions, files and txns its README lists.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { sortBy } from '../support/tables.js';

const GOLDEN = path.resolve('../shared/delta-golden');
const table = (name: string) => path.join(GOLDEN, name);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

let lake: Lake;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
});
afterAll(() => lake.close());

describe('golden tables', () => {
  test('snapshot-data1: two blind appends without stats', async () => {
    const snap = await lake.snapshot(table('snapshot-data1'));
    expect(snap.version).toBe(1);
    expect(snap.files).toHaveLength(4);
    const rows = await lake.scan(table('snapshot-data1'), { orderBy: 'col2' });
    const expected = [0, 1].flatMap((v) => range(0, 9).map((i) => ({ col1: i, col2: `data-${v}-${i}` })));
    expect(rows).toEqual(sortBy(expected, 'col2'));
    const firstThree = await lake.scan(table('snapshot-data1'), { orderBy: 'col2 DESC', limit: 3, columns: ['col2'] });
    expect(firstThree).toEqual(sortBy(expected, 'col2').reverse().slice(0, 3).map((r) => ({ col2: r.col2 })));
  });

  test('basic-with-inserts-deletes-checkpoint: checkpoint at 10 plus commits 11-13', async () => {
    const snap = await lake.snapshot(table('basic-with-inserts-deletes-checkpoint'));
    expect(snap.version).toBe(13);
    expect(snap.files).toHaveLength(7);
    const ids = (await lake.scan(table('basic-with-inserts-deletes-checkpoint'), { orderBy: 'id' })).map((r) => r.id);
    expect(ids).toEqual([...range(0, 4), ...range(10, 14), ...range(20, 24), ...range(30, 34), ...range(40, 44), ...range(50, 65)]);
  });

  test('basic-with-inserts-overwrite-restore: restore brings back ids 0-199', async () => {
    const snap = await lake.snapshot(table('basic-with-inserts-overwrite-restore'));
    expect(snap.version).toBe(3);
    const ids = (await lake.scan(table('basic-with-inserts-overwrite-restore'), { orderBy: 'id' })).map((r) => r.id);
    expect(ids).toEqual(range(0, 199));
  });

  test('basic-with-inserts-merge: remove + add in one commit', async () => {
    const rows = await lake.scan(table('basic-with-inserts-merge'), { orderBy: 'id' });
    const expected = [
      ...range(10, 49).map((id) => ({ id, str: `val=${id}` })),
      ...range(50, 99).map((id) => ({ id, str: 'N/A' })),
      ...range(100, 149).map((id) => ({ id, str: 'EXT' })),
    ];
    expect(rows).toEqual(expected);
  });

  test('checkpoint: log-only table reconciles tombstones to one live file', async () => {
    const snap = await lake.snapshot(table('checkpoint'));
    expect(snap.version).toBe(14);
    expect(snap.files.map((f) => f.path)).toEqual(['15']);
  });

  test('deltalog-getChanges: txn action and removed file', async () => {
    const snap = await lake.snapshot(table('deltalog-getChanges'));
    expect(snap.version).toBe(2);
    expect(snap.files).toHaveLength(0);
    expect(await lake.txnVersion(table('deltalog-getChanges'), 'fakeAppId')).toBe(3);
    expect(await lake.txnVersion(table('deltalog-getChanges'), 'no-such-app')).toBeUndefined();
  });

  test('delta-0.2.0: streaming txn in the checkpoint, old checkpoint schema', async () => {
    const t = table('delta-0.2.0');
    const snap = await lake.snapshot(t);
    expect(snap.version).toBe(3);
    expect(snap.files).toHaveLength(3);
    expect(snap.txns).toEqual({ 'e4a20b59-dd0e-4c50-b074-e8ae4786df30': 0 });
    const values = (await lake.scan(t, { orderBy: 'value' })).map((r) => r.value);
    expect(values).toEqual([1, 1, 2, 2, 3, 3]);
    const history = await lake.history(t);
    expect(history[0]!.operation).toBe('STREAMING UPDATE');
  });

  test('data-reader-partition-values: every partition type, and all-null partitions', async () => {
    const rows = await lake.scan(table('data-reader-partition-values'), { orderBy: 'value' });
    const forI = (i: number) => ({
      as_int: i, as_long: i, as_byte: i, as_short: i, as_boolean: i % 2 === 0, as_float: i, as_double: i,
      as_string: String(i), as_string_lit_null: 'null', as_date: '2021-09-08', as_timestamp: '2021-09-08T11:11:11.000Z',
      as_big_decimal: String(i), as_list_of_records: [{ val: i }, { val: i }, { val: i }],
      as_nested_struct: { aa: String(i), ab: String(i), ac: { aca: i, acb: i } }, value: String(i),
    });
    const nulls = Object.fromEntries(Object.keys(forI(0)).map((k) => [k, null]));
    expect(rows).toEqual([
      forI(0),
      forI(1),
      { ...nulls, as_list_of_records: [{ val: 2 }, { val: 2 }, { val: 2 }], as_nested_struct: { aa: '2', ab: '2', ac: { aca: 2, acb: 2 } }, value: '2' },
    ]);
  });

  test('kernel-timestamp-partition-col-ISO8601: ISO partition values, filter on ts', async () => {
    const t = table('kernel-timestamp-partition-col-ISO8601');
    expect(await lake.scan(t, { orderBy: 'ts' })).toEqual([
      { str: '2024-01-01 10:00:00', ts: '2024-01-01T10:00:00.000Z' },
      { str: '2024-01-02 12:30:00', ts: '2024-01-02T12:30:00.000Z' },
    ]);
    const filtered = await lake.scan(t, { where: `epoch_us(ts) = 1704103200000000` });
    expect(filtered).toEqual([{ str: '2024-01-01 10:00:00', ts: '2024-01-01T10:00:00.000Z' }]);
  });

  test('kernel-timestamp-TIMESTAMP_MICROS: timestamp partition with a null and pre-1970 value', async () => {
    expect(await lake.scan(table('kernel-timestamp-TIMESTAMP_MICROS'), { orderBy: 'id' })).toEqual([
      { id: 0, part: '2020-01-01T08:09:10.001Z', time: '2020-02-01T08:09:10.000Z' },
      { id: 1, part: '2021-10-01T08:09:20.000Z', time: '1999-01-01T09:00:00.000Z' },
      { id: 2, part: '2021-10-01T08:09:20.000Z', time: '2000-01-01T09:00:00.000Z' },
      { id: 3, part: '1969-01-01T00:00:00.000Z', time: '1969-01-01T00:00:00.000Z' },
      { id: 4, part: null, time: null },
    ]);
  });

  test('basic-decimal-table: decimals keep their scale, decimal partition', async () => {
    expect(await lake.scan(table('basic-decimal-table'), { orderBy: 'part' })).toEqual([
      { part: '-2342342.23423', col1: '-999.99', col2: '-99999.99999', col3: '-9999999999.9999999999' },
      { part: '0.00004', col1: '0.00', col2: '0.00000', col3: '0.0000000000' },
      { part: '234.00000', col1: '1.00', col2: '2.00000', col3: '3.0000000000' },
      { part: '2342222.23454', col1: '111.11', col2: '22222.22222', col3: '3333333333.3333333333' },
    ]);
  });

  test('data-reader-primitives: every primitive type and an all-null row', async () => {
    const rows = await lake.scan(table('data-reader-primitives'), { orderBy: 'as_int NULLS FIRST' });
    expect(rows).toHaveLength(11);
    expect(Object.values(rows[0]!).every((v) => v === null)).toBe(true);
    for (const i of range(0, 9)) {
      expect(rows[i + 1]).toEqual({
        as_int: i, as_long: i, as_byte: i, as_short: i, as_boolean: i % 2 === 0, as_float: i, as_double: i,
        as_string: String(i), as_binary: Buffer.from([i, i]), as_big_decimal: String(i),
      });
    }
  });

  test('data-skipping-basic-stats-all-types: INT96 timestamp, orphan file ignored', async () => {
    const t = table('data-skipping-basic-stats-all-types');
    const snap = await lake.snapshot(t);
    expect(snap.files).toHaveLength(1);
    expect(Object.keys(snap.files[0]!.stats!.minValues!)).toHaveLength(10);
    expect(await lake.scan(t)).toEqual([
      {
        as_int: 0, as_long: 0, as_byte: 0, as_short: 0, as_float: 0, as_double: 0, as_string: '0',
        as_date: '2000-01-01', as_timestamp: '2000-01-01T08:00:00.000Z', as_big_decimal: '0',
      },
    ]);
  });

  test('data-reader-nested-struct: struct inside struct', async () => {
    const rows = await lake.scan(table('data-reader-nested-struct'), { orderBy: 'b' });
    expect(rows).toEqual(range(0, 9).map((i) => ({ a: { aa: String(i), ab: String(i), ac: { aca: i, acb: i } }, b: i })));
  });

  test('data-reader-escaped-chars: paths decoded once, + kept literal', async () => {
    expect(await lake.scan(table('data-reader-escaped-chars'), { orderBy: '_1' })).toEqual([
      { _1: 'foo1', _2: 'bar+%21' },
      { _1: 'foo2', _2: 'bar+%22' },
      { _1: 'foo3', _2: 'bar+%23' },
    ]);
  });

  test('time travel: an older version of a checkpointed table', async () => {
    const t = table('basic-with-inserts-overwrite-restore');
    const v2 = (await lake.scan(t, { version: 2, orderBy: 'id' })).map((r) => r.id);
    expect(v2).toEqual(range(500, 999));
    expect((await lake.snapshot(t, 1)).version).toBe(1);
  });
});
