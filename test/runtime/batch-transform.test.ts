import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packValues, transformBatch } from '../../src/runtime/batch-transform.js';
import { decodeJsonValue } from '../../src/operators/decode-json.js';
import { routeRecord } from '../../src/operators/route.js';
import { columnAccepts, validateForTable } from '../../src/operators/sink-delta.js';
import { deadLetterRow } from '../../src/operators/sink-dead-letter.js';
import type { RoutingRules, TableRules } from '../../src/operators/api.js';

const dir = mkdtempSync(join(tmpdir(), 'transform-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const routing: RoutingRules = { field: 'event_type', routes: { order: 'orders', click: 'clicks' }, unmatched: 'dead_letter' };
const orders: TableRules = { table: 'orders', mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', columns: { id: 'VARCHAR', seq: 'BIGINT', amount: 'DOUBLE', tags: 'VARCHAR[]' } };
const clicks: TableRules = { table: 'clicks', mode: 'append', mergeKeys: [], columns: {} };

describe('decode-json', () => {
  it('accepts UTF-8 JSON objects and names what is wrong otherwise', () => {
    const ok = decodeJsonValue(Buffer.from('{"a":"é"}'));
    expect(ok).toEqual({ ok: true, value: { a: 'é' } });
    expect(decodeJsonValue(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]))).toEqual({ ok: false, error: 'value is not valid UTF-8' });
    expect(decodeJsonValue(Buffer.from('{"a":'))).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid JSON: /) });
    expect(decodeJsonValue(Buffer.from('[1,2]'))).toEqual({ ok: false, error: 'value must be a JSON object (got array)' });
    expect(decodeJsonValue(Buffer.from('null'))).toEqual({ ok: false, error: 'value must be a JSON object (got null)' });
    expect(decodeJsonValue(Buffer.alloc(0))).toEqual({ ok: false, error: 'empty value' });
    // A real U+FFFD in valid UTF-8 is fine.
    expect(decodeJsonValue(Buffer.from('{"a":"\uFFFD"}'))).toEqual({ ok: true, value: { a: '\uFFFD' } });
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

describe('validation', () => {
  it('checks merge keys, sequenceBy and known column types', () => {
    expect(validateForTable({ id: 'a', seq: 1, amount: 2.5 }, orders)).toBeUndefined();
    expect(validateForTable({ seq: 1 }, orders)).toBe("merge key 'id' is missing");
    expect(validateForTable({ id: { x: 1 }, seq: 1 }, orders)).toBe("merge key 'id' must be a scalar (got object)");
    expect(validateForTable({ id: 'a' }, orders)).toBe("sequenceBy field 'seq' is missing");
    expect(validateForTable({ id: 'a', seq: true }, orders)).toBe("sequenceBy field 'seq' must be a number or a string (got boolean)");
    expect(validateForTable({ id: 'a', seq: 1, amount: '12' }, orders)).toBe("field 'amount' is a JSON string but column 'amount' has type DOUBLE");
    expect(validateForTable({ id: 'a', seq: 1, tags: 'x' }, orders)).toMatch(/field 'tags' is a JSON string/);
    expect(validateForTable({ id: 'a', seq: 1, amount: null, brand_new: [1] }, orders)).toBeUndefined();
    expect(columnAccepts('TIMESTAMP WITH TIME ZONE', '2024-01-01T00:00:00Z')).toBe(true);
    expect(columnAccepts('STRUCT(a INTEGER)', { a: 1 })).toBe(true);
    expect(columnAccepts('BOOLEAN', 1)).toBe(false);
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
    const out = transformBatch(packValues(values), { routing, tables: { orders, clicks }, outDir: join(dir, 'b1') });
    expect(out.dropped).toBe(0);
    expect(out.failures).toEqual([
      { index: 2, stage: 'decode', error: 'value is null (tombstone)' },
      { index: 3, stage: 'decode', error: expect.stringMatching(/^invalid JSON/) },
      { index: 4, stage: 'route', error: "no route for event_type='refund'" },
      { index: 5, stage: 'validate', error: "merge key 'id' is missing" },
    ]);
    const byTable = Object.fromEntries(out.tables.map((t) => [t.table, t]));
    expect([...byTable.orders!.indices]).toEqual([0, 6, 7]);
    expect([...byTable.clicks!.indices]).toEqual([1]);
    const lines = readFileSync(byTable.orders!.path, 'utf8').split('\n');
    // Raw bytes are kept as they came (spacing included); a multi-line value becomes one line.
    expect(lines).toEqual([values[0]!.toString(), '{"event_type":"order","id":"o2","seq":3}', values[7]!.toString(), '']);
    // The hint types every key of the table's own records (failed records do not count).
    expect(byTable.orders!.columns).toEqual({ event_type: 'VARCHAR', id: 'VARCHAR', seq: 'BIGINT', amount: 'DOUBLE' });
    expect(byTable.clicks!.columns).toEqual({ event_type: 'VARCHAR', id: 'VARCHAR' });
  });

  it('hints mixed kinds as JSON, null-only keys as NULL, objects as STRUCT and arrays as lists', () => {
    const values = [
      '{"event_type":"order","id":"o1","seq":1,"v":1,"n":null,"ship":{"city":"A","zip":1}}',
      '{"event_type":"order","id":"o2","seq":2,"v":"x","ship":{"city":"B","zip":1.5,"note":null}}',
      '{"event_type":"click","id":"c1","tags":["a"],"e":[],"o":{}}',
      '{"event_type":"click","id":"c2","tags":[]}',
    ];
    const out = transformBatch(packValues(values.map((v) => Buffer.from(v))), { routing, tables: { orders, clicks }, outDir: join(dir, 'b3') });
    const byTable = Object.fromEntries(out.tables.map((t) => [t.table, t]));
    expect(byTable.orders!.columns).toEqual({ event_type: 'VARCHAR', id: 'VARCHAR', seq: 'BIGINT', v: 'JSON', n: 'NULL', ship: 'STRUCT("city" VARCHAR, "zip" DOUBLE, "note" NULL)' });
    expect(byTable.clicks!.columns).toEqual({ event_type: 'VARCHAR', id: 'VARCHAR', tags: 'VARCHAR[]', e: 'JSON[]', o: 'JSON' });
  });

  it('counts unmatched records as dropped under unmatched: drop', () => {
    const out = transformBatch(packValues([Buffer.from('{"event_type":"x"}')]), { routing: { ...routing, unmatched: 'drop' }, tables: { orders, clicks }, outDir: join(dir, 'b2') });
    expect(out).toEqual({ tables: [], failures: [], dropped: 1 });
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
