/**
 * Messy real-world JSON through `pipeline run` against the test broker and real DuckDB: one
 * case per way values used to be lost or corrupted silently (a column typed by the first
 * batch, case-variant keys, sparse keys, numeric strings in sequenceBy, big integers in
 * pretty-printed values, a deleteWhen column absent from early batches, numbers into a
 * declared VARCHAR, an escape spelling half a surrogate pair, a field with no name, named
 * __proto__ or holding NUL in its name, a number beyond DOUBLE, partition values too long for a
 * folder name or holding NUL, a partition column spelled another way). The same records run with one
 * record per batch and with one batch for everything must leave identical tables. Records past a
 * table's column limit stop the run whole rather than being refused one by one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeRecordFile } from '../../src/dev-broker/broker.js';
import { Lake } from '../../src/lake/index.js';
import { E2E_TIMEOUT, runAvailableNow } from '../support/cli.js';
import { useTestBroker } from '../support/broker.js';
import { tempDirs } from '../support/temp-dirs.js';

const broker = useTestBroker([{ name: 'messy', partitions: 1 }, { name: 'dirty', partitions: 1 }, { name: 'wide', partitions: 2 }]);
const tempDir = tempDirs('messy-');

const SPARSE_KEYS = 150;

/** The records, in topic order. Values are raw text: some are pretty-printed on purpose. */
function messyRecords(): string[] {
  const r: string[] = [];
  const j = (o: Record<string, unknown>) => JSON.stringify(o);
  // metrics (append): integers first, a fraction later; a column only null at first; a
  // mostly-integer column whose first values are strings.
  r.push(j({ t: 'metric', n: 1, later: null, mostly: 'n/a' }), j({ t: 'metric', n: 2, later: null, mostly: 'n/a' }));
  for (let i = 0; i < 6; i++) r.push(j({ t: 'metric', n: 3 + i, later: i, mostly: 100 + i }));
  r.push(j({ t: 'metric', n: 10.5, later: 'x', mostly: 200 }));
  // customers (upsert): case-variant keys, and one record carrying two spellings of one key.
  r.push(j({ t: 'customer', id: 'c1', seq: 1, customerId: 'k-1' }));
  r.push(j({ t: 'customer', ID: 'c1', seq: 2, customerID: 'k-2' }));
  r.push(j({ t: 'customer', id: 'c2', seq: 1, customerId: 'k-3' }));
  r.push(j({ t: 'customer', id: 'c3', ID: 'c3b', seq: 1 }));
  // customers: a field named like the source-position column the upsert sets itself, or like
  // the columns loading and merging use (rowid, __lake_*), fails alone (a batch holding one
  // used to lose its other records without a trace).
  r.push(j({ t: 'customer', id: 'c4', seq: 1, __source_offset: 0 }), j({ t: 'customer', id: 'c5', seq: 1, rowid: 0 }), j({ t: 'customer', id: 'c6', seq: 1, __lake_delete: true }));
  // sparse (append): 150 distinct optional keys, three per record.
  for (let i = 0; i < SPARSE_KEYS / 3; i++) r.push(j({ t: 'sparse', row: i, [`k${3 * i}`]: i, [`k${3 * i + 1}`]: `v${i}`, [`k${3 * i + 2}`]: i % 2 === 0 }));
  // seqs (upsert): a numeric string in sequenceBy fails its record only; 12 beats 9.
  r.push(j({ t: 'seq', id: 's', seq: 9, v: 'nine' }), j({ t: 'seq', id: 's', seq: '1', v: 'string one' }), j({ t: 'seq', id: 's', seq: 12, v: 'twelve' }));
  // big (upsert): pretty-printed records whose keys differ beyond 2^53.
  r.push('{\n  "t": "big",\n  "id": 9007199254740993,\n  "seq": 1\n}', '{\n  "t": "big",\n  "id": 9007199254740992,\n  "seq": 1\n}');
  // cdc (upsert, deleteWhen op = 'd'): `op` appears only in the last record.
  r.push(j({ t: 'cdc', id: 'a', seq: 1, v: 1 }), j({ t: 'cdc', id: 'b', seq: 1, v: 2 }), j({ t: 'cdc', id: 'a', seq: 2, op: 'd' }));
  // texts (append, note declared VARCHAR): numbers stored as text.
  r.push(j({ t: 'text', i: 1, note: 42 }), j({ t: 'text', i: 2, note: 'hello' }), j({ t: 'text', i: 3, note: 2.5 }));
  // texts: an escape spelling half a surrogate pair fails its record alone (it used to fail the
  // batch file in DuckDB on every replay); an escaped pair is text like any other.
  r.push('{"t":"text","i":4,"note":"x\\ud800y"}', '{"t":"text","i":5,"note":"\\ud83d\\ude00"}');
  // texts: a field named __proto__ is a column like any other; a field with no name, and a
  // number beyond DOUBLE (into the declared VARCHAR or a new column), fail their record.
  r.push('{"t":"text","i":6,"__proto__":"kept"}', '{"t":"text","i":7,"":"no name"}', '{"t":"text","i":8,"note":1e400}', '{"t":"text","i":9,"n":-1e400}');
  // texts: NUL in a field's name fails its record (DuckDB's parser ends the name there); NUL in a value is kept.
  r.push('{"t":"text","i":10,"no\\u0000te":1}', '{"t":"text","i":11,"note":"a\\u0000b"}');
  // parts (append, partitionBy p): a value too long for a folder name, and one holding NUL,
  // used to fail the table's whole batch on every replay.
  // parts: first, the partition column spelled another way (the table was created with a column
  // the write then could not find: its batch failed on every replay).
  r.push(j({ t: 'part', n: 0, P: 'upper' }));
  r.push(j({ t: 'part', n: 1, p: 'z'.repeat(300) }), j({ t: 'part', n: 2, p: 'nul\u0000' }), j({ t: 'part', n: 3, p: 'ok' }));
  // parts: an empty partition value, which every Delta reader reads as NULL, fails its record.
  r.push(j({ t: 'part', n: 4, p: '' }));
  return r;
}

