/**
 * Writing tables: append, upsert, scd2, exactly-once txn marks, schema evolution, partitions,
 * file splitting and pruning; every table is read back by the lake and by plain DuckDB
 * `read_parquet` over its live files, and its log entries are checked field by field.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SchemaMismatchError } from '../../src/errors.js';
import { Conn } from '../../src/lake/duck.js';
import { Kind } from '../../src/lake/type-lattice.js';
import { TOMBSTONE } from '../../src/lake/merge.js';
import { Lake, toPlain, type WriteOptions } from '../../src/lake/index.js';
import { readLogEntry } from '../support/files.js';
import { sortBy } from '../support/tables.js';
import { tempDir } from '../support/temp-dirs.js';

let lake: Lake;
let plain: DuckDBInstance;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
  plain = await DuckDBInstance.create(':memory:');
});
afterAll(() => {
  lake.close();
  plain.closeSync();
});

/** Rows of the live files read by plain DuckDB (no partition columns: those live in the log). */
async function readLiveFiles(tablePath: string): Promise<Record<string, unknown>[]> {
  const snap = await lake.snapshot(tablePath);
  if (snap.files.length === 0) return [];
  const files = snap.files.map((f) => `'${path.join(tablePath, decodeURIComponent(f.path))}'`).join(', ');
  const c = await plain.connect();
  try {
    const reader = await c.runAndReadAll(`SELECT * FROM read_parquet([${files}], union_by_name=true, hive_partitioning=false)`);
    return reader.getRowObjects().map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, toPlain(v)])));
  } finally {
    c.closeSync();
  }
}

const ADD_FIELDS = ['dataChange', 'modificationTime', 'partitionValues', 'path', 'size', 'stats'];
const REMOVE_FIELDS = ['dataChange', 'deletionTimestamp', 'extendedFileMetadata', 'partitionValues', 'path', 'size'];
const METADATA_FIELDS = ['configuration', 'createdTime', 'format', 'id', 'partitionColumns', 'schemaString'];
const COMMIT_INFO_FIELDS = ['engineInfo', 'isBlindAppend', 'operation', 'operationMetrics', 'operationParameters', 'readVersion', 'timestamp'];

/** Checks every action of every commit against the protocol's field lists. */
function checkLog(tablePath: string, version: number): void {
  for (let v = 0; v <= version; v++) {
    const actions = readLogEntry(tablePath, v);
    expect(actions.filter((a) => a.commitInfo)).toHaveLength(1);
    for (const a of actions) {
      const [kind, body] = Object.entries(a)[0]!;
      expect(Object.keys(a)).toHaveLength(1);
      if (kind === 'protocol') expect(body).toEqual({ minReaderVersion: 1, minWriterVersion: 2 });
      if (kind === 'metaData') {
        expect(Object.keys(body).filter((k) => !['name', 'description'].includes(k)).sort()).toEqual(METADATA_FIELDS);
        expect(body.format).toEqual({ provider: 'parquet', options: {} });
        expect(JSON.parse(body.schemaString).type).toBe('struct');
      }
      if (kind === 'add') {
        expect(Object.keys(body).sort()).toEqual(ADD_FIELDS);
        const stats = JSON.parse(body.stats);
        expect(stats.numRecords).toBeGreaterThan(0);
        expect(fs.existsSync(path.join(tablePath, decodeURIComponent(body.path)))).toBe(true);
      }
      if (kind === 'remove') expect(Object.keys(body).sort()).toEqual(REMOVE_FIELDS);
      if (kind === 'txn') expect(Object.keys(body).sort()).toEqual(['appId', 'lastUpdated', 'version']);
      if (kind === 'commitInfo') expect(Object.keys(body).sort()).toEqual(COMMIT_INFO_FIELDS);
    }
    if (v === 0) expect(actions.some((a) => a.protocol) && actions.some((a) => a.metaData)).toBe(true);
  }
}

const upsert: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' };

describe('append and upsert', () => {
  test('upsert keeps the greatest sequence; late and equal records never regress a row', async () => {
    const t = tempDir();
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, v: 'a', seq: 5 }, { id: 2, v: 'b', seq: 5 }] }, upsert);
    const r = await lake.write(
      t,
      {
        kind: 'rows',
        rows: [
          { id: 1, v: 'late', seq: 4 }, { id: 2, v: 'equal', seq: 5 }, { id: 3, v: 'c1', seq: 1 }, { id: 3, v: 'c3', seq: 3 }, { id: 3, v: 'c2', seq: 2 },
        ],
      },
      upsert,
    );
    expect(r).toMatchObject({ status: 'committed', version: 1, rowsIn: 5, rowsInserted: 1, rowsUpdated: 0 });
    const rows = await lake.scan(t, { orderBy: 'id' });
    expect(rows).toEqual([{ id: 1, v: 'a', seq: 5 }, { id: 2, v: 'b', seq: 5 }, { id: 3, v: 'c3', seq: 3 }]);
    expect(sortBy(await readLiveFiles(t), 'id')).toEqual(rows);
    checkLog(t, 1);
  });

  test('deleteWhen deletes a key only when the delete is newer; the delete stays as a tombstone that a stale record cannot beat', async () => {
    const t = tempDir();
    const opts = { ...upsert, deleteWhen: `op = 'd'` };
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, op: 'u', seq: 2 }, { id: 2, op: 'u', seq: 2 }] }, opts);
    const r = await lake.write(t, { kind: 'rows', rows: [{ id: 1, op: 'd', seq: 3 }, { id: 2, op: 'd', seq: 1 }] }, opts);
    expect(r).toMatchObject({ rowsDeleted: 1, filesRemoved: 1 });
    const live = [{ id: 1, op: 'd', seq: 3, __is_deleted: true }, { id: 2, op: 'u', seq: 2, __is_deleted: false }];
    expect(await lake.scan(t, { orderBy: 'id' })).toEqual(live);
    // A stale update after the delete (another batch) loses, as it would within the delete's batch.
    const stale = await lake.write(t, { kind: 'rows', rows: [{ id: 1, op: 'u', seq: 2 }] }, opts);
    expect(stale).toMatchObject({ rowsInserted: 0, rowsUpdated: 0, filesAdded: 0 });
    expect(await lake.scan(t, { orderBy: 'id' })).toEqual(live);
    // A newer record brings the key back (an insert, not an update).
    const back = await lake.write(t, { kind: 'rows', rows: [{ id: 1, op: 'u', seq: 4 }] }, opts);
    expect(back).toMatchObject({ rowsInserted: 1, rowsUpdated: 0 });
    expect(await lake.scan(t, { orderBy: 'id' })).toEqual([{ id: 1, op: 'u', seq: 4, __is_deleted: false }, live[1]]);
    // A record may not bring the tombstone column itself: it fails alone, its neighbours are stored.
    const own = await lake.write(t, { kind: 'rows', rows: [{ id: 3, op: 'u', seq: 1, __is_deleted: true }, { id: 4, op: 'u', seq: 1 }] }, opts);
    expect(own.rejected).toEqual([{ row: 0, reason: "field '__is_deleted' is reserved: the table sets it itself (deletes kept as tombstones)" }]);
    expect((await lake.scan(t, { orderBy: 'id' })).map((r) => [r.id, r.__is_deleted])).toEqual([[1, false], [2, false], [4, false]]);
    checkLog(t, 3);
  });

  test('a spec that drops deleteWhen stops deleting; the keys it deleted stay deleted against stale records', async () => {
    const t = tempDir();
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, op: 'u', seq: 1 }, { id: 1, op: 'd', seq: 2 }, { id: 2, op: 'u', seq: 1 }] }, { ...upsert, deleteWhen: `op = 'd'` });
    // Before, every such batch failed on a DuckDB binder error (the tombstone column), run after run.
    const stale = await lake.write(t, { kind: 'rows', rows: [{ id: 1, op: 'u', seq: 1 }, { id: 2, op: 'd', seq: 2 }, { id: 3, op: 'u', seq: 1 }] }, upsert);
    expect(stale).toMatchObject({ status: 'committed', rowsInserted: 1, rowsUpdated: 1 });
    expect(await lake.scan(t, { orderBy: 'id', columns: ['id', 'op', 'seq', '__is_deleted'] })).toEqual([
      { id: 1, op: 'd', seq: 2, __is_deleted: true }, { id: 2, op: 'd', seq: 2, __is_deleted: false }, { id: 3, op: 'u', seq: 1, __is_deleted: false },
    ]);
    const back = await lake.write(t, { kind: 'rows', rows: [{ id: 1, op: 'u', seq: 3 }] }, upsert);
    expect(back).toMatchObject({ rowsInserted: 1, rowsUpdated: 0 });
    expect((await lake.scan(t, { orderBy: 'id', columns: ['id', 'seq', '__is_deleted'] }))[0]).toEqual({ id: 1, seq: 3, __is_deleted: false });
    // The column stays the table's own although the spec no longer says why: such a record fails alone.
    const own = await lake.write(t, { kind: 'rows', rows: [{ id: 4, op: 'u', seq: 1, __IS_DELETED: false }, { id: 5, op: 'u', seq: 1 }] }, upsert);
    expect(own.rejected).toEqual([{ row: 0, reason: "field '__IS_DELETED' is reserved: the table sets it itself (deletes kept as tombstones)" }]);
    expect((await lake.scan(t, { orderBy: 'id', columns: ['id'] })).map((r) => r.id)).toEqual([1, 2, 3, 5]);
  });

  test('exactly once: the same txn twice is already-committed and changes nothing', async () => {
    const t = tempDir();
    const txn = { appId: 'orders/0', version: 7 };
    const first = await lake.write(t, { kind: 'rows', rows: [{ id: 1, v: 'x', seq: 1 }] }, { ...upsert, txn });
    expect(first.status).toBe('committed');
    const before = await lake.snapshot(t);
    const again = await lake.write(t, { kind: 'rows', rows: [{ id: 1, v: 'y', seq: 9 }] }, { ...upsert, txn });
    const older = await lake.write(t, { kind: 'rows', rows: [{ id: 2, v: 'z', seq: 9 }] }, { mode: 'append', txn: { appId: 'orders/0', version: 3 } });
    expect(again).toMatchObject({ status: 'already-committed', version: 0, filesAdded: 0 });
    expect(older.status).toBe('already-committed');
    expect(await lake.snapshot(t)).toEqual(before);
    expect(await lake.txnVersion(t, 'orders/0')).toBe(7);
    expect(await lake.scan(t)).toEqual([{ id: 1, v: 'x', seq: 1 }]);
    const next = await lake.write(t, { kind: 'rows', rows: [{ id: 1, v: 'y', seq: 9 }] }, { ...upsert, txn: { appId: 'orders/0', version: 8 } });
    expect(next).toMatchObject({ status: 'committed', version: 1, rowsUpdated: 1 });
    checkLog(t, 1);
  });

  test('a batch whose records are all stale still records its txn', async () => {
    const t = tempDir();
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, seq: 5 }] }, upsert);
    const r = await lake.write(t, { kind: 'rows', rows: [{ id: 1, seq: 4 }] }, { ...upsert, txn: { appId: 'a', version: 1 } });
    expect(r).toMatchObject({ status: 'committed', filesAdded: 0, filesRemoved: 0 });
    expect(await lake.txnVersion(t, 'a')).toBe(1);
    const empty = await lake.write(t, { kind: 'rows', rows: [] }, upsert);
    expect(empty.status).toBe('empty');
  });
});

