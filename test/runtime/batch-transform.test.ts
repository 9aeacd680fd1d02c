import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packValues, transformBatch } from '../../src/runtime/batch-transform.js';
import { decodeJsonValue } from '../../src/operators/decode-json.js';
import { routeRecord } from '../../src/operators/route.js';
import { TableShaper } from '../../src/operators/table-shape.js';
import { graphOf } from './graph-fixture.js';
import { Kind } from '../../src/lake/type-lattice.js';
import { deadLetterRow } from '../../src/operators/sink-dead-letter.js';
import type { RoutingRules, TableRules } from '../../src/operators/api.js';

const dir = mkdtempSync(join(tmpdir(), 'transform-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const routing: RoutingRules = { field: 'event_type', routes: { order: 'orders', click: 'clicks' }, unmatched: 'dead_letter' };
const orders: TableRules = { table: 'orders', mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', columns: { id: 'VARCHAR', seq: 'BIGINT', amount: 'DOUBLE', tags: 'VARCHAR[]' } };
const shape = (record: Record<string, unknown>, rules = orders) => new TableShaper(rules).shape(record);
const clicks: TableRules = { table: 'clicks', mode: 'append', mergeKeys: [], columns: {} };

describe('decode-json', () => {
  it('accepts UTF-8 JSON objects and names what is wrong otherwise', () => {
    const ok = decodeJsonValue(Buffer.from('{"a":"é"}'));
    expect(ok).toEqual({ ok: true, value: { a: 'é' }, lossless: false });
    expect(decodeJsonValue(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]))).toEqual({ ok: false, error: 'value is not valid UTF-8' });
    expect(decodeJsonValue(Buffer.from('{"a":'))).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid JSON: /) });
    // Bare NaN and ±Infinity (Python's json module writes them) are named.
    expect(decodeJsonValue(Buffer.from('{"a": NaN, "b": 1}'))).toEqual({ ok: false, error: 'invalid JSON: it holds NaN, which JSON cannot spell and no table column can store' });
    expect(decodeJsonValue(Buffer.from('{"a": [1, -Infinity]}'))).toEqual({ ok: false, error: 'invalid JSON: it holds -Infinity, which JSON cannot spell and no table column can store' });
    expect(decodeJsonValue(Buffer.from('{"a": "NaN", "b": oops}'))).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid JSON: Unexpected token 'o'/) });
    expect(decodeJsonValue(Buffer.from('[1,2]'))).toEqual({ ok: false, error: 'value must be a JSON object (got array)' });
    expect(decodeJsonValue(Buffer.from('null'))).toEqual({ ok: false, error: 'value must be a JSON object (got null)' });
    expect(decodeJsonValue(Buffer.alloc(0))).toEqual({ ok: false, error: 'empty value' });
    // A real U+FFFD in valid UTF-8 is fine.
    expect(decodeJsonValue(Buffer.from('{"a":"\uFFFD"}'))).toEqual({ ok: true, value: { a: '\uFFFD' }, lossless: false });
    // Integers beyond 2^53 keep their digits.
    const big = decodeJsonValue(Buffer.from('{"id": 12345678901234567891}'));
    expect(big.ok && big.lossless && String((big.value.id as { value: string }).value)).toBe('12345678901234567891');
  });
});