function writeSpec(dir: string, topic: string, maxRecordsPerBatch: number): string {
  const spec = `apiVersion: pipeline/v1
name: messy
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: ${topic} }
streams: 1
trigger: { interval: 200ms, maxRecordsPerBatch: ${maxRecordsPerBatch} }
routing:
  field: t
  routes: { metric: metrics, customer: customers, sparse: sparse, seq: seqs, big: big, cdc: cdc, text: texts, part: parts }
tables:
  metrics: { mode: append }
  customers: { mergeKeys: [id], sequenceBy: seq, columns: { customerId: VARCHAR } }
  sparse: { mode: append }
  seqs: { mergeKeys: [id], sequenceBy: seq }
  big: { mergeKeys: [id], sequenceBy: seq }
  cdc: { mergeKeys: [id], sequenceBy: seq, deleteWhen: "op = 'd'" }
  texts: { mode: append, columns: { note: VARCHAR } }
  parts: { mode: append, partitionBy: [p] }
deadLetter: { table: _dead_letter }
output: { path: ${join(dir, 'lake')} }
`;
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, spec);
  return file;
}

async function readAll(dir: string): Promise<{ types: Record<string, string[]>; rows: Record<string, Record<string, unknown>[]> }> {
  const lake = await Lake.create({ threads: 1 });
  const types: Record<string, string[]> = {};
  const rows: Record<string, Record<string, unknown>[]> = {};
  try {
    for (const t of ['metrics', 'customers', 'sparse', 'seqs', 'big', 'cdc', 'texts', 'parts', 'wide', '_dead_letter']) {
      const path = join(dir, 'lake', t);
      if (!(await lake.exists(path))) continue;
      types[t] = (await lake.columns(path)).map((c) => `${c.name}:${c.type}`).sort();
      const all = await lake.scan(path);
      rows[t] = (t === '_dead_letter' ? all.map(({ offset, stage, error }) => ({ offset, stage, error })) : all).sort((a, b) =>
        JSON.stringify(a, replacer) < JSON.stringify(b, replacer) ? -1 : 1,
      );
    }
  } finally {
    lake.close();
  }
  return { types, rows };
}

const replacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