describe('schema', () => {
  test('new columns are added as nullable in the same commit; old rows read NULL', async () => {
    const t = tempDir();
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, seq: 1 }] }, upsert);
    await lake.write(t, { kind: 'rows', rows: [{ id: 2, seq: 1, note: 'hi', amount: 1.5 }] }, upsert);
    const entry = readLogEntry(t, 1);
    expect(entry.some((a) => a.metaData) && entry.some((a) => a.add)).toBe(true);
    expect(await lake.columns(t)).toEqual([
      { name: 'id', type: 'BIGINT', nullable: true },
      { name: 'seq', type: 'BIGINT', nullable: true },
      { name: 'note', type: 'VARCHAR', nullable: true },
      { name: 'amount', type: 'DOUBLE', nullable: true },
    ]);
    expect(await lake.scan(t, { orderBy: 'id' })).toEqual([
      { id: 1, seq: 1, note: null, amount: null },
      { id: 2, seq: 1, note: 'hi', amount: 1.5 },
    ]);
  });

  test('inferred types widen through the lattice; the table equals a single-batch write', async () => {
    const batches = [[{ id: 1, qty: 3, n: 1, flag: true }], [{ id: 2, qty: 'three', n: 2.5, flag: null }], [{ id: 3, qty: 4.25, n: 9007199254740993n, flag: false }]];
    const cut = tempDir();
    for (const rows of batches) await lake.write(cut, { kind: 'rows', rows }, { mode: 'append' });
    const whole = tempDir();
    await lake.write(whole, { kind: 'rows', rows: batches.flat() }, { mode: 'append' });
    const types = (await lake.columns(cut)).map((c) => `${c.name}:${c.type}`);
    // qty: integer, string, fraction -> text; n: integer, fraction, then an integer beyond 2^53 -> text.
    expect(types).toEqual(['id:BIGINT', 'qty:VARCHAR', 'n:VARCHAR', 'flag:BOOLEAN']);
    expect((await lake.columns(whole)).map((c) => `${c.name}:${c.type}`)).toEqual(types);
    const rows = await lake.scan(cut, { orderBy: 'id' });
    expect(rows).toEqual([
      { id: 1, qty: '3', n: '1', flag: true },
      { id: 2, qty: 'three', n: '2.5', flag: null },
      { id: 3, qty: '4.25', n: '9007199254740993', flag: false },
    ]);
    expect(await lake.scan(whole, { orderBy: 'id' })).toEqual(rows);
    // The widening rewrote every file (each one holds the new physical type), the stored rows as
    // unchanged data: a streaming reader of the table reads only the batch's row.
    const last = readLogEntry(cut, 2);
    expect(last.filter((a) => a.remove).map((a) => a.remove.dataChange)).toEqual([false, false]);
    expect(last.filter((a) => a.add).map((a) => a.add.dataChange).sort()).toEqual([false, true]);
    expect((await lake.snapshot(cut)).files.map((f) => f.path).sort()).toEqual(last.filter((a) => a.add).map((a) => a.add.path).sort());
    expect((await lake.readChanges(cut, 1)).rows).toEqual([{ id: 3, qty: '4.25', n: '9007199254740993', flag: false }]);
  });

  test('an integer beyond 2^53 counts for the column type even when its record leaves no value behind', async () => {
    const big = 9007199254740993n;
    const upsert: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' };
    const records = [{ id: 1, seq: 2, f: 1 }, { id: 1, seq: 1, f: big }, { id: 2, seq: 1, f: big }, { id: 2, seq: 2, f: 3 }, { id: 3, seq: 1, f: 0.25 }];
    const whole = tempDir();
    await lake.write(whole, { kind: 'rows', rows: records }, upsert);
    // One record per batch: the big values lose to a newer record, or are replaced by one.
    const cut = tempDir();
    const fieldOf = async (t: string) => (await lake.snapshot(t)).schema.find((f) => f.name === 'f');
    for (const r of records) {
      await lake.write(cut, { kind: 'rows', rows: [r] }, upsert);
      // The schema remembers the big integer no row holds (until the column leaves BIGINT).
      if (r.id === 2 && r.seq === 2) expect(await fieldOf(cut)).toMatchObject({ type: 'long', metadata: { 'pipeline.unsafeIntegers': true } });
    }
    for (const t of [whole, cut]) {
      expect(await fieldOf(t)).toEqual({ name: 'f', type: 'string', nullable: true, metadata: {} });
      expect(await lake.scan(t, { orderBy: 'id', columns: ['id', 'f'] })).toEqual([{ id: 1, f: '1' }, { id: 2, f: '3' }, { id: 3, f: '0.25' }]);
    }
  });

  test('a refused record counts for the columns and their types whether or not it shares a batch with stored ones', async () => {
    const opts: WriteOptions = { mode: 'append', columns: { q: 'BIGINT' } };
    // The first record fails (q is not an integer) but brings f as a fraction and a column of its own.
    const rows = [{ n: 1, q: 'x', f: 0.5, only: true }, { n: 2, q: 3, f: 1 }];
    const whole = tempDir();
    expect((await lake.write(whole, { kind: 'rows', rows }, opts)).rejected).toHaveLength(1);
    const cut = tempDir();
    const first = await lake.write(cut, { kind: 'rows', rows: [rows[0]!] }, opts);
    expect(first).toMatchObject({ status: 'committed', rowsInserted: 0 });
    expect(first.rejected).toHaveLength(1);
    await lake.write(cut, { kind: 'rows', rows: [rows[1]!] }, opts);
    for (const t of [whole, cut]) {
      expect(await lake.columns(t)).toEqual([
        { name: 'n', type: 'BIGINT', nullable: true },
        { name: 'q', type: 'BIGINT', nullable: true },
        { name: 'f', type: 'DOUBLE', nullable: true },
        { name: 'only', type: 'BOOLEAN', nullable: true },
      ]);
      expect(await lake.scan(t)).toEqual([{ n: 2, q: 3, f: 1, only: null }]);
    }
  });

  test.each([
    ['upsert', 'copy-on-write'], ['upsert', 'merge-on-read'], ['scd2', 'copy-on-write'], ['scd2', 'merge-on-read'],
  ] as const)('%s (%s): a batch of refused records only widens and adds columns as a stored one would', async (mode, writeMode) => {
    const opts: WriteOptions = { mode, mergeKeys: ['id'], sequenceBy: 'seq', writeMode, columns: { q: 'BIGINT' } };
    // The second record fails (q) but brings f as a fraction and a new column g.
    const rows = [{ id: 1, seq: 1, q: 1, f: 2 }, { id: 2, seq: 1, q: 'x', f: 0.5, g: 'new' }, { id: 1, seq: 2, q: 2, f: 3 }];
    const whole = tempDir();
    await lake.write(whole, { kind: 'rows', rows, positions: { partitions: [0, 0, 0], offsets: [0, 1, 2] } }, { ...opts, txn: { appId: 'a', version: 0 } });
    const cut = tempDir();
    for (let i = 0; i < rows.length; i++) {
      const r = await lake.write(cut, { kind: 'rows', rows: [rows[i]!], positions: { partitions: [0], offsets: [i] } }, { ...opts, txn: { appId: 'a', version: i } });
      if (i === 1) expect(r).toMatchObject({ status: 'committed', rowsInserted: 0, rejected: [{ row: 0 }] });
    }
    // By name: a column's place can differ (a column committed later comes after the system columns).
    const byName = (cols: { name: string }[]) => [...cols].sort((a, b) => a.name.localeCompare(b.name));
    const rowsOf = async (t: string) => (await lake.scan(t, { orderBy: 'id, seq' })).map((r) => byName(Object.entries(r).map(([name, v]) => ({ name, v }))));
    expect(byName(await lake.columns(cut))).toEqual(byName(await lake.columns(whole)));
    expect((await lake.columns(cut)).find((c) => c.name === 'f')!.type).toBe('DOUBLE');
    expect(await rowsOf(cut)).toEqual(await rowsOf(whole));
  });

  test('a partition column that has held only NULLs takes the type of its first value, whatever the batch cuts', async () => {
    const rows = [{ n: 1 }, { n: 2, yr: null }, { n: 3, yr: 2024 }, { n: 4, yr: 2025 }];
    const opts: WriteOptions = { mode: 'append', partitionBy: ['yr'] };
    const whole = tempDir();
    await lake.write(whole, { kind: 'rows', rows }, opts);
    const cut = tempDir();
    const fieldOf = async (t: string) => (await lake.snapshot(t)).schema.find((f) => f.name === 'yr');
    for (const r of rows) {
      await lake.write(cut, { kind: 'rows', rows: [r] }, opts);
      // Until a value arrives the column is a marked VARCHAR placeholder.
      if (r.n <= 2) expect(await fieldOf(cut)).toEqual({ name: 'yr', type: 'string', nullable: true, metadata: { 'pipeline.untyped': true } });
    }
    for (const t of [whole, cut]) {
      expect(await fieldOf(t)).toEqual({ name: 'yr', type: 'long', nullable: true, metadata: {} });
      expect(await lake.scan(t, { orderBy: 'n', columns: ['n', 'yr'] })).toEqual([{ n: 1, yr: null }, { n: 2, yr: null }, { n: 3, yr: 2024 }, { n: 4, yr: 2025 }]);
    }
  });

  test('an empty-string partition value (Delta reads it as NULL) fails its row, or is rescued; never stored as NULL silently', async () => {
    const rows = [{ n: 1, p: 'a' }, { n: 2, p: '' }, { n: 3, p: null }];
    const t = tempDir();
    const r = await lake.write(t, { kind: 'rows', rows }, { mode: 'append', partitionBy: ['p'] });
    expect(r.rejected).toEqual([{ row: 1, reason: 'partition column p holds the empty string, which Delta reads as NULL' }]);
    expect(await lake.scan(t, { orderBy: 'n' })).toEqual([{ n: 1, p: 'a' }, { n: 3, p: null }]);
    const rescued = tempDir();
    expect((await lake.write(rescued, { kind: 'rows', rows }, { mode: 'append', partitionBy: ['p'], rescuedDataColumn: '_rescued' })).rejected).toEqual([]);
    expect(await lake.scan(rescued, { orderBy: 'n' })).toEqual([{ n: 1, p: 'a', _rescued: null }, { n: 2, p: null, _rescued: '{"p":""}' }, { n: 3, p: null, _rescued: null }]);
    const derived = tempDir();
    const d = await lake.write(derived, { kind: 'rows', rows: [{ n: 1, q: 'a' }, { n: 2, q: '' }] }, { mode: 'append', partitionBy: ['p'], derive: [{ column: 'p', sql: 'q' }] });
    expect(d.rejected.map((x) => x.reason)).toEqual(['derived partition column p is the empty string, which Delta reads as NULL']);
    // Every reader, ours included, reads an empty partition value in the log as NULL.
    const snap = await lake.snapshot(t);
    expect(Object.values(snap.files[0]!.partitionValues ?? {})).not.toContain('');
    // A new table in a folder that does not exist yet, whose first batch stores no row (no file):
    // the batch commits its schema alone.
    const fresh = path.join(tempDir(), 'lake', 'fresh');
    expect((await lake.write(fresh, { kind: 'rows', rows: [rows[1]!] }, { mode: 'append', partitionBy: ['p'] })).status).toBe('committed');
    expect(await lake.columns(fresh)).toEqual([{ name: 'n', type: 'BIGINT', nullable: true }, { name: 'p', type: 'VARCHAR', nullable: true }]);
  });

  test('a partition column takes the spelling the write gives it, whatever the records spell', async () => {
    const t = tempDir();
    await lake.write(t, { kind: 'rows', rows: [{ n: 1, YR: 2024 }, { n: 2, YR: 2025 }] }, { mode: 'append', partitionBy: ['yr'] });
    expect((await lake.snapshot(t)).schema.map((f) => f.name)).toEqual(['n', 'yr']);
    expect(await lake.scan(t, { orderBy: 'n' })).toEqual([{ n: 1, yr: 2024 }, { n: 2, yr: 2025 }]);
  });

  test('a derive expression that does not bind over an inferred type names the column to declare', async () => {
    const t = tempDir();
    const err = await lake.write(t, { kind: 'rows', rows: [{ id: 1, sku: 123 }] }, { mode: 'append', derive: [{ column: 'code', sql: 'upper(sku)' }] }).catch((e) => e);
    expect(err.code).toBe('PIPE_LAKE_BAD_DERIVE');
    expect(err.hint).toContain('sku is BIGINT here, inferred from the values seen so far: declare the type the expression needs under the table\'s columns (e.g. sku: VARCHAR)');
    // Declared, every batch reads it alike.
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, sku: 123 }] }, { mode: 'append', columns: { sku: 'VARCHAR' }, derive: [{ column: 'code', sql: 'upper(sku)' }] });
    expect(await lake.scan(t, { columns: ['sku', 'code'] })).toEqual([{ sku: '123', code: '123' }]);
  });

  test('integers then fractions widen BIGINT to DOUBLE; a declared type fails only the rows that do not convert', async () => {
    const t = tempDir();
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, price: 3 }] }, { mode: 'append' });
    await lake.write(t, { kind: 'rows', rows: [{ id: 2, price: 10.5 }] }, { mode: 'append' });
    expect((await lake.columns(t)).find((c) => c.name === 'price')?.type).toBe('DOUBLE');
    const typed = tempDir();
    const r = await lake.write(typed, { kind: 'rows', rows: [{ id: 1, qty: 3 }, { id: 2, qty: 'three' }, { id: 3, qty: 2.5 }, { id: 4, qty: null }] }, { mode: 'append', columns: { qty: 'BIGINT' } });
    expect(r.rejected).toEqual([
      { row: 1, reason: 'value does not convert to the column type: qty (BIGINT)' },
      { row: 2, reason: 'value does not convert to the column type: qty (BIGINT)' },
    ]);
    expect(await lake.scan(typed, { orderBy: 'id' })).toEqual([{ id: 1, qty: 3 }, { id: 4, qty: null }]);
    // With a rescued-data column the rows are kept and the values land there as JSON.
    const rescued = tempDir();
    const r2 = await lake.write(rescued, { kind: 'rows', rows: [{ id: 1, qty: 3 }, { id: 2, qty: 'three' }] }, { mode: 'append', columns: { qty: 'BIGINT' }, rescuedDataColumn: '_rescued_data' });
    expect(r2.rejected).toEqual([]);
    expect(await lake.scan(rescued, { orderBy: 'id' })).toEqual([{ id: 1, qty: 3, _rescued_data: null }, { id: 2, qty: null, _rescued_data: '{"qty":"three"}' }]);
    // A record's own field of the rescued column's name is rescued under its key (it used to be
    // overwritten, or nulled when nothing else was rescued), in the first batch and in later ones.
    for (const table of [tempDir(), rescued]) {
      const own = [{ id: 5, qty: 1, _rescued_data: 'mine' }, { id: 6, qty: 'x', _rescued_data: { a: [1] } }, { id: 7, qty: 2, _rescued_data: null }];
      expect((await lake.write(table, { kind: 'rows', rows: own }, { mode: 'append', columns: { qty: 'BIGINT' }, rescuedDataColumn: '_rescued_data' })).rejected).toEqual([]);
      expect(await lake.scan(table, { where: 'id >= 5', orderBy: 'id' })).toEqual([
        { id: 5, qty: 1, _rescued_data: '{"_rescued_data":"mine"}' },
        { id: 6, qty: null, _rescued_data: '{"qty":"x","_rescued_data":{"a":[1]}}' },
        { id: 7, qty: 2, _rescued_data: null },
      ]);
    }
  });

  test('rows whose values already have their declared types are read straight into them, with the values the checked conversion gives', async () => {
    const columns = { id: 'INTEGER', name: 'VARCHAR', big: 'BIGINT', ok: 'BOOLEAN', ratio: 'DOUBLE', at: 'TIMESTAMPTZ' };
    const rows = [
      { id: 1, name: 'plain', big: 2n ** 60n, ok: true, ratio: 0.25, at: '2026-01-02T03:04:05.678Z' },
      { id: 2, name: 'quote " backslash \\ tab \t é ✓', big: -(2 ** 53) + 1, ok: false, ratio: -1e300, at: '2026-01-02T03:04:05Z' },
      { id: 3, name: null, big: null, ok: null, ratio: null, at: null },
      { id: 4 },
      { id: 5, at: '2026-01-02T03:04:05.123456Z', big: 2n ** 63n - 1n },
    ];
    // Direct: no statement converts a value (spied on the SQL the lake runs).
    const direct = tempDir();
    const statements: string[] = [];
    const spied = ['run', 'json', 'values'] as const;
    const originals = spied.map((m) => Conn.prototype[m]);
    spied.forEach((m, i) => {
      (Conn.prototype as unknown as Record<string, (sql: string) => Promise<unknown>>)[m] = function (this: Conn, sql: string) {
        statements.push(sql);
        return (originals[i] as (sql: string) => Promise<unknown>).call(this, sql);
      };
    });
    try {
      expect((await lake.write(direct, { kind: 'rows', rows }, { mode: 'append', columns })).rejected).toEqual([]);
    } finally {
      spied.forEach((m, i) => ((Conn.prototype as unknown as Record<string, unknown>)[m] = originals[i]));
    }
    expect(statements.filter((sql) => sql.includes('json_type('))).toEqual([]);
    // Checked: one more row whose values fit no column sends every column through the conversion.
    const checked = tempDir();
    const misfit = { id: 'six', name: 6, big: 1.5, ok: 'yes', ratio: 'x', at: 'noon' };
    const r = await lake.write(checked, { kind: 'rows', rows: [...rows, misfit] }, { mode: 'append', columns });
    expect(r.rejected.map((x) => x.row)).toEqual([5]);
    const read = await lake.scan(direct, { orderBy: 'id' });
    expect(read).toEqual(await lake.scan(checked, { orderBy: 'id' }));
    expect(read.map((x) => [x.big, x.name])).toEqual([[2n ** 60n, 'plain'], [-(2 ** 53) + 1, rows[1]!.name], [null, null], [null, null], [2n ** 63n - 1n, null]]);
    expect(await lake.columns(direct)).toEqual(await lake.columns(checked));
  });

  test('a write measures its batch (NULLs per column, repeated keys) unless told not to', async () => {
    const rows = [{ id: 1, note: null }, { id: 1, note: 'x' }, { id: 2 }];
    const opts: WriteOptions = { mode: 'upsert', mergeKeys: ['id'] };
    expect((await lake.write(tempDir(), { kind: 'rows', rows }, opts)).quality).toEqual({ nulls: { note: 2 }, duplicateKeys: 1 });
    expect((await lake.write(tempDir(), { kind: 'rows', rows }, { ...opts, measureQuality: false })).quality).toBeUndefined();
  });

  test('integers widen into a DOUBLE column; the table type never changes', async () => {
    const t = tempDir();
    await lake.createTable(t, [{ name: 'id', type: 'INTEGER', nullable: false }, { name: 'price', type: 'DOUBLE', nullable: true }]);
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, price: 3 }] }, { mode: 'append' });
    expect(await lake.columns(t)).toEqual([
      { name: 'id', type: 'INTEGER', nullable: false },
      { name: 'price', type: 'DOUBLE', nullable: true },
    ]);
    expect(await lake.scan(t)).toEqual([{ id: 1, price: 3 }]);
  });

  test('NDJSON batches: declared types, TIMESTAMP stored as Delta timestamp, base64 blobs', async () => {
    const t = tempDir();
    const file = path.join(tempDir(), 'batch.ndjson');
    fs.writeFileSync(file, '{"id":1,"at":"2024-01-02 03:04:05.123456","raw":"AAE=","price":"12.50"}\n{"id":2,"at":"2024-01-02T00:00:00Z"}\n');
    await lake.write(t, { kind: 'ndjson', path: file }, { mode: 'append', columns: { at: 'TIMESTAMP', raw: 'BLOB', price: 'DECIMAL(10,2)' } });
    const schema = (await lake.snapshot(t)).schema;
    expect(schema.map((f) => f.type)).toEqual(['long', 'timestamp', 'binary', 'decimal(10,2)']);
    expect(await lake.scan(t, { orderBy: 'id' })).toEqual([
      { id: 1, at: '2024-01-02T03:04:05.123456Z', raw: Buffer.from([0, 1]), price: '12.50' },
      { id: 2, at: '2024-01-02T00:00:00.000Z', raw: null, price: null },
    ]);
  });

  test('a declared DECIMAL takes a value exactly or fails its record: never rounded, never through a double', async () => {
    const t = tempDir();
    const file = path.join(tempDir(), 'batch.ndjson');
    const values = [
      '12.5', '"12.50"', '7', '1.5e2', '-0.10', '"  3.1 "', '123456789012345', '"123456789012345.67"', '99.990000',
      // refused: a digit past the scale, too many integer digits, more digits than a double keeps, not a number
      '1.005', '"1.005"', '123456789.125', '1e-7', '123456789012345.67', '12345678901234567', '"1,5"', '"NaN"', 'true',
    ];
    fs.writeFileSync(file, values.map((v, i) => `{"id":${i},"price":${v}}\n`).join(''));
    const r = await lake.write(t, { kind: 'ndjson', path: file }, { mode: 'append', columns: { price: 'DECIMAL(17,2)' } });
    const reason = 'value does not convert to the column type: price (DECIMAL(17,2): taken only exactly, never rounded; a number of more than 15 significant digits only as a string)';
    expect(r.rejected).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17].map((row) => ({ row, reason })));
    expect((await lake.scan(t, { orderBy: 'id' })).map((row) => row.price)).toEqual([
      '12.50', '12.50', '7.00', '150.00', '-0.10', '3.10', '123456789012345.00', '123456789012345.67', '99.99',
    ]);
  });

  test('a declared TIMESTAMP holds the instant a string names, its offset or zone applied', async () => {
    const t = tempDir();
    const values = ['2024-01-01T00:00:00+02:00', '2024-01-01T00:00:00.5-05:30', '2024-01-01T00:00:00Z', '2024-01-01 00:00:00', '2024-01-01T00:00:00 Europe/Berlin', '2024-01-01T00:00:00.123456789Z', '2024-13-01'];
    const rows = values.map((at, id) => ({ id, at, ms: at }));
    const r = await lake.write(t, { kind: 'rows', rows }, { mode: 'append', columns: { at: 'TIMESTAMP', ms: 'TIMESTAMP_MS' } });
    expect(r.rejected.map((x) => x.row)).toEqual([6]);
    const want = ['2023-12-31T22:00:00.000Z', '2024-01-01T05:30:00.500Z', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', '2023-12-31T23:00:00.000Z', '2024-01-01T00:00:00.123Z'];
    const stored = await lake.scan(t, { orderBy: 'id' });
    expect(stored.map((row) => new Date(String(row.at)).toISOString())).toEqual(want);
    expect(stored.map((row) => new Date(String(row.ms)).toISOString())).toEqual(want);
    // Digits past the microsecond are cut (Delta timestamps hold microseconds).
    expect(stored[5]!.at).toBe('2024-01-01T00:00:00.123456Z');
  });

  test('a record holding a top-level name twice fails alone; its neighbours keep their rows and positions', async () => {
    const t = tempDir();
    const file = path.join(tempDir(), 'batch.ndjson');
    const lines = ['{"id":1,"seq":1,"amt":1}', '{"id":2,"seq":1,"amt":2,"amt":"x"}', '{"id":3,"seq":1,"n":{"a":1,"a":2}}', '{"id":4,"seq":1,"id":5}', '{"id":6,"seq":1,"amt":6}', '{"id":7,"seq":1,"amt":"seven"}'];
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const positions = { partitions: [0, 0, 1, 1, 1, 1], offsets: [10, 11, 20, 21, 22, 23] };
    const r = await lake.write(t, { kind: 'ndjson', path: file, positions }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', columns: { amt: 'BIGINT' } });
    const reason = (name: string) => `field '${name}' appears more than once in the record, so which value it means is unknown`;
    // The rows after a refused one keep their place: the last fails its declared type.
    expect(r.rejected).toEqual([{ row: 1, reason: reason('amt') }, { row: 3, reason: reason('id') }, { row: 5, reason: 'value does not convert to the column type: amt (BIGINT)' }]);
    expect(await lake.scan(t, { orderBy: 'id', columns: ['id', 'amt', 'n', '__source_partition', '__source_offset'] })).toEqual([
      { id: 1, amt: 1, n: null, __source_partition: 0, __source_offset: 10 },
      { id: 3, amt: null, n: '{"a":1,"a":2}', __source_partition: 1, __source_offset: 20 },
      { id: 6, amt: 6, n: null, __source_partition: 1, __source_offset: 22 },
    ]);
  });

  test('rows built in code keep NaN and ±Infinity (JSON has no spelling for them), through a table rebuild too', async () => {
    const rows = [{ id: 1, d: NaN, f: Infinity }, { id: 2, d: -Infinity, f: 1.5 }, { id: 3, d: 2.5, f: NaN }];
    for (const columns of [{ d: 'DOUBLE', f: 'FLOAT' }, undefined]) {
      const t = tempDir();
      expect((await lake.write(t, { kind: 'rows', rows }, { mode: 'append', ...(columns ? { columns } : {}) })).rejected).toEqual([]);
      expect(await lake.scan(t, { orderBy: 'id' })).toEqual(rows);
    }
    // A rebuild under a new layout reads the rows back and writes them again.
    const u = tempDir();
    await lake.write(u, { kind: 'rows', rows }, { mode: 'upsert', mergeKeys: ['id'] });
    await lake.rebuildTable(u, { mode: 'upsert', mergeKeys: ['id'], partitionBy: ['f'] });
    expect(await lake.scan(u, { orderBy: 'id' })).toEqual(rows);
  });

  test('a batch with more records than source positions is refused; nothing is written', async () => {
    const t = tempDir();
    const file = path.join(tempDir(), 'batch.ndjson');
    fs.writeFileSync(file, '{"id":1,"seq":1}\n{"id":2,"seq":1}\n{"id":3,"seq":1}\n');
    const write = (partitions: number[], offsets: number[]) =>
      lake.write(t, { kind: 'ndjson', path: file, positions: { partitions, offsets } }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' });
    await expect(write([0, 0], [10, 11])).rejects.toThrow(/more records than source positions \(1 without one\)/);
    expect(await lake.exists(t)).toBe(false);
    await write([0, 0, 1], [10, 11, 5]);
    expect(await lake.scan(t, { orderBy: 'id', columns: ['id', '__source_partition', '__source_offset'] })).toEqual([
      { id: 1, __source_partition: 0, __source_offset: 10 },
      { id: 2, __source_partition: 0, __source_offset: 11 },
      { id: 3, __source_partition: 1, __source_offset: 5 },
    ]);
  });
});

describe('large NDJSON batches', () => {
  test('keys and kinds anywhere in the file are seen (no detection sample)', async () => {
    const t = tempDir();
    const dir = tempDir();
    const lines = Array.from({ length: 30000 }, (_, i) => JSON.stringify({ id: i, qty: i }));
    fs.writeFileSync(path.join(dir, 'a.ndjson'), [...lines, JSON.stringify({ id: 30000, qty: 1, late: 'x' })].join('\n') + '\n');
    await lake.write(t, { kind: 'ndjson', path: path.join(dir, 'a.ndjson') }, { mode: 'append' });
    expect((await lake.columns(t)).map((c) => c.name)).toEqual(['id', 'qty', 'late']);
    expect(await lake.scan(t, { where: 'late IS NOT NULL' })).toEqual([{ id: 30000, qty: 1, late: 'x' }]);
    fs.writeFileSync(path.join(dir, 'b.ndjson'), [...lines, JSON.stringify({ id: 30001, qty: 'many' })].join('\n') + '\n');
    const r = await lake.write(t, { kind: 'ndjson', path: path.join(dir, 'b.ndjson') }, { mode: 'append' });
    expect(r.widened).toEqual(['qty']);
    expect(await lake.scan(t, { where: `id = 30001 OR (id = 7 AND late IS NULL)`, orderBy: 'id' })).toEqual([
      { id: 7, qty: '7', late: null },
      { id: 7, qty: '7', late: null },
      { id: 30001, qty: 'many', late: null },
    ]);
  });
});

describe('kinds', () => {
  test('the producer\'s kinds decide the types; nested values are JSON text unless a nested type is declared', async () => {
    const t = tempDir();
    const dir = tempDir();
    const file = (name: string, rows: unknown[]) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      return f;
    };
    const opts: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' };
    const kinds = { id: Kind.STRING, seq: Kind.INT, qty: Kind.INT | Kind.NULL, ship: Kind.NESTED };
    await lake.write(t, { kind: 'ndjson', path: file('a', [{ id: 'a', seq: 1, qty: 1, ship: { city: 'X', n: 2.50 } }, { id: 'b', seq: 1, qty: null, ship: [1] }]), kinds }, opts);
    expect((await lake.columns(t)).map((c) => `${c.name}:${c.type}`)).toEqual(['id:VARCHAR', 'seq:BIGINT', 'qty:BIGINT', 'ship:VARCHAR']);
    expect(sortBy(await lake.scan(t), 'id')).toEqual([
      { id: 'a', seq: 1, qty: 1, ship: '{"city":"X","n":2.5}' },
      { id: 'b', seq: 1, qty: null, ship: '[1]' },
    ]);
    const nested: WriteOptions = { ...opts, columns: { ship: 'STRUCT("city" VARCHAR)', tags: 'BIGINT[]' } };
    const typed = tempDir();
    const r = await lake.write(typed, { kind: 'rows', rows: [{ id: 's', seq: 1, ship: { city: 'Y' }, tags: [1, 2] }, { id: 't', seq: 1, ship: 'not an object', tags: ['x'] }] }, nested);
    expect(r.rejected).toEqual([{ row: 1, reason: 'value does not convert to the column type: ship (STRUCT(\"city\" VARCHAR)), tags (BIGINT[])' }]);
    expect(await lake.scan(typed)).toEqual([{ id: 's', seq: 1, ship: { city: 'Y' }, tags: [1, 2] }]);
  });
});