describe('decode-json: unpaired surrogates', () => {
  const reason = (where: string) => ({ ok: false, error: `${where} holds an unpaired UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text` });
  it('fails a record whose text holds half a surrogate pair, wherever it sits, and keeps pairs and look-alikes', () => {
    expect(decodeJsonValue(Buffer.from('{"a":"x\\ud800y"}'))).toEqual(reason("field 'a'"));
    expect(decodeJsonValue(Buffer.from('{"a":"\\udc00"}'))).toEqual(reason("field 'a'"));
    expect(decodeJsonValue(Buffer.from('{"a":{"b":["ok","\\uDBFF"]}}'))).toEqual(reason("field 'a'"));
    expect(decodeJsonValue(Buffer.from('{"a":{"\\ud800":1}}'))).toEqual(reason("field 'a'"));
    expect(decodeJsonValue(Buffer.from('{"\\ud800":1}'))).toEqual(reason('a field name'));
    // Big integers (exact values) beside it do not hide it.
    expect(decodeJsonValue(Buffer.from('{"id":12345678901234567891,"a":"\\ud800"}'))).toEqual(reason("field 'a'"));
    // A pair (an escaped emoji), an escaped backslash before "ud800", other escapes: text.
    expect(decodeJsonValue(Buffer.from('{"a":"\\ud83d\\ude00"}'))).toEqual({ ok: true, value: { a: '\u{1F600}' }, lossless: false });
    expect(decodeJsonValue(Buffer.from('{"a":"\\\\ud800"}'))).toEqual({ ok: true, value: { a: '\\ud800' }, lossless: false });
    expect(decodeJsonValue(Buffer.from('{"a":"\\u00e9"}'))).toEqual({ ok: true, value: { a: 'é' }, lossless: false });
  });
});

describe('route', () => {
  it('routes by a top-level string field; missing, non-string and unmatched values are failures or drops', () => {
    expect(routeRecord({ event_type: 'order' }, routing)).toEqual({ kind: 'table', table: 'orders' });
    expect(routeRecord({}, routing)).toEqual({ kind: 'failure', error: "routing field 'event_type' is missing" });
    expect(routeRecord({ event_type: 3 }, routing)).toEqual({ kind: 'failure', error: "routing field 'event_type' must be a string (got number)" });
    expect(routeRecord({ event_type: 'refund' }, routing)).toEqual({ kind: 'failure', error: "no route for event_type='refund'" });
    expect(routeRecord({ event_type: 'toString' }, routing).kind).toBe('failure');
    expect(routeRecord({ event_type: 'refund' }, { ...routing, unmatched: 'drop' })).toEqual({ kind: 'drop' });
  });
});

