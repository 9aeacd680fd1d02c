/**
 * decode-avro: good values (file schema, registry ids, reader-schema resolution, logical
 * types, exact longs) and every failure's reason.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAvroSchema } from '../../src/operators/avro-types.js';
import { frameValue } from '../../src/operators/confluent-framing.js';
import { avroSchemaProblem, decodeAvroValue, type AvroDecodeOptions } from '../../src/operators/decode-avro.js';

const dir = join(import.meta.dirname, 'schemas');
const schema = (name: string) => parseAvroSchema(readFileSync(join(dir, name), 'utf8'));
const v1 = schema('order-v1.avsc');
const v2 = schema('order-v2.avsc');
const reader = schema('order-reader.avsc');

/** Unscaled decimal bytes (big-endian two's complement). */
function decimalBytes(unscaled: bigint, size = 8): Buffer {
  const buf = Buffer.alloc(size);
  buf.writeBigInt64BE(unscaled);
  return buf;
}

const order1 = { type: 'order', id: 2n ** 62n + 1n, amount: decimalBytes(-1230n), placed_at: 1_714_564_800_123, note: 'é' };
const order2 = {
  type: 'order', id: 7, amount: decimalBytes(5n), placed_at: 0, channel: 'app', day: 19_844, ref: '123e4567-e89b-12d3-a456-426614174000',
  seen_at: 1_714_564_800_123_456n, blob: Buffer.from([0, 255, 1]), ratio: 0.25,
};

const decode = (value: Buffer, opts: AvroDecodeOptions) => decodeAvroValue(value, 0, value.length, opts);