describe('layout', () => {
  test('partitioned upsert rewrites only the touched partition; folders are Hive-escaped', async () => {
    const t = tempDir();
    const rows = ['a/b', 'x:y', 'plain'].flatMap((region) => [1, 2, 3].map((n) => ({ region, id: `${region}-${n}`, seq: 1 })));
    await lake.write(t, { kind: 'rows', rows }, { mode: 'upsert', mergeKeys: ['region', 'id'], sequenceBy: 'seq', partitionBy: ['region'] });
    expect(fs.existsSync(path.join(t, 'region=a%2Fb'))).toBe(true);
    expect(fs.existsSync(path.join(t, 'region=x%3Ay'))).toBe(true);
    const r = await lake.write(t, { kind: 'rows', rows: [{ region: 'x:y', id: 'x:y-2', seq: 2 }] }, { mode: 'upsert', mergeKeys: ['region', 'id'], sequenceBy: 'seq' });
    expect(r).toMatchObject({ filesRemoved: 1, filesAdded: 1, rowsUpdated: 1 });
    const scanned = await lake.scan(t, { orderBy: 'id' });
    expect(scanned).toEqual(sortBy(rows.map((x) => (x.id === 'x:y-2' ? { ...x, seq: 2 } : x)), 'id'));
    const live = await readLiveFiles(t);
    expect(sortBy(live, 'id')).toEqual(scanned.map(({ region: _r, ...rest }) => rest));
    checkLog(t, 1);
  });

  test('a key whose partition value changes moves to the new partition', async () => {
    const t = tempDir();
    const opts: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', partitionBy: ['status'] };
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, status: 'open', seq: 1 }, { id: 2, status: 'open', seq: 1 }] }, opts);
    const r = await lake.write(t, { kind: 'rows', rows: [{ id: 1, status: 'closed', seq: 2 }] }, opts);
    expect(r).toMatchObject({ rowsUpdated: 1, filesRemoved: 1, filesAdded: 2 });
    expect(await lake.scan(t, { orderBy: 'id' })).toEqual([{ id: 1, status: 'closed', seq: 2 }, { id: 2, status: 'open', seq: 1 }]);
    expect((await lake.snapshot(t)).files.map((f) => f.partitionValues.status).sort()).toEqual(['closed', 'open']);
  });

  test('partition values too long for a folder name, or holding NUL, keep their rows and values', async () => {
    const t = tempDir();
    const opts: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', partitionBy: ['p'] };
    // Two long values sharing their first 32 characters; é is two bytes; NUL in a value and a key.
    const long = ['z'.repeat(300), 'z'.repeat(299), 'é'.repeat(200)];
    const rows = [...long.map((p, i) => ({ id: `k${i}`, p, seq: 1 })), { id: 'n\u0000', p: 'nul\u0000', seq: 1 }, { id: 'short', p: 'ok', seq: 1 }];
    await lake.write(t, { kind: 'rows', rows }, opts);
    // A later batch moves a key between the long partitions and updates the NUL key.
    await lake.write(t, { kind: 'rows', rows: [{ id: 'k0', p: long[1]!, seq: 2 }, { id: 'n\u0000', p: 'nul\u0000', seq: 2 }] }, opts);
    const expected = sortBy([{ id: 'k0', p: long[1]!, seq: 2 }, ...rows.slice(1).map((r) => (r.id === 'n\u0000' ? { ...r, seq: 2 } : r))], 'id');
    expect(await lake.scan(t, { orderBy: 'id' })).toEqual(expected);
    const folders = fs.readdirSync(t).filter((f) => f.startsWith('p='));
    expect(folders).toHaveLength(5);
    for (const f of folders) expect(Buffer.byteLength(f)).toBeLessThanOrEqual(255);
    expect(folders).toContain('p=nul%00');
    expect([...new Set((await lake.snapshot(t)).files.map((f) => f.partitionValues.p))].sort()).toEqual([long[1], long[2], 'nul\u0000', 'ok'].sort());
  });

  test('an upsert rewriting two files replaces exactly its rows in each (row numbers repeat across files)', async () => {
    const t = tempDir();
    // Two files of three rows each: ids 1–3, then 11–13 (new keys outside the first file's range).
    await lake.write(t, { kind: 'rows', rows: [1, 2, 3].map((id) => ({ id, seq: 1, v: 'old' })) }, upsert);
    await lake.write(t, { kind: 'rows', rows: [11, 12, 13].map((id) => ({ id, seq: 1, v: 'old' })) }, upsert);
    expect((await lake.snapshot(t)).files).toHaveLength(2);
    // Second row of the first file, third row of the second.
    const r = await lake.write(t, { kind: 'rows', rows: [{ id: 2, seq: 2, v: 'new' }, { id: 13, seq: 2, v: 'new' }] }, upsert);
    expect(r).toMatchObject({ rowsUpdated: 2, rowsInserted: 0, filesRemoved: 2 });
    expect(await lake.scan(t, { orderBy: 'id' })).toEqual([
      { id: 1, seq: 1, v: 'old' }, { id: 2, seq: 2, v: 'new' }, { id: 3, seq: 1, v: 'old' },
      { id: 11, seq: 1, v: 'old' }, { id: 12, seq: 1, v: 'old' }, { id: 13, seq: 2, v: 'new' },
    ]);
    expect(sortBy(await readLiveFiles(t), 'id').map((x) => x.v)).toEqual(['old', 'new', 'old', 'old', 'old', 'new']);
  });

  test('an upsert rewrites only the files where a batch record wins, among files whose key ranges all overlap', async () => {
    const t = tempDir();
    // Three files whose key ranges overlap, so no file can be skipped by its stats.
    for (const ids of [[1, 5, 9], [2, 6, 10], [3, 7, 11]]) await lake.write(t, { kind: 'rows', rows: ids.map((id) => ({ id, seq: 1, v: `old${id}` })) }, upsert);
    const before = (await lake.snapshot(t)).files.map((f) => f.path);
    expect(before).toHaveLength(3);
    // id 6 wins in the second file; id 9 (first file) loses to its stored row; id 4 is new.
    const r = await lake.write(t, { kind: 'rows', rows: [{ id: 6, seq: 2, v: 'new6' }, { id: 9, seq: 0, v: 'stale9' }, { id: 4, seq: 1, v: 'new4' }] }, upsert);
    expect(r).toMatchObject({ rowsUpdated: 1, rowsInserted: 1, filesRemoved: 1 });
    const after = (await lake.snapshot(t)).files.map((f) => f.path);
    expect(after.filter((p) => before.includes(p)).sort()).toEqual([before[0], before[2]].sort());
    const expected = [1, 2, 3, 4, 5, 6, 7, 9, 10, 11].map((id) => ({ id, seq: id === 6 ? 2 : 1, v: id === 6 ? 'new6' : id === 4 ? 'new4' : `old${id}` }));
    expect(await lake.scan(t, { orderBy: 'id' })).toEqual(expected);
    expect(sortBy(await readLiveFiles(t), 'id').map((x) => x.v)).toEqual(expected.map((x) => x.v));
  });

  test('files split at the target size and sorted by key, so an upsert touches few files', async () => {
    const t = tempDir();
    await lake.createTable(t, [{ name: 'id', type: 'BIGINT', nullable: true }, { name: 'seq', type: 'BIGINT', nullable: true }, { name: 'pad', type: 'VARCHAR', nullable: true }], {
      configuration: { 'delta.targetFileSize': String(64 * 1024) },
    });
    // Incompressible padding, so files really reach the target size.
    const rows = Array.from({ length: 20000 }, (_, i) => ({ id: (i * 7919) % 20000, seq: 1, pad: createHash('sha256').update(String(i)).digest('hex') }));
    await lake.write(t, { kind: 'rows', rows }, upsert);
    const snap = await lake.snapshot(t);
    expect(snap.files.length).toBeGreaterThan(3);
    // Long text stats are cut to 32 characters (the max keeps an upper-bound tie-breaker).
    expect(snap.files[0]!.stats!.minValues!.pad).toHaveLength(32);
    expect(Array.from(snap.files[0]!.stats!.maxValues!.pad as string)).toHaveLength(33);
    // Sorted by key: file key ranges do not overlap.
    const ranges = snap.files.map((f) => [f.stats!.minValues!.id as number, f.stats!.maxValues!.id as number]).sort((a, b) => a[0]! - b[0]!);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]!).toBeGreaterThan(ranges[i - 1]![1]!);
    const r = await lake.write(t, { kind: 'rows', rows: [{ id: 5, seq: 2, pad: 'new' }, { id: 6, seq: 2, pad: 'new' }] }, upsert);
    expect(r).toMatchObject({ filesRemoved: 1, rowsUpdated: 2 });
    expect((await lake.scan(t, { where: 'seq = 2', orderBy: 'id' })).map((x) => x.id)).toEqual([5, 6]);
    expect((await lake.scan(t, { columns: ['id'] })).length).toBe(20000);
  });
});