describe('messy values through pipeline run', () => {
  it('loses nothing, and one record per batch gives the same tables as one batch', async () => {
    const records = messyRecords();
    const file = join(tempDir(), 'records.bin');
    await writeRecordFile(file, records.map((value, i) => ({ key: `k${i}`, value, timestamp: 1_700_000_000_000 + i })));
    expect(await broker.produceFile('messy', file)).toBe(records.length);

    const cut = tempDir();
    const run1 = await runAvailableNow(writeSpec(cut, 'messy', 1), cut);
    expect(run1.code, run1.stderr.slice(-2000)).toBe(0);
    const whole = tempDir();
    const run2 = await runAvailableNow(writeSpec(whole, 'messy', 100_000), whole);
    expect(run2.code, run2.stderr.slice(-2000)).toBe(0);
    expect(run1.summary!.records).toBe(records.length);

    const a = await readAll(cut);
    const b = await readAll(whole);
    expect(a).toEqual(b);

    // First-batch type locking: the column type is the join of every value's kind.
    expect(a.types.metrics).toEqual(['later:VARCHAR', 'mostly:VARCHAR', 'n:DOUBLE', 't:VARCHAR']);
    expect(a.rows.metrics!.map((r) => r.n).sort()).toEqual([1, 10.5, 2, 3, 4, 5, 6, 7, 8]);
    expect(a.rows.metrics!.filter((r) => r.mostly !== 'n/a').map((r) => r.mostly).sort()).toEqual(['100', '101', '102', '103', '104', '105', '200']);
    // Case-variant keys: one column per name; the record with two spellings is dead-lettered.
    // Rows keep their record's Kafka position (sequenceBy ties): partition 0, offsets 10 and 11.
    expect(a.types.customers).toEqual(['__source_offset:BIGINT', '__source_partition:INTEGER', 'customerId:VARCHAR', 'id:VARCHAR', 'seq:BIGINT', 't:VARCHAR']);
    expect(a.rows.customers).toEqual([
      { t: 'customer', id: 'c1', seq: 2, customerId: 'k-2', __source_partition: 0, __source_offset: 10 },
      { t: 'customer', id: 'c2', seq: 1, customerId: 'k-3', __source_partition: 0, __source_offset: 11 },
    ]);
    // Sparse keys: every key is a column of its own, no MAP, no value lost.
    expect(a.types.sparse).toHaveLength(SPARSE_KEYS + 2);
    expect(a.rows.sparse!.find((r) => r.row === 7)).toMatchObject({ k21: 7, k22: 'v7', k23: false });
    // sequenceBy stays numeric: 12 wins over 9; the numeric string fails alone.
    expect(a.rows.seqs!.map(({ __source_partition: _p, __source_offset: _o, ...r }) => r)).toEqual([{ t: 'seq', id: 's', seq: 12, v: 'twelve' }]);
    // Big integers of pretty-printed values stay exact: two keys, two rows.
    expect(a.rows.big!.map((r) => String(r.id)).sort()).toEqual(['9007199254740992', '9007199254740993']);
    // deleteWhen over a column the early batches lack: no stall; the delete applies.
    expect(a.rows.cdc!.filter((r) => r.__is_deleted !== true).map((r) => r.id)).toEqual(['b']);
    expect(a.rows.cdc!.filter((r) => r.__is_deleted === true).map((r) => r.id)).toEqual(['a']);
    // Numbers into a declared VARCHAR column are stored as text.
    expect(a.rows.texts!.map((r) => r.note)).toEqual(['42', 'a\u0000b', 'hello', '2.5', '\u{1F600}', null]);
    expect(a.types.texts).toEqual(['__proto__:VARCHAR', 'i:BIGINT', 'note:VARCHAR', 't:VARCHAR']);
    expect(Object.entries(a.rows.texts!.find((r) => r.i === 6)!)).toContainEqual(['__proto__', 'kept']);
    // Partition values too long for a folder name, or holding NUL, are stored like any other.
    expect(a.rows.parts!.map((r) => [r.n, r.p])).toEqual([[0, 'upper'], [1, 'z'.repeat(300)], [2, 'nul\u0000'], [3, 'ok']]);
    expect(a.types.parts).toEqual(['n:BIGINT', 'p:VARCHAR', 't:VARCHAR']);
    // Everything else is in the dead-letter table, with its reason.
    expect(a.rows._dead_letter!.map((r) => r.error).sort()).toEqual([
      'a field has an empty name; a column needs one',
      "field '__lake_delete' is reserved: names starting with __lake_ are the lake's own working columns",
      "field '__source_offset' is reserved: the table sets it itself (the Kafka position that breaks sequence ties)",
      "field 'n' holds a number beyond the range of DOUBLE (about ±1.8e308)",
      "field 'no\\u0000te' has a NUL character (U+0000) in its name, which a column name cannot hold",
      "field 'note' holds a number beyond the range of DOUBLE (about ±1.8e308)",
      "field 'note' holds an unpaired UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text",
      "field 'rowid' is reserved: DuckDB numbers the rows of every table as 'rowid', and loading a batch relies on it",
      "fields 'id' and 'ID' differ only by case; column names are case-insensitive",
      "sequenceBy field 'seq' must be a number (got string); declare its type under columns to sequence by text or time",
      "table 'parts': partition column p holds the empty string, which Delta reads as NULL",
    ]);
  }, E2E_TIMEOUT);

  it('stops at the column limit of a table with a coded error naming the new fields; raised, the next run stores everything', async () => {
    // Twelve records (keyed over two partitions), each with a field of its own: 2 + 12 columns.
    const records = Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ t: 'wide', i, [`f${i}`]: i }) }));
    const file = join(tempDir(), 'wide.bin');
    await writeRecordFile(file, records);
    await broker.produceFile('wide', file);
    const dir = tempDir();
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, `apiVersion: pipeline/v1
name: wide
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: wide }
streams: 2
trigger: { interval: 200ms, maxRecordsPerBatch: 1 }
routing: { field: t, routes: { wide: wide } }
tables:
  wide: { mode: append, maxColumns: 10 }
output: { path: ${join(dir, 'lake')} }
`);
    const stopped = await runAvailableNow(spec, dir);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/PIPE_LAKE_MAX_COLUMNS stream \d: table \S+\/wide: this batch would give it 11 columns, more than maxColumns \(10\); its new fields: f\d+/);
    expect(stopped.stderr).toMatch(/\(raise tables\.wide\.maxColumns \(up to 10,000\)/);
    // Nothing refused record by record: no dead-letter table, and what was stored is whole.
    const before = await readAll(dir);
    expect(before.rows._dead_letter ?? []).toEqual([]);
    expect(before.rows.wide!.length).toBeLessThan(12);
    const done = await runAvailableNow(spec, dir, {}, ['--set', 'tables.wide.maxColumns=20']);
    expect(done.code, done.stderr.slice(-1500)).toBe(0);
    const after = await readAll(dir);
    expect(after.rows.wide!.map((r) => r.i).sort((a, b) => Number(a) - Number(b))).toEqual(records.map((_, i) => i));
    expect(after.types.wide).toHaveLength(14);
  }, E2E_TIMEOUT);

  it('stops with a coded error when most records are dead-lettered, and keeps them', async () => {
    const bad = Array.from({ length: 150 }, (_, i) => (i % 3 === 0 ? JSON.stringify({ t: 'metric', n: i }) : `not json ${i}`));
    const file = join(tempDir(), 'dirty.bin');
    await writeRecordFile(file, bad.map((value, i) => ({ key: `k${i}`, value })));
    await broker.produceFile('dirty', file);
    const dir = tempDir();
    const run = await runAvailableNow(writeSpec(dir, 'dirty', 1000), dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/PIPE_RUN_DEAD_LETTER_LIMIT/);
    expect(run.stderr).toMatch(/100 records went to the dead-letter table, more than deadLetter\.maxRatio \(0\.5\) of 150 records; top reasons: 100 × decode: invalid JSON: Unexpected token 'o'/);
    expect(run.summary).toMatchObject({ status: 'failed', records: 150, deadLettered: 100 });
    const { rows } = await readAll(dir);
    expect(rows._dead_letter).toHaveLength(100);
    expect(rows.metrics).toHaveLength(50);
  }, E2E_TIMEOUT);
});
