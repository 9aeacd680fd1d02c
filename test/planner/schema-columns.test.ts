/** Avro logical types declare typed columns in every table, unless the spec declares them. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { logicalColumnTypes } from '../../src/operators/avro-types.js';
import { withSchemaColumns } from '../../src/planner/schema-columns.js';
import { commerceSpec } from './fixtures.js';

const schemas = join(import.meta.dirname, '..', 'operators', 'schemas');

describe('schema-derived columns', () => {
  it('maps logical types, nullable unions included; wide decimals stay text', () => {
    expect(logicalColumnTypes({
      type: 'record', name: 'R', fields: [
        { name: 'a', type: { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 } },
        { name: 'b', type: ['null', { type: 'long', logicalType: 'timestamp-micros' }] },
        { name: 'c', type: { type: 'int', logicalType: 'date' } },
        { name: 'd', type: { type: 'string', logicalType: 'uuid' } },
        { name: 'e', type: { type: 'long', logicalType: 'local-timestamp-millis' } },
        { name: 'f', type: { type: 'bytes', logicalType: 'decimal', precision: 40, scale: 2 } },
        { name: 'g', type: 'long' },
        { name: 'h', type: ['null', 'string', { type: 'int', logicalType: 'date' }] },
      ],
    })).toEqual({ a: 'DECIMAL(12,2)', b: 'TIMESTAMPTZ', c: 'DATE', d: 'UUID', e: 'TIMESTAMP' });
  });

  it('declares them in every table from the reader schema, never over a declared column', () => {
    const spec = commerceSpec();
    spec.source.format = 'avro';
    spec.source.schema = { file: join(schemas, 'order-v2.avsc'), reader: join(schemas, 'order-reader.avsc') };
    spec.tables.orders!.columns = { ...spec.tables.orders!.columns, Amount: 'VARCHAR' };
    const out = withSchemaColumns(spec);
    expect(out).toBe(spec);
    expect(out.tables.users!.columns).toMatchObject({ amount: 'DECIMAL(12,2)', placed_at: 'TIMESTAMPTZ' });
    expect(out.tables.users!.columns).not.toHaveProperty('day'); // only in the writer schema
    expect(out.tables.orders!.columns).toMatchObject({ Amount: 'VARCHAR', placed_at: 'TIMESTAMPTZ' });
    expect(out.tables.orders!.columns).not.toHaveProperty('amount');
  });
});
