/**
 * The raw table keeps every record byte for byte: values and keys that are not UTF-8, nulls,
 * repeated header names, and timestamps, written through the real lake and read back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { RAW_COLUMNS, RAW_KINDS, rawNdjson } from '../../src/operators/sink-raw.js';
import { RecordChunk } from '../../src/runtime/record-chunk.js';

let lake: Lake;
let dir: string;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
  dir = mkdtempSync(join(tmpdir(), 'sink-raw-'));
});
afterAll(() => {
  lake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rawNdjson', () => {
  it('lands bytes, nulls, headers and coordinates exactly', async () => {
    const binary = Buffer.from([0xff, 0x00, 0x0a, 0x22, 0x5c, 0xc3]);
    const messages = new Map([
      [2, [RecordChunk.pack([
        { offset: '7', timestamp: '1764460800123', key: Buffer.from('k"1'), value: binary, headers: { trace: [Buffer.from('a'), Buffer.from([0xfe])], empty: undefined } },
        { offset: '9', timestamp: '-1', key: null, value: null },
      ])]],
      [0, [RecordChunk.pack([{ offset: '0', timestamp: '1764460800000', value: Buffer.from('{"id":1}\n') }])]],
    ]);
    const { text, count } = rawNdjson('top"ic', messages);
    expect(count).toBe(3);
    const file = join(dir, 'batch.ndjson');
    writeFileSync(file, text);
    const table = join(dir, 'raw');
    await lake.write(table, { kind: 'ndjson', path: file, rowCount: count, kinds: RAW_KINDS }, { mode: 'append', columns: RAW_COLUMNS });
    const rows = await lake.scan(table, { orderBy: 'partition, "offset"' });
    expect(rows.map((r) => [r.topic, r.partition, Number(r.offset)])).toEqual([['top"ic', 0, 0], ['top"ic', 2, 7], ['top"ic', 2, 9]]);
    expect(Buffer.compare(rows[1]!.value as Buffer, binary)).toBe(0);
    expect((rows[1]!.key as Buffer).toString()).toBe('k"1');
    expect((rows[0]!.value as Buffer).toString()).toBe('{"id":1}\n');
    expect([rows[2]!.key, rows[2]!.value, rows[2]!.timestamp, rows[2]!.headers]).toEqual([null, null, null, null]);
    expect(new Date(rows[1]!.timestamp as string).getTime()).toBe(1764460800123);
    const headers = JSON.parse(rows[1]!.headers as string) as { key: string; value: string | null }[];
    expect(headers.map((h) => [h.key, h.value === null ? null : Buffer.from(h.value, 'base64')])).toEqual([['trace', Buffer.from('a')], ['trace', Buffer.from([0xfe])], ['empty', null]]);
  });
});
