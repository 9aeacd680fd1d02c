/**
 * decode-json with a JSON Schema file: matching records pass (exact big integers included),
 * each violation is dead-lettered with where and what.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RawValue, StageResult } from '../../src/operators/api.js';
import { decodeJson } from '../../src/operators/decode-json.js';
import { jsonSchemaProblem } from '../../src/operators/json-schema.js';

const schemas = join(import.meta.dirname, 'schemas');
const stage = decodeJson.recordStage!({ id: 'decode', kind: 'decode-json', props: { format: 'json', schemaFile: join(schemas, 'order.schema.json') } }, { tables: {} });
const run = (text: string): StageResult => {
  const data = Buffer.from(text);
  const raw: RawValue = { data, start: 0, end: data.length, isNull: false, utf8: true };
  return stage.process(raw);
};

describe('decode-json with a JSON Schema', () => {
  it('passes matching records, big integers kept exact', () => {
    expect(run('{"type":"order","id":1,"amount":2.5}')).toMatchObject({ port: 'out', value: { fields: { type: 'order', id: 1, amount: 2.5 } } });
    const big = run('{"type":"order","id":12345678901234567890,"amount":0}');
    expect(big).toMatchObject({ port: 'out', value: { lossless: true } });
    expect(String((big as { value: { fields: { id: unknown } } }).value.fields.id)).toBe('12345678901234567890');
  });

  it('dead-letters each violation with where and what', () => {
    expect(run('{"type":"order","id":1}')).toEqual({ port: 'error', error: "does not match the JSON Schema: the record must have required property 'amount'" });
    expect(run('{"type":"order","id":1.5,"amount":1}')).toEqual({ port: 'error', error: "does not match the JSON Schema: 'id' must be integer" });
    expect(run('{"type":"order","id":1,"amount":-1}')).toEqual({ port: 'error', error: "does not match the JSON Schema: 'amount' must be >= 0" });
    expect(run('{"type":"order","id":1,"amount":1,"extra":true}')).toEqual({ port: 'error', error: "does not match the JSON Schema: the record must NOT have additional properties ('extra')" });
    expect(run('{"type":"refund","id":1,"amount":1}')).toEqual({ port: 'error', error: "does not match the JSON Schema: 'type' must be equal to constant" });
    // Decode failures keep their own reasons.
    expect(run('not json')).toMatchObject({ port: 'error', error: expect.stringMatching(/^invalid JSON/) });
  });

  it('checks schema files for validate', () => {
    expect(jsonSchemaProblem(join(schemas, 'order.schema.json'))).toBeUndefined();
    expect(jsonSchemaProblem(join(schemas, 'missing.json'))).toBe('no such file');
    expect(jsonSchemaProblem(join(schemas, 'order.proto'))).toMatch(/^not a valid JSON Schema: /);
    expect(jsonSchemaProblem(join(schemas, 'invalid.avsc'))).toMatch(/^not a valid JSON Schema: schema is invalid: data\/type must be equal to one of the allowed values/);
  });
});