describe('nested data', () => {
  test('struct and list columns survive upserts and scd2 merges', async () => {
    const up = tempDir();
    const row = (id: number, seq: number, city: string) => ({ id, seq, customer: { name: `c${id}`, address: { city } }, tags: ['a', city] });
    const columns = { customer: 'STRUCT(name VARCHAR, address STRUCT(city VARCHAR))', tags: 'VARCHAR[]' };
    await lake.write(up, { kind: 'rows', rows: [row(1, 1, 'x'), row(2, 1, 'y')] }, { ...upsert, columns });
    await lake.write(up, { kind: 'rows', rows: [row(1, 2, 'z')] }, { ...upsert, columns });
    expect(await lake.scan(up, { orderBy: 'id' })).toEqual([row(1, 2, 'z'), row(2, 1, 'y')]);
    const hist = tempDir();
    const scd2: WriteOptions = { mode: 'scd2', mergeKeys: ['id'], sequenceBy: 'seq', columns };
    await lake.write(hist, { kind: 'rows', rows: [row(1, 1, 'x')] }, scd2);
    await lake.write(hist, { kind: 'rows', rows: [row(1, 2, 'x'), row(1, 3, 'z')] }, scd2);
    const versions = await lake.scan(hist, { orderBy: '__start_at', columns: ['customer', '__start_at', '__end_at'] });
    expect(versions).toEqual([
      { customer: { name: 'c1', address: { city: 'x' } }, __start_at: 1, __end_at: 3 },
      { customer: { name: 'c1', address: { city: 'z' } }, __start_at: 3, __end_at: null },
    ]);
  });
});