describe('decode-avro', () => {
  it('decodes a raw value with a file schema: exact longs, decimal text, ISO timestamps, unions', () => {
    const r = decode(v1.toBuffer(order1), { wireFormat: 'raw', writer: v1 });
    expect(r).toEqual({
      ok: true,
      record: { fields: { type: 'order', id: 2n ** 62n + 1n, amount: '-12.30', placed_at: '2024-05-01T12:00:00.123Z', note: 'é' }, lossless: true, serialise: true },
    });
  });

  it('maps date, uuid, timestamp-micros, bytes and doubles', () => {
    const r = decode(frameValue(9, v2.toBuffer(order2)), { wireFormat: 'confluent', writer: v2 });
    expect(r.ok && r.record.fields).toEqual({
      type: 'order', id: 7, amount: '0.05', placed_at: '1970-01-01T00:00:00.000Z', channel: 'app', day: '2024-05-01',
      ref: '123e4567-e89b-12d3-a456-426614174000', seen_at: '2024-05-01T12:00:00.123456Z', blob: 'AP8B', ratio: 0.25,
    });
    expect(r.ok && r.record.lossless).toBe(false);
    // Short and long decimal encodings (two's complement, big-endian) give the same text.
    for (const [bytes, text] of [[Buffer.from([0xfb]), '-0.05'], [Buffer.from([0xfe, 0x0c]), '-5.00'], [decimalBytes(-500n), '-5.00'], [Buffer.alloc(0), '0.00']] as const) {
      const d = decode(v2.toBuffer({ ...order2, amount: bytes }), { wireFormat: 'raw', writer: v2 });
      expect(d.ok && d.record.fields.amount).toBe(text);
    }
  });

  it('resolves two writer schemas (by registry id) to one reader schema', () => {
    const byId: Record<number, typeof v1> = { 1: v1, 2: v2 };
    const opts: AvroDecodeOptions = { wireFormat: 'confluent', reader, writerById: (id) => byId[id] ?? `unknown schema id ${id}` };
    const a = decode(frameValue(1, v1.toBuffer(order1)), opts);
    const b = decode(frameValue(2, v2.toBuffer(order2)), opts);
    expect(a.ok && Object.keys(a.record.fields)).toEqual(['type', 'id', 'amount', 'placed_at', 'channel']);
    expect(a.ok && a.record.fields.channel).toBe('web'); // the reader's default
    expect(b.ok && b.record.fields).toEqual({ type: 'order', id: 7, amount: '0.05', placed_at: '1970-01-01T00:00:00.000Z', channel: 'app' });
    expect(decode(frameValue(3, v1.toBuffer(order1)), opts)).toEqual({ ok: false, error: 'unknown schema id 3' });
  });

  it('gives each undecodable value its reason', () => {
    const good = v1.toBuffer(order1);
    const framed = frameValue(1, good);
    const file: AvroDecodeOptions = { wireFormat: 'confluent', writer: v1 };
    const cases: [Buffer, AvroDecodeOptions, string | RegExp][] = [
      [Buffer.from([0, 0, 1]), file, 'truncated: the Confluent wire format needs a 5-byte header, the value has 3 bytes'],
      [Buffer.concat([Buffer.from([1]), framed.subarray(1)]), file, 'wrong magic byte 0x01 (the Confluent wire format starts with 0x00)'],
      [Buffer.from('{"json": true}'), file, 'wrong magic byte 0x7b (the Confluent wire format starts with 0x00)'],
      [framed.subarray(0, 5), file, 'truncated: the value holds no Avro data'],
      [framed.subarray(0, framed.length - 3), file, 'truncated: the Avro value ends early for the writer schema'],
      [Buffer.concat([framed, Buffer.from([1, 2])]), file, '2 bytes left after the Avro record (the data does not match the writer schema)'],
      [good, { wireFormat: 'raw', writer: v2 }, /^truncated: the Avro value ends early|^invalid Avro data/],
      [frameValue(4, v1.toBuffer(order1)), { wireFormat: 'confluent', reader: v2, writerById: () => v1 }, /^writer schema id 4 does not resolve to the reader schema: /],
    ];
    for (const [value, opts, reason] of cases) {
      const r = decode(value, opts);
      expect(r.ok, String(reason)).toBe(false);
      if (!r.ok) expect(r.error).toMatch(typeof reason === 'string' ? new RegExp(`^${reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : reason);
    }
  });

  it('fails NaN, invalid UTF-8 and deep nesting instead of storing something else', () => {
    const doubles = parseAvroSchema({ type: 'record', name: 'D', fields: [{ name: 'x', type: 'double' }] });
    expect(decode(doubles.toBuffer({ x: NaN }), { wireFormat: 'raw', writer: doubles })).toEqual({ ok: false, error: "field 'x' holds NaN, which a table cannot store (JSON has no such number)" });
    const strings = parseAvroSchema({ type: 'record', name: 'S', fields: [{ name: 's', type: 'string' }] });
    const bad = strings.toBuffer({ s: 'abc' });
    bad[2] = 0xff; // inside the string bytes
    expect(decode(bad, { wireFormat: 'raw', writer: strings })).toEqual({ ok: false, error: 'a string field is not valid UTF-8' });
    // A genuine U+FFFD is kept.
    expect(decode(strings.toBuffer({ s: 'a\uFFFDb' }), { wireFormat: 'raw', writer: strings })).toMatchObject({ ok: true, record: { fields: { s: 'a\uFFFDb' } } });
    const nested = parseAvroSchema({ type: 'record', name: 'N', fields: [{ name: 'next', type: ['null', 'N'], default: null }] });
    let deep: unknown = { next: null };
    for (let i = 0; i < 70; i++) deep = { next: deep };
    expect(decode(nested.toBuffer(deep), { wireFormat: 'raw', writer: nested })).toEqual({ ok: false, error: 'value nests deeper than 64 levels' });
  });

  it('checks schema files for validate', () => {
    expect(avroSchemaProblem(join(dir, 'order-v1.avsc'))).toBeUndefined();
    expect(avroSchemaProblem(join(dir, 'missing.avsc'))).toBe('no such file');
    expect(avroSchemaProblem(join(dir, 'not-a-record.avsc'))).toBe("the schema's top level is string, not a record");
    expect(avroSchemaProblem(join(dir, 'invalid.avsc'))).toMatch(/^not a valid Avro schema: undefined type name: nope/);
  });
});