describe('shaping records for a table', () => {
  it('checks merge keys and sequenceBy; values of any kind are accepted and their kinds noted', () => {
    expect(shape({ id: 'a', seq: 1, amount: 2.5 })).toMatchObject({ ok: true, renamed: false });
    expect(shape({ seq: 1 })).toEqual({ ok: false, error: "merge key 'id' is missing" });
    expect(shape({ id: { x: 1 }, seq: 1 })).toEqual({ ok: false, error: "merge key 'id' must be a scalar (got object)" });
    expect(shape({ id: 'a' })).toEqual({ ok: false, error: "sequenceBy field 'seq' is missing" });
    expect(shape({ id: 'a', seq: '1' })).toMatchObject({ ok: false, error: expect.stringMatching(/^sequenceBy field 'seq' must be a number \(got string\)/) });
    // A declared sequence type takes text (the lake converts or rejects it).
    expect(shape({ id: 'a', seq: '2024-01-01' }, { ...orders, declared: ['seq'] })).toMatchObject({ ok: true });
    const shaper = new TableShaper(orders);
    for (const r of [{ id: 'a', seq: 1, amount: '12' }, { id: 'b', seq: 2, amount: 3, extra: [1] }, { id: 'c', seq: 3, amount: null }]) expect(shaper.shape(r).ok).toBe(true);
    expect(shaper.kinds).toEqual({ id: Kind.STRING, seq: Kind.INT, amount: Kind.STRING | Kind.INT | Kind.NULL, extra: Kind.NESTED });
  });

  it('matches keys case-insensitively to the table spelling; two spellings in one record fail naming both', () => {
    const shaper = new TableShaper({ ...orders, columns: { ...orders.columns, customerId: 'VARCHAR' } });
    expect(shaper.shape({ ID: 'a', seq: 1, customerID: 'c1' })).toEqual({ ok: true, renamed: true, record: { id: 'a', seq: 1, customerId: 'c1' } });
    expect(shaper.shape({ id: 'a', ID: 'b', seq: 1 })).toEqual({ ok: false, error: "fields 'id' and 'ID' differ only by case; column names are case-insensitive" });
    expect(shaper.shape({ id: 'b', seq: 2, Note: 'x' })).toMatchObject({ ok: true, renamed: false });
    expect(shaper.shape({ id: 'c', seq: 3, NOTE: 'y' })).toMatchObject({ ok: true, renamed: true, record: { id: 'c', seq: 3, Note: 'y' } });
  });

  it('a record rewritten for the table fails when its text holds a name twice, and spells nothing', () => {
    const shaper = new TableShaper({ table: 't', mode: 'append', mergeKeys: [], columns: { amount: 'DOUBLE' } });
    const text = (json: string) => ({ data: Buffer.from(json), start: 0, end: Buffer.byteLength(json), isNull: false, utf8: true });
    const twice = '{"AMOUNT":1,"Note":"x","AMOUNT":2}';
    expect(shaper.shape(JSON.parse(twice) as Record<string, unknown>, text(twice))).toEqual({
      ok: false, error: "field 'AMOUNT' appears more than once in the record, so which value it means is unknown",
    });
    // A name twice in a nested object, or in a string, is not a top-level name twice.
    const nested = '{"AMOUNT":1,"x":{"a":1,"a":2},"s":"\\",\\"AMOUNT\\":"}';
    expect(shaper.shape(JSON.parse(nested) as Record<string, unknown>, text(nested))).toMatchObject({ ok: true, renamed: true });
    expect(shaper.shape({ note: 'y' })).toEqual({ ok: true, renamed: false, record: { note: 'y' } });
  });

  it('a record that fails gives no column its spelling; integers beyond 64 bits fail', () => {
    const shaper = new TableShaper({ table: 't', mode: 'append', mergeKeys: [], columns: {} });
    expect(shaper.shape({ Amt: 1, '': 2 })).toEqual({ ok: false, error: 'a field has an empty name; a column needs one' });
    expect(shaper.shape({ amt: 1 })).toEqual({ ok: true, renamed: false, record: { amt: 1 } });
    expect(shaper.shape({ AMT: 2 })).toEqual({ ok: true, renamed: true, record: { amt: 2 } });
    expect(shaper.kinds).toEqual({ amt: Kind.INT });
    const big = decodeJsonValue(Buffer.from('{"a": 123456789012345678901234}'));
    expect(big.ok && shaper.shape(big.value)).toEqual({ ok: false, error: "field 'a' holds an integer outside the 64-bit range" });
  });

  it('fails a field with no name or NUL in its name, and a number beyond DOUBLE (declared column or not); keeps a field named __proto__', () => {
    const rules: TableRules = { table: 't', mode: 'append', mergeKeys: [], columns: { d: 'DOUBLE' }, declared: ['d'] };
    const decoded = (text: string) => {
      const r = decodeJsonValue(Buffer.from(text));
      if (!r.ok) throw new Error(r.error);
      return r.value;
    };
    const shaper = new TableShaper(rules);
    expect(shaper.shape(decoded('{"a":1,"":2}'))).toEqual({ ok: false, error: 'a field has an empty name; a column needs one' });
    // DuckDB's parser ends an identifier at NUL: such a name failed its whole batch. The decoder
    // fails the record; NUL in a value, in a nested name, or an escaped backslash before u0000 is kept.
    expect(decodeJsonValue(Buffer.from('{"a":1,"b\\u0000c":2}'))).toEqual({ ok: false, error: "field 'b\\u0000c' has a NUL character (U+0000) in its name, which a column name cannot hold" });
    for (const kept of ['{"x":"b\\u0000c"}', '{"x":{"b\\u0000c":1}}', '{"x\\\\u0000":1}']) expect(new TableShaper(rules).shape(decoded(kept)).ok).toBe(true);
    expect(shaper.shape(decoded('{"x":1e400}'))).toEqual({ ok: false, error: "field 'x' holds a number beyond the range of DOUBLE (about ±1.8e308)" });
    expect(shaper.shape(decoded('{"x":-1e400,"id":9007199254740993}'))).toEqual({ ok: false, error: "field 'x' holds a number beyond the range of DOUBLE (about ±1.8e308)" });
    expect(shaper.shape(decoded('{"D":1e400}'))).toEqual({ ok: false, error: "field 'd' holds a number beyond the range of DOUBLE (about ±1.8e308)" });
    expect(shaper.shape(decoded('{"x":1e308,"y":1e-400}')).ok).toBe(true);
    expect(Object.keys(shaper.kinds).sort()).toEqual(['x', 'y']);
    // JSON.parse makes `__proto__` an own field; it stays one in the kinds and through renaming.
    const protos = new TableShaper({ table: 't', mode: 'append', mergeKeys: [], columns: { a: 'BIGINT' } });
    expect(protos.shape(decoded('{"__proto__":{"p":1},"a":2}'))).toMatchObject({ ok: true, renamed: false });
    const renamed = protos.shape(decoded('{"__PROTO__":3,"A":4}'));
    expect(renamed.ok && renamed.renamed && Object.entries(renamed.record)).toEqual([['__proto__', 3], ['a', 4]]);
    expect(Object.entries(protos.kinds)).toEqual([['__proto__', Kind.NESTED | Kind.INT], ['a', Kind.INT]]);
  });

  it('fails a field named like a column the table sets itself, in any spelling; other tables take the name', () => {
    const scd2: TableRules = { table: 'h', mode: 'scd2', mergeKeys: ['id'], sequenceBy: 'seq', columns: {} };
    expect(shape({ id: 'a', seq: 1, __Start_At: 5 }, scd2)).toEqual({ ok: false, error: "field '__Start_At' is reserved: the table sets it itself (scd2 history)" });
    expect(shape({ id: 'a', seq: 1, __source_offset: 5 })).toEqual({ ok: false, error: "field '__source_offset' is reserved: the table sets it itself (the Kafka position that breaks sequence ties)" });
    const cdc: TableRules = { ...orders, deleteWhen: "op = 'd'" };
    expect(shape({ id: 'a', seq: 1, __IS_DELETED: true }, cdc)).toEqual({ ok: false, error: "field '__IS_DELETED' is reserved: the table sets it itself (deletes kept as tombstones)" });
    // Without deleteWhen an upsert keeps no tombstones; without a sequence, no positions; append sets nothing.
    expect(shape({ id: 'a', seq: 1, __is_deleted: true }).ok).toBe(true);
    expect(shape({ id: 'a', __source_offset: 5 }, { ...orders, sequenceBy: undefined }).ok).toBe(true);
    expect(shape({ __start_at: 1, __source_offset: 2, __is_deleted: false }, clicks).ok).toBe(true);
  });

  it('fails a field named rowid or __lake_*, which the load and the merge use, in every table', () => {
    for (const rules of [orders, clicks]) {
      expect(shape({ id: 'a', seq: 1, RowId: 5 }, rules)).toEqual({ ok: false, error: "field 'RowId' is reserved: DuckDB numbers the rows of every table as 'rowid', and loading a batch relies on it" });
      expect(shape({ id: 'a', seq: 1, __LAKE_delete: true }, rules)).toEqual({ ok: false, error: "field '__LAKE_delete' is reserved: names starting with __lake_ are the lake's own working columns" });
    }
    expect(shape({ id: 'a', seq: 1, rowid2: 1, _lake_x: 1, rowix: 1, __lake: 1 }).ok).toBe(true);
  });
});