describe('nested data: fields a declared STRUCT lacks', () => {
  test('a value with a field its declared STRUCT lacks, at any depth, does not convert (or goes to the rescued column whole)', async () => {
    const columns = { customer: 'STRUCT(name VARCHAR, address STRUCT(city VARCHAR))', items: 'STRUCT(a BIGINT)[]' };
    const rows = [
      { id: 1, customer: { name: 'a', address: { city: 'x' } }, items: [{ a: 1 }] },
      { id: 2, customer: { name: 'b', address: { city: 'y', zip: '1' } } },
      { id: 3, customer: { name: 'c', vip: true, address: { city: 'z' } } },
      { id: 4, items: [{ a: 1 }, { a: 2, b: 3 }] },
      { id: 5, customer: { name: 'e', address: null }, items: [] },
      { id: 6, customer: null, items: null },
    ];
    const t = tempDir();
    const r = await lake.write(t, { kind: 'rows', rows }, { mode: 'append', columns });
    expect(r.rejected.map((x) => [x.row, x.reason])).toEqual([
      [1, 'value does not convert to the column type: customer (STRUCT("name" VARCHAR, "address" STRUCT("city" VARCHAR)))'],
      [2, 'value does not convert to the column type: customer (STRUCT("name" VARCHAR, "address" STRUCT("city" VARCHAR)))'],
      [3, 'value does not convert to the column type: items (STRUCT("a" BIGINT)[])'],
    ]);
    expect((await lake.scan(t, { orderBy: 'id' })).map((x) => x.id)).toEqual([1, 5, 6]);
    const rescued = tempDir();
    expect((await lake.write(rescued, { kind: 'rows', rows }, { mode: 'append', columns, rescuedDataColumn: '_rescued' })).rejected).toEqual([]);
    const kept = await lake.scan(rescued, { orderBy: 'id', columns: ['id', '_rescued'] });
    expect(JSON.parse(String(kept.find((x) => x.id === 2)!._rescued))).toEqual({ customer: rows[1]!.customer });
    expect(JSON.parse(String(kept.find((x) => x.id === 4)!._rescued))).toEqual({ items: rows[3]!.items });
    expect(kept.find((x) => x.id === 1)!._rescued).toBeNull();
  });
});

describe('scd2', () => {
  test('an scd2 merge rewriting two files keeps every other version of each (row numbers repeat across files)', async () => {
    const t = tempDir();
    const scd2: WriteOptions = { mode: 'scd2', mergeKeys: ['id'], sequenceBy: 'seq' };
    await lake.write(t, { kind: 'rows', rows: [1, 2, 3].map((id) => ({ id, seq: 1, v: 'a' })) }, scd2);
    await lake.write(t, { kind: 'rows', rows: [11, 12, 13].map((id) => ({ id, seq: 1, v: 'a' })) }, scd2);
    expect((await lake.snapshot(t)).files).toHaveLength(2);
    await lake.write(t, { kind: 'rows', rows: [{ id: 2, seq: 2, v: 'b' }, { id: 13, seq: 2, v: 'b' }] }, scd2);
    const rows = await lake.scan(t, { orderBy: 'id, seq', columns: ['id', 'seq', 'v', '__end_at', '__is_current'] });
    expect(rows).toEqual([
      { id: 1, seq: 1, v: 'a', __end_at: null, __is_current: true },
      { id: 2, seq: 1, v: 'a', __end_at: 2, __is_current: false },
      { id: 2, seq: 2, v: 'b', __end_at: null, __is_current: true },
      { id: 3, seq: 1, v: 'a', __end_at: null, __is_current: true },
      { id: 11, seq: 1, v: 'a', __end_at: null, __is_current: true },
      { id: 12, seq: 1, v: 'a', __end_at: null, __is_current: true },
      { id: 13, seq: 1, v: 'a', __end_at: 2, __is_current: false },
      { id: 13, seq: 2, v: 'b', __end_at: null, __is_current: true },
    ]);
  });

  test('history rows open and close by sequence; unchanged records add no version', async () => {
    const t = tempDir();
    const opts: WriteOptions = { mode: 'scd2', mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: `op = 'd'` };
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, name: 'a', op: 'u', seq: 1 }, { id: 2, name: 'b', op: 'u', seq: 1 }] }, opts);
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, name: 'a2', op: 'u', seq: 3 }, { id: 1, name: 'a', op: 'u', seq: 2 }, { id: 2, name: 'b', op: 'd', seq: 4 }] }, opts);
    const rows = await lake.scan(t, { orderBy: 'id, __start_at', columns: ['id', 'name', '__start_at', '__end_at', '__is_current'] });
    expect(rows).toEqual([
      { id: 1, name: 'a', __start_at: 1, __end_at: 3, __is_current: false },
      { id: 1, name: 'a2', __start_at: 3, __end_at: null, __is_current: true },
      { id: 2, name: 'b', __start_at: 1, __end_at: 4, __is_current: false },
    ]);
    checkLog(t, 1);
  });
});

