import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BatchRecords, RecordChunk, batchOf, type SourceRecord } from '../../src/runtime/record-chunk.js';

/** What a record reads back as: the fields every consumer of a batch uses. */
const plain = (r: SourceRecord) => ({
  offset: Number(r.offset),
  timestamp: Number(r.timestamp),
  key: r.key ?? null,
  value: r.value,
  headers: r.headers && Object.keys(r.headers).length > 0 ? r.headers : undefined,
});
const read = (c: RecordChunk, i: number) => ({ offset: c.offset(i), timestamp: c.timestamp(i), key: c.key(i), value: c.value(i), headers: c.headers(i) });

const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const headerValue = fc.oneof(bytes, fc.string(), fc.constant(undefined));
const record = fc.record({
  offset: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER - 1), fc.integer({ min: 2 ** 40, max: 2 ** 52 })).map(String),
  timestamp: fc.oneof(fc.constant('-1'), fc.integer({ min: 0, max: 2 ** 45 }).map(String)),
  key: fc.oneof(fc.constant(null), fc.constant(undefined), bytes),
  value: fc.oneof(fc.constant(null), bytes),
  headers: fc.oneof(fc.constant(undefined), fc.constant({}), fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.oneof(headerValue, fc.array(headerValue, { maxLength: 3 })), { maxKeys: 3 })),
}, { requiredKeys: ['offset', 'timestamp', 'value'] }) as fc.Arbitrary<SourceRecord>;

describe('record chunk', () => {
  it('reads back every field of every record, nulls, empty bytes and big offsets included', () => {
    const records: SourceRecord[] = [
      { offset: '0', timestamp: '1700000000000', key: null, value: null },
      { offset: String(Number.MAX_SAFE_INTEGER - 1), timestamp: '-1', key: Buffer.alloc(0), value: Buffer.alloc(0) },
      { offset: '5', timestamp: '1', key: Buffer.from([0xff, 0]), value: Buffer.from('{"a":1}'), headers: { h: [Buffer.from([0xfe]), 'text'], e: undefined } },
    ];
    const chunk = RecordChunk.pack(records);
    expect(chunk.length).toBe(3);
    expect([0, 1, 2].map((i) => read(chunk, i))).toEqual(records.map(plain));
    expect(chunk.key(1)).toEqual(Buffer.alloc(0));
    expect(chunk.key(0)).toBeNull();
  });

  it('keeps nothing of the source records: their buffers may be reused', () => {
    const fetch = Buffer.from('k1v1k2v2');
    const records: SourceRecord[] = [
      { offset: '1', timestamp: '0', key: fetch.subarray(0, 2), value: fetch.subarray(2, 4), headers: { h: fetch.subarray(0, 1) } },
      { offset: '2', timestamp: '0', key: fetch.subarray(4, 6), value: fetch.subarray(6, 8) },
    ];
    const chunk = RecordChunk.pack(records);
    fetch.fill(0);
    expect([chunk.key(0)!.toString(), chunk.value(0)!.toString(), chunk.key(1)!.toString(), chunk.value(1)!.toString()]).toEqual(['k1', 'v1', 'k2', 'v2']);
    expect((chunk.headers(0)!.h as Buffer).toString()).toBe('k');
  });

  it('property: slices, batches and packed values read back as the records they came from', () => {
    fc.assert(
      fc.property(fc.array(fc.array(record, { maxLength: 12 }), { minLength: 1, maxLength: 4 }), fc.nat(), (partitions, cut) => {
        const chunks = partitions.map((list) => RecordChunk.pack(list));
        // Any slice of a chunk reads as that slice of its records.
        chunks.forEach((chunk, p) => {
          const at = chunk.length === 0 ? 0 : cut % (chunk.length + 1);
          const [head, tail] = [chunk.slice(0, at), chunk.slice(at)];
          expect(head.length + tail.length).toBe(chunk.length);
          const back = [...Array.from({ length: head.length }, (_, i) => read(head, i)), ...Array.from({ length: tail.length }, (_, i) => read(tail, i))];
          expect(back).toEqual(partitions[p]!.map(plain));
        });
        // A batch's records in input order: partition by partition, each chunk in offset order.
        const input = new Map(partitions.map((list, p) => [p * 3, list] as const));
        const batch = batchOf({}, input);
        const records = new BatchRecords(batch);
        const expected = [...input].flatMap(([p, list]) => list.map((r) => ({ partition: p, ...plain(r) })));
        expect(records.count).toBe(expected.length);
        const got = expected.map((_, i) => ({ partition: records.partitions[i], offset: records.offsets[i], timestamp: records.timestamps[i], key: records.key(i), value: records.value(i), headers: records.headers(i) }));
        expect(got).toEqual(expected);
        const packed = records.packValues();
        const values = expected.map((_, i) => (packed.nulls[i] ? null : Buffer.from(packed.data.subarray(packed.starts[i], packed.starts[i + 1]))));
        expect(values).toEqual(expected.map((r) => r.value));
        expect(packed.starts[expected.length]).toBe(packed.data.length);
      }),
      { numRuns: 300 },
    );
  });
});