describe('transformBatch', () => {
  it('writes each table\'s raw values as NDJSON and reports failures by batch index', () => {
    const values = [
      Buffer.from('{"event_type":"order","id":"o1","seq":1,"amount":1.5}'),
      Buffer.from('{"event_type":"click","id":"c1"}'),
      null,
      Buffer.from('not json'),
      Buffer.from('{"event_type":"refund"}'),
      Buffer.from('{"event_type":"order","seq":2}'),
      Buffer.from('{\n  "event_type": "order",\n  "id": "o2",\n  "seq": 3\n}'),
      Buffer.from('{"event_type":"order","id":"o3","seq":4,  "amount":2}'),
    ];
    const out = transformBatch(packValues(values), { graph: graphOf(routing, { orders, clicks }), tables: { orders, clicks }, outDir: join(dir, 'b1') });
    expect(out.dropped).toBe(0);
    expect(out.failures).toEqual([
      { index: 2, stage: 'decode', error: 'value is null (tombstone)' },
      { index: 3, stage: 'decode', error: expect.stringMatching(/^invalid JSON/) },
      { index: 4, stage: 'route', error: "no route for event_type='refund'" },
      { index: 5, stage: 'validate', error: "merge key 'id' is missing", table: 'orders' },
    ]);
    const byTable = Object.fromEntries(out.tables.map((t) => [t.table, t]));
    expect([...byTable.orders!.indices]).toEqual([0, 6, 7]);
    expect([...byTable.clicks!.indices]).toEqual([1]);
    const lines = readFileSync(byTable.orders!.path, 'utf8').split('\n');
    // Raw bytes are kept as they came (spacing included); a multi-line value becomes one line.
    expect(lines).toEqual([values[0]!.toString(), '{   "event_type": "order",   "id": "o2",   "seq": 3 }', values[7]!.toString(), '']);
    // The kinds of every key of the table's own records (failed records do not count).
    expect(byTable.orders!.kinds).toEqual({ event_type: Kind.STRING, id: Kind.STRING, seq: Kind.INT, amount: Kind.REAL | Kind.INT });
    expect(byTable.clicks!.kinds).toEqual({ event_type: Kind.STRING, id: Kind.STRING });
  });

  it('keeps big integers of pretty-printed values exact, and re-spells only records that need it', () => {
    const values = [
      '{\n "event_type": "order",\n "id": 9007199254740993,\n "seq": 1\n}',
      '{"event_type":"order","ID":9007199254740995,"Seq":2, "note": 1.50}',
    ];
    const out = transformBatch(packValues(values.map((v) => Buffer.from(v))), { graph: graphOf(routing, { orders, clicks }), tables: { orders, clicks }, outDir: join(dir, 'b3') });
    const lines = readFileSync(out.tables[0]!.path, 'utf8').split('\n');
    expect(lines).toEqual(['{  "event_type": "order",  "id": 9007199254740993,  "seq": 1 }', '{"event_type":"order","id":9007199254740995,"seq":2,"note":1.50}', '']);
    expect(out.tables[0]!.kinds).toEqual({ event_type: Kind.STRING, id: Kind.BIGINT, seq: Kind.INT, note: Kind.REAL });
  });

  it('counts unmatched records as dropped under unmatched: drop', () => {
    const out = transformBatch(packValues([Buffer.from('{"event_type":"x"}')]), { graph: graphOf({ ...routing, unmatched: 'drop' }, { orders, clicks }), tables: { orders, clicks }, outDir: join(dir, 'b2') });
    expect(out).toEqual({ tables: [], failures: [], dropped: 1, state: {} });
  });
});

describe('dead-letter rows', () => {
  it('keeps raw bytes as text when UTF-8, else base64, with coordinates', () => {
    const ctx = { topic: 'events', pipeline: 'p', stream: 1, batchId: 7 };
    const bad = Buffer.from([0xff, 0x00, 0x7b]);
    const row = deadLetterRow({ partition: 3, offset: 42, timestamp: 1_700_000_000_000, key: Buffer.from('k1'), value: bad }, 'decode', 'value is not valid UTF-8', ctx);
    expect(row).toEqual({
      topic: 'events', partition: 3, offset: 42, timestamp: '2023-11-14T22:13:20.000Z', key: 'k1', key_encoding: 'utf8',
      value: bad.toString('base64'), value_encoding: 'base64', stage: 'decode', error: 'value is not valid UTF-8', pipeline: 'p', stream: 1, batch_id: 7,
    });
    expect(deadLetterRow({ partition: 0, offset: 1, timestamp: -1, key: null, value: Buffer.from('{}') }, 'route', 'x', ctx)).toMatchObject({ key: null, key_encoding: null, value: '{}', value_encoding: 'utf8', timestamp: null });
  });
});