describe('scd2 late arrival across batches', () => {
  const opts: WriteOptions = { mode: 'scd2', mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: `op = 'd'` };
  const cols = ['id', 'name', '__start_at', '__end_at', '__is_current'];
  const write = (t: string, rows: Record<string, unknown>[]) => lake.write(t, { kind: 'rows', rows }, opts);

  test('a late version splits the version that absorbed an unchanged record', async () => {
    const t = tempDir();
    await write(t, [{ id: 1, name: 'a', op: 'u', seq: 1 }]);
    await write(t, [{ id: 1, name: 'a', op: 'u', seq: 3 }]); // no change: absorbed
    await write(t, [{ id: 1, name: 'b', op: 'u', seq: 2 }]); // late
    expect(await lake.scan(t, { orderBy: '__start_at', columns: cols })).toEqual([
      { id: 1, name: 'a', __start_at: 1, __end_at: 2, __is_current: false },
      { id: 1, name: 'b', __start_at: 2, __end_at: 3, __is_current: false },
      { id: 1, name: 'a', __start_at: 3, __end_at: null, __is_current: true },
    ]);
  });

  test('a late delete closes only the version it falls in', async () => {
    const t = tempDir();
    await write(t, [{ id: 1, name: 'a', op: 'u', seq: 1 }, { id: 1, name: 'b', op: 'u', seq: 3 }]);
    await write(t, [{ id: 1, name: 'a', op: 'd', seq: 2 }]);
    expect(await lake.scan(t, { orderBy: '__start_at', columns: cols })).toEqual([
      { id: 1, name: 'a', __start_at: 1, __end_at: 2, __is_current: false },
      { id: 1, name: 'b', __start_at: 3, __end_at: null, __is_current: true },
    ]);
  });

  test('a delete that arrives before any version is remembered as a tombstone row', async () => {
    const t = tempDir();
    await write(t, [{ id: 1, name: 'x', op: 'd', seq: 5 }]);
    await write(t, [{ id: 1, name: 'a', op: 'u', seq: 3 }]);
    expect(await lake.scan(t, { orderBy: '__start_at', columns: [...cols, '__seen_at'] })).toEqual([
      { id: 1, name: 'a', __start_at: 3, __end_at: 5, __is_current: false, __seen_at: null },
    ]);
    await write(t, [{ id: 1, name: 'x', op: 'd', seq: 1 }]);
    const rows = await lake.scan(t, { orderBy: '__start_at NULLS FIRST', columns: [...cols, '__seen_at'] });
    expect(rows).toEqual([
      { id: 1, name: null, __start_at: null, __end_at: null, __is_current: false, __seen_at: [1] },
      { id: 1, name: 'a', __start_at: 3, __end_at: 5, __is_current: false, __seen_at: null },
    ]);
  });
});

describe('scd2 positions and sequence types', () => {
  const opts: WriteOptions = { mode: 'scd2', mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: `op = 'd'` };
  const cols = ['id', 'name', '__start_at', '__end_at', '__is_current', '__seen_at'];
  const write = (t: string, rows: Record<string, unknown>[], partitions?: number[], offsets?: number[]) =>
    lake.write(t, { kind: 'rows', rows, ...(partitions ? { positions: { partitions, offsets: offsets! } } : {}) }, opts);

  test('a sequence widened to DOUBLE widens the history columns with it: bounds stay exact', async () => {
    const t = tempDir();
    await write(t, [{ id: 1, name: 'a', op: 'u', seq: 1 }, { id: 1, name: 'b', op: 'u', seq: 3 }, { id: 1, name: 'b', op: 'u', seq: 4 }], [0, 0, 0], [0, 1, 2]);
    await write(t, [{ id: 1, name: 'c', op: 'u', seq: 2.5 }], [0], [3]);
    expect(await lake.scan(t, { orderBy: '__start_at', columns: cols })).toEqual([
      { id: 1, name: 'a', __start_at: 1, __end_at: 2.5, __is_current: false, __seen_at: null },
      { id: 1, name: 'c', __start_at: 2.5, __end_at: 3, __is_current: false, __seen_at: null },
      { id: 1, name: 'b', __start_at: 3, __end_at: null, __is_current: true, __seen_at: [4] },
    ]);
    const types = Object.fromEntries((await lake.snapshot(t)).schema.map((f) => [f.name, JSON.stringify(f.type)]));
    expect(types).toMatchObject({ seq: '"double"', __start_at: '"double"', __end_at: '"double"' });
    expect(types.__seen_at).toContain('"elementType":"double"');
    expect(types.__source_positions).toContain('{"name":"seq","type":"double"');
  });

  test('an equal sequence arriving later from a lower partition takes the place of the stored one, absorbed or not', async () => {
    const t = tempDir();
    // Partition 1 delivers seq 1 (a), 3 (a, absorbed) and 5 (b); partition 0's seq 3 (c) and 5 (b) come a batch later.
    await write(t, [{ id: 1, name: 'a', op: 'u', seq: 1 }, { id: 1, name: 'a', op: 'u', seq: 3 }, { id: 1, name: 'b', op: 'u', seq: 5 }], [1, 1, 1], [0, 1, 2]);
    await write(t, [{ id: 1, name: 'c', op: 'u', seq: 3 }, { id: 1, name: 'x', op: 'd', seq: 5 }], [0, 0], [0, 1]);
    expect(await lake.scan(t, { orderBy: '__start_at', columns: [...cols, '__source_positions'] })).toEqual([
      { id: 1, name: 'a', __start_at: 1, __end_at: 3, __is_current: false, __seen_at: null, __source_positions: [{ seq: 1, partition: 1, offset: 0 }] },
      { id: 1, name: 'c', __start_at: 3, __end_at: 5, __is_current: false, __seen_at: null, __source_positions: [{ seq: 3, partition: 0, offset: 0 }, { seq: 5, partition: 0, offset: 1 }] },
    ]);
    // Replaying partition 1's records changes nothing: they lose every tie.
    const version = (await lake.snapshot(t)).version;
    await write(t, [{ id: 1, name: 'a', op: 'u', seq: 3 }, { id: 1, name: 'b', op: 'u', seq: 5 }], [1, 1], [1, 2]);
    expect((await lake.snapshot(t)).version).toBe(version);
  });

  test('rows stored without positions keep their sequences against later records', async () => {
    const t = tempDir();
    await write(t, [{ id: 1, name: 'a', op: 'u', seq: 1 }]);
    await write(t, [{ id: 1, name: 'b', op: 'u', seq: 1 }, { id: 1, name: 'c', op: 'u', seq: 2 }], [0, 0], [0, 1]);
    expect(await lake.scan(t, { orderBy: '__start_at', columns: [...cols, '__source_positions'] })).toEqual([
      { id: 1, name: 'a', __start_at: 1, __end_at: 2, __is_current: false, __seen_at: null, __source_positions: null },
      { id: 1, name: 'c', __start_at: 2, __end_at: null, __is_current: true, __seen_at: null, __source_positions: [{ seq: 2, partition: 0, offset: 1 }] },
    ]);
  });
});

