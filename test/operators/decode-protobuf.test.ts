/**
 * decode-protobuf: Confluent framing with message indexes, raw messages, exact 64-bit
 * integers, enums and bytes, and every failure's reason.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { frameValue, readMessageIndexes, encodeMessageIndexes } from '../../src/operators/confluent-framing.js';
import { decodeProtobufValue, protobufFileType, protobufSchemaProblem, registryMessageType, type ProtobufDecodeOptions } from '../../src/operators/decode-protobuf.js';

const file = join(import.meta.dirname, 'schemas', 'order.proto');
const Order = protobufFileType(file, 'shop.Order');
const encode = (o: Record<string, unknown>) => Buffer.from(Order.encode(Order.fromObject(o)).finish());
const decode = (value: Buffer, opts: ProtobufDecodeOptions) => decodeProtobufValue(value, 0, value.length, opts);
const confluent: ProtobufDecodeOptions = { wireFormat: 'confluent', type: Order };

describe('decode-protobuf', () => {
  it('decodes a framed message: exact int64/uint64, enum names, base64 bytes, every field present', () => {
    const msg = encode({ type: 'order', id: '9007199254740993', total: { units: 12, currency: 'EUR' }, status: 'SHIPPED', tags: ['a', 'b'], payload: Buffer.from([1, 2, 3]), big: '18446744073709551615' });
    const r = decode(frameValue(3, msg, [1]), confluent);
    expect(r).toEqual({
      ok: true,
      record: {
        fields: { type: 'order', id: 9007199254740993n, total: { units: 12, currency: 'EUR' }, status: 'SHIPPED', tags: ['a', 'b'], payload: 'AQID', big: 18446744073709551615n, ratio: 0 },
        lossless: true,
        serialise: true,
      },
    });
    // An unset message is null, unset scalars take proto3 defaults: the columns never depend on the producer.
    const empty = decode(frameValue(3, encode({}), [0]), confluent);
    expect(empty.ok && empty.record.fields).toEqual({ type: '', id: 0, total: null, status: 'UNKNOWN', tags: [], payload: '', big: 0, ratio: 0 });
    expect(decode(encode({ type: 'raw' }), { wireFormat: 'raw', type: Order })).toMatchObject({ ok: true, record: { fields: { type: 'raw' } } });
  });

  it('reads message-index arrays, [0] as a single zero byte', () => {
    for (const indexes of [[0], [1], [2, 0, 5], [300]]) {
      const bytes = encodeMessageIndexes(indexes);
      expect(readMessageIndexes(bytes, 0, bytes.length)).toEqual({ ok: true, indexes, offset: bytes.length });
    }
    expect(encodeMessageIndexes([0])).toEqual(Buffer.from([0]));
  });

  it('gives each undecodable value its reason', () => {
    const msg = encode({ type: 'order', id: 5, tags: ['x'] });
    const cases: [Buffer, string][] = [
      [Buffer.from([0, 0]), 'truncated: the Confluent wire format needs a 5-byte header, the value has 2 bytes'],
      [Buffer.concat([Buffer.from([2]), frameValue(1, msg, [0]).subarray(1)]), 'wrong magic byte 0x02 (the Confluent wire format starts with 0x00)'],
      [frameValue(1, Buffer.alloc(0)), 'truncated: the message-index array ends early'],
      [Buffer.concat([frameValue(1, Buffer.alloc(0)), Buffer.from([4, 2])]), 'truncated: the message-index array ends early'],
      [frameValue(1, msg.subarray(0, msg.length - 1), [0]), 'truncated: the Order message ends early'],
      [frameValue(1, Buffer.from([0x0f, 0x01]), [0]), 'invalid Order message: invalid wire type 7 at offset 1'],
    ];
    for (const [value, reason] of cases) expect(decode(value, confluent)).toEqual({ ok: false, error: reason });
    const bad = encode({ type: 'abc' });
    bad[2] = 0xff;
    expect(decode(bad, { wireFormat: 'raw', type: Order })).toEqual({ ok: false, error: 'a string field is not valid UTF-8' });
    expect(decode(encode({ ratio: Infinity }), { wireFormat: 'raw', type: Order })).toEqual({ ok: false, error: "field 'ratio' holds Infinity, which a table cannot store (JSON has no such number)" });
  });

  it('finds registry messages by their message-index array, nested ones included', () => {
    const schema = 'syntax = "proto3";\npackage shop;\nenum Kind { A = 0; }\nmessage First { string a = 1; }\nmessage Second { message Inner { int64 n = 1; string snake_case = 2; } string b = 1; }\n';
    const found = { schema, schemaType: 'PROTOBUF' };
    const typeById = (id: number, indexes: number[]) => registryMessageType('http://r', id, indexes, id === 4 ? found : id === 5 ? { schema: '{}', schemaType: 'AVRO' } : { missing: `unknown schema id ${id}` });
    const opts: ProtobufDecodeOptions = { wireFormat: 'confluent', typeById };
    const Inner = registryMessageType('http://r', 4, [1, 0], found) as ReturnType<typeof protobufFileType>;
    expect(Inner.fullName).toBe('.shop.Second.Inner');
    const inner = Buffer.from(Inner.encode(Inner.fromObject({ n: '-9007199254740993', snake_case: 'kept' })).finish());
    expect(decode(frameValue(4, inner, [1, 0]), opts)).toMatchObject({ ok: true, record: { fields: { n: -9007199254740993n, snake_case: 'kept' } } });
    expect((registryMessageType('http://r', 4, [0], found) as { name: string }).name).toBe('First');
    expect(decode(frameValue(4, inner, [2]), opts)).toEqual({ ok: false, error: 'message index [2] names no message of schema id 4' });
    expect(decode(frameValue(5, inner, [0]), opts)).toEqual({ ok: false, error: 'schema id 5 is an AVRO schema, not Protobuf' });
    expect(decode(frameValue(6, inner, [0]), opts)).toEqual({ ok: false, error: 'unknown schema id 6' });
  });

  it('checks the .proto file and message type for validate', () => {
    expect(protobufSchemaProblem(file, 'shop.Order')).toBeUndefined();
    expect(protobufSchemaProblem(file, 'shop.Missing')).toEqual({ messageType: `no message type \`shop.Missing\` in ${file} (it defines shop.Money, shop.Order)` });
    expect(protobufSchemaProblem(join(import.meta.dirname, 'nope.proto'), 'x')).toEqual({ file: 'no such file' });
    expect(protobufSchemaProblem(join(import.meta.dirname, 'schemas', 'broken.proto'), 'x')?.file).toMatch(/^not a valid \.proto file: /);
  });
});
