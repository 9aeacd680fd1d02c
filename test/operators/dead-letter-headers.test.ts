/**
 * The dead-letter table's `headers` column: a record's Kafka headers kept byte-exact (text
 * when UTF-8, base64 otherwise, lists where a name repeats) and given back as the consumer
 * would have given them, so a replayed record carries the same headers.
 */
import { describe, expect, it } from 'vitest';
import { decodeHeaders, deadLetterRow, encodeHeaders } from '../../src/operators/sink-dead-letter.js';

describe('dead-letter headers', () => {
  it('round-trip text, bytes, repeated names and null values', () => {
    const bin = Buffer.from([0xff, 0x00, 0x7b]);
    const headers = { trace: Buffer.from('t-1'), bin, tag: [Buffer.from('a'), Buffer.from('b')], empty: null, text: 'plain' };
    const stored = encodeHeaders(headers);
    expect(JSON.parse(stored!)).toEqual({ trace: 't-1', bin: { base64: bin.toString('base64') }, tag: ['a', 'b'], empty: null, text: 'plain' });
    expect(decodeHeaders(stored)).toEqual({ trace: Buffer.from('t-1'), bin, tag: [Buffer.from('a'), Buffer.from('b')], empty: null, text: Buffer.from('plain') });
  });

  it('a record without headers has a NULL column and replays with none', () => {
    expect(encodeHeaders({})).toBeNull();
    expect(encodeHeaders(undefined)).toBeNull();
    expect(decodeHeaders(null)).toEqual({});
    const ctx = { topic: 't', pipeline: 'p', stream: 0, batchId: 1 };
    expect(deadLetterRow({ partition: 0, offset: 1, timestamp: 0, key: null, value: null }, 'derive', 'x', ctx)).not.toHaveProperty('headers');
    expect(deadLetterRow({ partition: 0, offset: 1, timestamp: 0, key: null, value: null, headers: { a: Buffer.from('1') } }, 'derive', 'x', ctx)).toHaveProperty('headers', '{"a":"1"}');
  });
});