describe('table layout', () => {
  const rows = [{ id: 1, region: 'eu', seq: 1, v: 'a' }, { id: 2, region: 'us', seq: 1, v: 'b' }];
  const upsert: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', pinLayout: true };

  test('is recorded in the table; a write under another layout is refused with what changed', async () => {
    const t = tempDir();
    await lake.write(t, { kind: 'rows', rows }, upsert);
    expect((await lake.snapshot(t)).configuration).toMatchObject({ 'pipeline.mode': 'upsert', 'pipeline.mergeKeys': '["id"]', 'pipeline.sequenceBy': 'seq' });
    const keys = await lake.write(t, { kind: 'rows', rows }, { ...upsert, mergeKeys: ['id', 'region'] }).catch((e) => e);
    expect(keys.code).toBe('PIPE_LAKE_LAYOUT_CHANGED');
    expect(keys.message).toContain('mergeKeys [id] → [id, region]');
    const parts = await lake.write(t, { kind: 'rows', rows }, { ...upsert, partitionBy: ['region'] }).catch((e) => e);
    expect(parts.message).toContain('partitionBy [] → [region]');
    const mode = await lake.write(t, { kind: 'rows', rows }, { mode: 'append', pinLayout: true }).catch((e) => e);
    expect(mode.message).toContain('mode upsert → append');
    expect((await lake.snapshot(t)).version).toBe(0);
    // A write that does not pin the layout (code mixing modes on purpose) is not checked.
    expect((await lake.write(t, { kind: 'rows', rows }, { mode: 'append' })).status).toBe('committed');
  });

  test('rebuildTable rewrites the rows under the new layout in one commit', async () => {
    const t = tempDir();
    await lake.write(t, { kind: 'rows', rows }, { ...upsert, txn: { appId: 'p/0', version: 4 } });
    const before = await lake.snapshot(t);
    const next: WriteOptions = { ...upsert, mergeKeys: ['id', 'region'], partitionBy: ['region'] };
    const r = await lake.rebuildTable(t, next);
    expect(r).toEqual({ version: 1, changes: ['mergeKeys [id] → [id, region]', 'partitionBy [] → [region]'], rows: 2 });
    const after = await lake.snapshot(t);
    expect(after.partitionColumns).toEqual(['region']);
    expect(after.tableId).toBe(before.tableId);
    expect(after.txns).toEqual({ 'p/0': 4 });
    expect(after.configuration['pipeline.mergeKeys']).toBe('["id","region"]');
    expect(after.files.every((f) => f.partitionValues.region !== undefined)).toBe(true);
    // Now the new layout is accepted, and a key moves nowhere: (1, us) is a new row.
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, region: 'us', seq: 2, v: 'c' }] }, next);
    expect(await lake.scan(t, { orderBy: 'id, region', columns: ['id', 'region', 'v'] })).toEqual([
      { id: 1, region: 'eu', v: 'a' },
      { id: 1, region: 'us', v: 'c' },
      { id: 2, region: 'us', v: 'b' },
    ]);
    // Coarser keys re-merge the old rows: the greatest sequence per id wins.
    await lake.rebuildTable(t, upsert);
    expect(await lake.scan(t, { orderBy: 'id', columns: ['id', 'region', 'v'] })).toEqual([{ id: 1, region: 'us', v: 'c' }, { id: 2, region: 'us', v: 'b' }]);
    expect((await lake.history(t, { limit: 1 }))[0]!.operation).toBe('REPLACE TABLE');
  });

  test('a declared column type other than the stored one is a layout change; the same type spelled otherwise is not', async () => {
    const t = tempDir();
    const priced = { ...upsert, columns: { amount: 'DECIMAL(10,2)', at: 'TIMESTAMPTZ' } };
    await lake.write(t, { kind: 'rows', rows: [{ ...rows[0]!, amount: '1.25', at: '2026-01-01T00:00:00Z' }] }, priced);
    const next = [{ ...rows[1]!, amount: '1.2345', at: '2026-01-02T00:00:00Z' }];
    const refused = await lake.write(t, { kind: 'rows', rows: next }, { ...priced, columns: { AMOUNT: 'DECIMAL(10,4)', at: 'TIMESTAMPTZ' } }).catch((e) => e);
    expect(refused.code).toBe('PIPE_LAKE_LAYOUT_CHANGED');
    expect(refused.message).toContain('columns.amount DECIMAL(10,2) → DECIMAL(10,4)');
    expect((await lake.snapshot(t)).version).toBe(0);
    // Spelled otherwise, or a type the table stores the same way (TIMESTAMP is a Delta timestamp too).
    const same = await lake.write(t, { kind: 'rows', rows: [{ ...rows[1]!, amount: '2.50', at: '2026-01-02T00:00:00Z' }] }, { ...priced, columns: { amount: 'decimal(10, 2)', at: 'TIMESTAMP' } });
    expect(same.status).toBe('committed');
  });

  test('a declaration that widens the stored type exactly applies with the next write that brings the column', async () => {
    const t = tempDir();
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, seq: 1, n: 7, x: 0.5 }] }, { ...upsert, columns: { n: 'INTEGER', x: 'FLOAT' } });
    const wide: WriteOptions = { ...upsert, columns: { n: 'BIGINT', x: 'DOUBLE' } };
    // A batch without the columns leaves them as they are.
    await lake.write(t, { kind: 'rows', rows: [{ id: 2, seq: 1 }] }, wide);
    expect((await lake.snapshot(t)).schema.filter((f) => f.name === 'n' || f.name === 'x').map((f) => f.type)).toEqual(['integer', 'float']);
    const r = await lake.write(t, { kind: 'rows', rows: [{ id: 3, seq: 1, n: 2 ** 40, x: 0.1 }] }, wide);
    expect(r.widened.sort()).toEqual(['n', 'x']);
    expect((await lake.snapshot(t)).schema.filter((f) => f.name === 'n' || f.name === 'x').map((f) => f.type)).toEqual(['long', 'double']);
    expect(await lake.scan(t, { orderBy: 'id', columns: ['id', 'n', 'x'] })).toEqual([
      { id: 1, n: 7, x: 0.5 }, { id: 2, n: null, x: null }, { id: 3, n: 2 ** 40, x: 0.1 },
    ]);
    // Narrowing back is a layout change.
    const back = await lake.write(t, { kind: 'rows', rows: [{ id: 4, seq: 1, n: 1 }] }, { ...upsert, columns: { n: 'INTEGER' } }).catch((e) => e);
    expect(back.message).toContain('columns.n BIGINT → INTEGER');
    // A partition column that has held only NULLs (a placeholder) takes a declaration as its first value would.
    const p = tempDir();
    await lake.write(p, { kind: 'rows', rows: [{ id: 1, seq: 1, day: null }] }, { ...upsert, partitionBy: ['day'] });
    await lake.write(p, { kind: 'rows', rows: [{ id: 2, seq: 1, day: '2026-01-02' }] }, { ...upsert, partitionBy: ['day'], columns: { day: 'DATE' } });
    expect((await lake.snapshot(p)).schema.find((f) => f.name === 'day')).toMatchObject({ type: 'date', metadata: {} });
    expect(await lake.scan(p, { orderBy: 'id', columns: ['id', 'day'] })).toEqual([{ id: 1, day: null }, { id: 2, day: '2026-01-02' }]);
  });

  test('a key column computed by another expression is a layout change; the rebuild computes the keys again', async () => {
    const t = tempDir();
    const derive = (day: string) => [{ column: 'd0', sql: 'CAST(ts AS DATE)' }, { column: 'day', sql: day }, { column: 'note', sql: "'x'" }];
    const keyed = (day: string, note = "'x'"): WriteOptions => ({ ...upsert, mergeKeys: ['day'], derive: derive(day).map((d) => (d.column === 'note' ? { ...d, sql: note } : d)) });
    await lake.write(t, { kind: 'rows', rows: [{ seq: 1, ts: '2026-03-01T10:00:00Z' }, { seq: 2, ts: '2026-03-02T10:00:00Z' }] }, keyed('d0'));
    expect((await lake.snapshot(t)).configuration['pipeline.keyDerive']).toBe(JSON.stringify({ d0: 'CAST(ts AS DATE)', day: 'd0' }));
    // Another expression for a column the keys are not computed from, or the same one spaced otherwise, is not a change.
    expect((await lake.write(t, { kind: 'rows', rows: [{ seq: 3, ts: '2026-03-02T11:00:00Z' }] }, keyed('  d0 ', "'y'"))).status).toBe('committed');
    const shifted = keyed('d0 - INTERVAL 1 DAY');
    const refused = await lake.write(t, { kind: 'rows', rows: [{ seq: 4, ts: '2026-03-02T12:00:00Z' }] }, shifted).catch((e) => e);
    expect(refused.code).toBe('PIPE_LAKE_LAYOUT_CHANGED');
    expect(refused.message).toContain('derive.day d0 → d0 - INTERVAL 1 DAY');
    expect((await lake.rebuildTable(t, shifted)).changes).toEqual(['derive.day d0 → d0 - INTERVAL 1 DAY']);
    expect(await lake.scan(t, { orderBy: 'seq', columns: ['seq', 'day'] })).toEqual([{ seq: 1, day: '2026-02-28' }, { seq: 3, day: '2026-03-01' }]);
    expect((await lake.write(t, { kind: 'rows', rows: [{ seq: 4, ts: '2026-03-02T12:00:00Z' }] }, shifted)).status).toBe('committed');
  });

  test('rebuildTable converts stored values to a changed declared type exactly, or changes nothing', async () => {
    const t = tempDir();
    await lake.createTable(t, [{ name: 'id', type: 'BIGINT', nullable: false }, { name: 'seq', type: 'BIGINT', nullable: true }, { name: 'amount', type: 'DECIMAL(10,2)', nullable: true }]);
    const priced: WriteOptions = { ...upsert, columns: { amount: 'DECIMAL(10,2)' } };
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, seq: 1, amount: '1.25' }, { id: 2, seq: 1, amount: '3' }] }, priced);
    const wider: WriteOptions = { ...priced, columns: { amount: 'DECIMAL(12,4)' } };
    expect((await lake.rebuildTable(t, wider)).changes).toEqual(['columns.amount DECIMAL(10,2) → DECIMAL(12,4)']);
    const after = await lake.snapshot(t);
    expect(after.schema.find((f) => f.name === 'amount')!.type).toBe('decimal(12,4)');
    expect(after.schema.find((f) => f.name === 'id')!.nullable).toBe(false);
    await lake.write(t, { kind: 'rows', rows: [{ id: 3, seq: 1, amount: '0.0625' }] }, wider);
    expect(await lake.scan(t, { orderBy: 'id', columns: ['id', 'amount'] })).toEqual([
      { id: 1, amount: '1.2500' }, { id: 2, amount: '3.0000' }, { id: 3, amount: '0.0625' },
    ]);
    // 0.0625 has no exact DECIMAL(12,2): the rebuild stops and the table stays as it was.
    const narrower = await lake.rebuildTable(t, { ...priced, columns: { amount: 'DECIMAL(12,2)' } }).catch((e) => e);
    expect(narrower.code).toBe('PIPE_LAKE_LAYOUT_CONVERT');
    expect(narrower.message).toContain('1 stored row(s) do not convert to the new layout (columns.amount DECIMAL(12,4) → DECIMAL(12,2))');
    expect((await lake.snapshot(t)).version).toBe(after.version + 1);
  });

  test('rebuildTable keeps each tombstone a delete: copied as it is, merged as a delete whatever deleteWhen now says, or its key gone', async () => {
    const cdc: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: "op = 'd'", pinLayout: true };
    const history = [{ id: 1, seq: 1, op: 'u', r: 'x' }, { id: 2, seq: 1, op: 'u', r: 'x' }, { id: 2, seq: 2, op: 'd', r: 'x' }];
    const live = async (t: string) => (await lake.scan(t, { orderBy: 'id', columns: ['id', 'seq', TOMBSTONE] })).map((r) => [r.id, r.seq, r[TOMBSTONE]]);
    const stale = { kind: 'rows' as const, rows: [{ id: 2, seq: 1, op: 'u', r: 'x' }] };
    // Only the partition columns change: the rows are copied, tombstones with them.
    const copied = tempDir();
    await lake.write(copied, { kind: 'rows', rows: history }, cdc);
    expect((await lake.rebuildTable(copied, { ...cdc, partitionBy: ['r'] })).changes).toEqual(['partitionBy [] → [r]']);
    expect(await live(copied)).toEqual([[1, 1, false], [2, 2, true]]);
    expect((await lake.write(copied, stale, { ...cdc, partitionBy: ['r'] })).rowsInserted).toBe(0);
    // New keys and a deleteWhen the stored tombstone no longer matches: it stays a tombstone.
    const rekeyed = tempDir();
    await lake.write(rekeyed, { kind: 'rows', rows: history }, cdc);
    const next = { ...cdc, mergeKeys: ['id', 'r'], deleteWhen: "op = 'D'" };
    expect((await lake.rebuildTable(rekeyed, next)).changes).toContain('mergeKeys [id] → [id, r]');
    expect(await live(rekeyed)).toEqual([[1, 1, false], [2, 2, true]]);
    expect((await lake.write(rekeyed, stale, next)).rowsInserted).toBe(0);
    // New keys and no deleteWhen: the table keeps no tombstones, so the deleted key is gone (not back as a row).
    const dropped = tempDir();
    await lake.write(dropped, { kind: 'rows', rows: history }, cdc);
    const { deleteWhen: _d, ...noDeletes } = next;
    expect((await lake.rebuildTable(dropped, noDeletes)).rows).toBe(2);
    expect(await lake.scan(dropped, { orderBy: 'id', columns: ['id', 'seq', 'op'] })).toEqual([{ id: 1, seq: 1, op: 'u' }]);
    expect((await lake.snapshot(dropped)).schema.map((f) => f.name)).not.toContain(TOMBSTONE);
    // An append table holds no deletes: the deleted key is not among its rows.
    const appended = tempDir();
    await lake.write(appended, { kind: 'rows', rows: history }, cdc);
    expect((await lake.rebuildTable(appended, { mode: 'append', pinLayout: true })).changes).toContain('mode upsert → append');
    expect(await lake.scan(appended, { orderBy: 'id', columns: ['id', 'seq'] })).toEqual([{ id: 1, seq: 1 }]);
  });

  test('rebuildTable keeps the stored rows a where or an expectation of the spec would now leave out', async () => {
    const t = tempDir();
    await lake.write(t, { kind: 'rows', rows }, upsert);
    const r = await lake.rebuildTable(t, { ...upsert, mergeKeys: ['id', 'region'], where: "region = 'eu'", expectations: [{ name: 'us_only', sql: "region = 'us'", action: 'drop' }] });
    expect(r.rows).toBe(2);
    expect(await lake.scan(t, { orderBy: 'id', columns: ['id', 'region'] })).toEqual([{ id: 1, region: 'eu' }, { id: 2, region: 'us' }]);
  });

  test('rebuildTable keeps what the schema says of each column: NOT NULL, field metadata, the type marks', async () => {
    const t = tempDir();
    await lake.createTable(t, [{ name: 'id', type: 'BIGINT', nullable: false }, { name: 'seq', type: 'BIGINT', nullable: true }, { name: 'region', type: 'VARCHAR', nullable: true }]);
    // A column comment, stored the way Spark stores one.
    const entry = readLogEntry(t, 0);
    const md = entry.find((a) => a.metaData)!.metaData;
    const schema = JSON.parse(md.schemaString);
    schema.fields[2].metadata = { comment: 'where the order ships' };
    md.schemaString = JSON.stringify(schema);
    fs.writeFileSync(path.join(t, '_delta_log', '00000000000000000000.json'), entry.map((a) => JSON.stringify(a)).join('\n') + '\n');
    const fresh = await Lake.create({ threads: 1 });
    try {
      const upsert: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' };
      // f received an integer beyond 2^53 that no row keeps (a newer record replaced it).
      await fresh.write(t, { kind: 'rows', rows: [{ id: 1, seq: 1, region: 'eu', f: 9007199254740993n }] }, upsert);
      await fresh.write(t, { kind: 'rows', rows: [{ id: 1, seq: 2, region: 'eu', f: 1 }] }, upsert);
      const before = (await fresh.snapshot(t)).schema;
      expect(before.find((f) => f.name === 'f')!.metadata).toEqual({ 'pipeline.unsafeIntegers': true });
      await fresh.rebuildTable(t, { ...upsert, partitionBy: ['region'] });
      const after = await fresh.snapshot(t);
      expect(after.partitionColumns).toEqual(['region']);
      expect(after.schema).toEqual(before);
      // The mark still decides: a fraction makes f text, as in a table never rebuilt.
      await fresh.write(t, { kind: 'rows', rows: [{ id: 2, seq: 1, region: 'us', f: 0.25 }] }, { ...upsert, partitionBy: ['region'] });
      expect(await fresh.scan(t, { orderBy: 'id', columns: ['id', 'f'] })).toEqual([{ id: 1, f: '1' }, { id: 2, f: '0.25' }]);
      const nullId = await fresh.write(t, { kind: 'rows', rows: [{ id: null, seq: 3, region: 'us' }] }, { ...upsert, partitionBy: ['region'] }).catch((e) => e);
      expect(nullId.code).toBe('PIPE_LAKE_CONSTRAINT');
    } finally {
      fresh.close();
    }
  });
});

describe('table API', () => {
  test('NOT NULL columns and delta.invariants are enforced before anything is written', async () => {
    const t = tempDir();
    await lake.createTable(t, [{ name: 'id', type: 'BIGINT', nullable: false }, { name: 'qty', type: 'INTEGER', nullable: true }]);
    // Give qty an invariant the way Spark stores it in the schema's field metadata.
    const entry = readLogEntry(t, 0);
    const md = entry.find((a) => a.metaData)!.metaData;
    const schema = JSON.parse(md.schemaString);
    schema.fields[1].metadata = { 'delta.invariants': JSON.stringify({ expression: { expression: 'qty > 0' } }) };
    md.schemaString = JSON.stringify(schema);
    fs.writeFileSync(path.join(t, '_delta_log', '00000000000000000000.json'), entry.map((a) => JSON.stringify(a)).join('\n') + '\n');
    const fresh = await Lake.create({ threads: 1 });
    try {
      const nullId = await fresh.write(t, { kind: 'rows', rows: [{ id: null, qty: 1 }] }, { mode: 'append' }).catch((e) => e);
      expect(nullId.code).toBe('PIPE_LAKE_CONSTRAINT');
      const badQty = await fresh.write(t, { kind: 'rows', rows: [{ id: 1, qty: 0 }] }, { mode: 'append' }).catch((e) => e);
      expect(badQty.message).toContain('qty > 0');
      expect(fs.readdirSync(t).filter((n) => n.endsWith('.parquet'))).toEqual([]);
      expect((await fresh.write(t, { kind: 'rows', rows: [{ id: 1, qty: 2 }] }, { mode: 'append' })).version).toBe(1);
    } finally {
      fresh.close();
    }
  });

  test('a table folder deleted and written again is not confused with its cached past', async () => {
    const t = tempDir();
    await lake.write(t, { kind: 'rows', rows: [{ id: 1 }] }, { mode: 'append' });
    await lake.write(t, { kind: 'rows', rows: [{ id: 2 }] }, { mode: 'append' });
    fs.rmSync(t, { recursive: true });
    expect(await lake.exists(t)).toBe(false);
    const r = await lake.write(t, { kind: 'rows', rows: [{ id: 3 }] }, { mode: 'append' });
    expect(r.version).toBe(0);
    expect(await lake.scan(t)).toEqual([{ id: 3 }]);
  });

  test('a write without rows commits its txn and marks only when told to, and only to an existing table', async () => {
    const t = tempDir();
    const opts: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', txn: { appId: 'r/0', version: 5 }, marks: [{ appId: 'r/1', version: 7 }] };
    expect((await lake.write(t, { kind: 'rows', rows: [] }, { ...opts, commitEmpty: true })).status).toBe('empty');
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, seq: 1 }] }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' });
    expect((await lake.write(t, { kind: 'rows', rows: [] }, opts)).status).toBe('empty');
    const w = await lake.write(t, { kind: 'rows', rows: [] }, { ...opts, commitEmpty: true });
    expect(w).toMatchObject({ status: 'committed', version: 1 });
    expect(readLogEntry(t, 1).filter((a) => a.txn).map((a) => [a.txn.appId, a.txn.version])).toEqual([['r/0', 5], ['r/1', 7]]);
    expect(readLogEntry(t, 1).some((a) => a.add || a.remove || a.metaData)).toBe(false);
    expect((await lake.snapshot(t)).txns).toEqual({ 'r/0': 5, 'r/1': 7 });
    expect((await lake.write(t, { kind: 'rows', rows: [] }, { ...opts, commitEmpty: true })).status).toBe('already-committed');
    expect(await lake.scan(t)).toEqual([{ id: 1, seq: 1 }]);
  });

  test('a table folder replaced behind the cache by one with more versions is read as the new table', async () => {
    const t = tempDir();
    const upsert: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' };
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, seq: 1, v: 'old' }] }, upsert);
    await lake.write(t, { kind: 'rows', rows: [{ id: 2, seq: 1, v: 'old' }] }, upsert);
    expect((await lake.snapshot(t)).version).toBe(1);
    // Another writer moves the table aside and builds a new one at the same path, further along.
    fs.renameSync(t, `${t}-old`);
    const other = await Lake.create({ threads: 1 });
    try {
      for (const id of [7, 8, 9, 10]) await other.write(t, { kind: 'rows', rows: [{ id, seq: 1, v: 'new' }] }, upsert);
    } finally {
      other.close();
    }
    const expected = [7, 8, 9, 10].map((id) => ({ id, seq: 1, v: 'new' }));
    expect(sortBy(await lake.scan(t), 'id')).toEqual(expected);
    const w = await lake.write(t, { kind: 'rows', rows: [{ id: 7, seq: 2, v: 'newer' }] }, upsert);
    expect(w).toMatchObject({ version: 4, rowsUpdated: 1, rowsInserted: 0 });
    expect(sortBy(await lake.scan(t), 'id')).toEqual([{ id: 7, seq: 2, v: 'newer' }, ...expected.slice(1)]);
  });

  test('tables needing a newer protocol or unknown table features are refused', async () => {
    const t = tempDir();
    await lake.createTable(t, [{ name: 'id', type: 'BIGINT', nullable: true }]);
    fs.writeFileSync(path.join(t, '_delta_log', '00000000000000000001.json'), JSON.stringify({ protocol: { minReaderVersion: 4, minWriterVersion: 7 } }) + '\n');
    const err = await lake.snapshot(t).catch((e) => e);
    expect(err.code).toBe('PIPE_LAKE_PROTOCOL');
    // Reader 3 / writer 7 is read when every listed feature is one this lake knows.
    const f = tempDir();
    await lake.createTable(f, [{ name: 'id', type: 'BIGINT', nullable: true }]);
    const features = { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors', 'columnMapping'], writerFeatures: ['deletionVectors', 'columnMapping'] };
    fs.writeFileSync(path.join(f, '_delta_log', '00000000000000000001.json'), JSON.stringify({ protocol: features }) + '\n');
    const refused = await lake.snapshot(f).catch((e) => e);
    expect(refused.code).toBe('PIPE_LAKE_PROTOCOL');
    expect(refused.message).toContain('columnMapping');
  });

  test('history, scanSql and createTable of an existing table', async () => {
    const t = tempDir();
    await lake.createTable(t, [{ name: 'id', type: 'BIGINT', nullable: true }, { name: 'at', type: 'TIMESTAMP', nullable: true }], { partitionBy: ['id'], name: 'events' });
    expect((await lake.columns(t))[1]).toEqual({ name: 'at', type: 'TIMESTAMPTZ', nullable: true });
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, at: '2024-05-06T07:08:09Z' }, { id: 2, at: null }] }, { mode: 'append', operationParameters: { batchId: 3 } });
    const history = await lake.history(t);
    expect(history.map((h) => [h.version, h.operation])).toEqual([[1, 'WRITE'], [0, 'CREATE TABLE']]);
    expect(history[0]!.operationParameters).toMatchObject({ mode: 'append', batchId: 3 });
    expect((await lake.history(t, { limit: 1 })).map((h) => h.version)).toEqual([1]);
    expect(history[0]!.operationMetrics).toMatchObject({ numTargetRowsInserted: 2, numAddedFiles: 2 });
    const sql = await lake.scanSql(t);
    const c = await plain.connect();
    try {
      await c.run(`SET TimeZone='UTC'`);
      const rows = (await c.runAndReadAll(`SELECT id, "at" FROM ${sql} ORDER BY id`)).getRowObjects().map((r) => ({ id: toPlain(r.id!), at: toPlain(r.at!) }));
      expect(rows).toEqual([{ id: 1, at: '2024-05-06T07:08:09.000Z' }, { id: 2, at: null }]);
    } finally {
      c.closeSync();
    }
    expect((await lake.snapshot(t)).files.map((f) => f.partitionValues).sort((a, b) => String(a.id).localeCompare(String(b.id)))).toEqual([{ id: '1' }, { id: '2' }]);
    const again = await lake.createTable(t, [{ name: 'id', type: 'BIGINT', nullable: true }]).catch((e) => e);
    expect(again.code).toBe('PIPE_LAKE_TABLE_EXISTS');
  });
});
