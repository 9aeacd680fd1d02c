/**
 * The spec's JSON Schema is assembled from the operator registry: every field an operator
 * defines is in the schema where its spec object has it, the registry passed in decides what
 * the schema holds, and a registry that disagrees with the spec's interfaces stops the build
 * with the field's name instead of giving a schema that silently lacks or ignores a field.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import type { OperatorDefinition, SpecObjects } from '../../src/operators/api.js';
import { operators } from '../../src/operators/index.js';
import { field, objectOf, type JsonSchema } from '../../src/operators/schema-builder.js';
import { schemaFileField } from '../../src/operators/schema-files.js';
import type { RecordFormat, SourceSchemaSpec } from '../../src/spec/index.js';
import { fieldOwners, operatorFields } from '../../src/spec/operator-fields.js';
import { buildPipelineSchema } from '../../src/spec/schema-definition.js';

/** Where each spec object operators add to sits in the schema document. */
function objectAt(schema: JsonSchema, at: keyof SpecObjects): JsonSchema {
  const props = (s: JsonSchema) => s.properties as Record<string, JsonSchema>;
  const source = props(schema).source!;
  const places: Record<keyof SpecObjects, JsonSchema> = {
    root: schema,
    source,
    'source.schema': props(source).schema!,
    'tables.<name>': props(schema).tables!.additionalProperties as JsonSchema,
    stages: props(schema).stages!,
  };
  return places[at];
}

const without = (kind: string) => operators.filter((o) => o.kind !== kind);
const minimalSpec = (format: string) => ({
  apiVersion: 'pipeline/v1',
  name: 'p',
  source: { kafka: { brokers: ['localhost:9092'], topic: 't' }, format },
  routing: { field: 'type', routes: { a: 'a' } },
  tables: { a: {} },
  output: { path: './lake' },
});

describe('the schema assembled from the operator registry', () => {
  const schema = buildPipelineSchema();

  it('holds every field an operator defines, as that operator\'s own schema object, where its spec object has it', () => {
    let count = 0;
    for (const op of operators) {
      for (const [at, fields] of Object.entries(op.spec?.fields ?? {}) as [keyof SpecObjects, Record<string, JsonSchema>][]) {
        for (const [key, fieldSchema] of Object.entries(fields)) {
          expect((objectAt(schema, at).properties as Record<string, JsonSchema>)[key], `${op.kind}: ${at}.${key}`).toBe(fieldSchema);
          count++;
        }
      }
    }
    expect(count).toBeGreaterThan(25);
    const format = (objectAt(schema, 'source').properties as Record<string, JsonSchema>).format!;
    expect(format.enum).toEqual(operators.flatMap((o) => (o.spec?.format ? [o.spec.format] : [])));
    expect(format.enum).toEqual(['json', 'avro', 'protobuf']);
  });

  it('takes a decoder added to the registry: its format is accepted, and it reads the shared schema file field', () => {
    const decodeCsv: OperatorDefinition = {
      kind: 'decode-csv',
      role: 'transform',
      summary: 'Test decoder.',
      ports: {},
      spec: { format: 'csv' as RecordFormat, fields: { 'source.schema': { file: schemaFileField } } },
    };
    const widened = buildPipelineSchema([...operators, decodeCsv]);
    const accepts = (s: JsonSchema) => new Ajv2020({ strict: true }).compile(s)(minimalSpec('csv'));
    expect(accepts(schema)).toBe(false);
    expect(accepts(widened)).toBe(true);
    // Nothing else changes.
    const formatOf = (s: JsonSchema) => (objectAt(s, 'source').properties as Record<string, JsonSchema>).format!;
    expect(formatOf(widened).enum).toEqual(['json', 'avro', 'protobuf', 'csv']);
    const strip = (s: JsonSchema) => JSON.parse(JSON.stringify(s, (k, v) => (k === 'format' ? undefined : v))) as unknown;
    expect(strip(widened)).toEqual(strip(schema));
    expect(fieldOwners([...operators, decodeCsv]).get('source.schema.file')).toEqual(['decode-json', 'decode-avro', 'decode-protobuf', 'decode-csv']);
  });

  it('stops, naming the field, when an operator the spec needs is missing or has no fragment', () => {
    expect(() => buildPipelineSchema(without('watermark'))).toThrow('no operator defines spec field watermark');
    expect(() => buildPipelineSchema(without('decode-protobuf'))).toThrow('no operator defines spec field source.schema.messageType');
    const bare = operators.map((o) => (o.kind === 'sink-delta' ? { ...o, spec: undefined } : o));
    expect(() => buildPipelineSchema(bare)).toThrow('no operator defines spec field tables.<name>.mode');
  });

  it('stops when two operators define one field differently or select on one format, or an operator defines a field the spec does not have', () => {
    const other = (spec: OperatorDefinition['spec']): OperatorDefinition => ({ kind: 'other', role: 'transform', summary: 'Test.', ports: {}, spec });
    const routing = field({ description: 'Another routing.', examples: [{}] }, { type: 'object' });
    expect(() => buildPipelineSchema([...operators, other({ fields: { root: { routing } } })])).toThrow('routing is defined by both route and other, with different schemas');
    expect(() => buildPipelineSchema([...operators, other({ format: 'json' })])).toThrow("two operators select on source.format 'json'");
    const stray = { fields: { source: { colour: field({ description: 'Not in the spec.', examples: ['red'] }, { type: 'string' }) } } } as OperatorDefinition['spec'];
    expect(() => buildPipelineSchema([...operators, other(stray)])).toThrow('operators define spec fields the spec does not have: source.colour (other)');
  });

  it('types the places: a property of the interface left unplaced, or one it does not have, fails typecheck', () => {
    const fields = operatorFields(operators);
    const docs = { description: 'd', examples: [] };
    // @ts-expect-error `registry` is not placed: every property of SourceSchemaSpec must be.
    const missing = objectOf<SourceSchemaSpec>(docs, fields.take('source.schema', ['file', 'messageType', 'reader']));
    // @ts-expect-error `colour` is not a property of SourceSpec.
    expect(() => fields.take('source', ['colour'])).toThrow('no operator defines spec field source.colour');
    expect(Object.keys(missing.properties as object)).toEqual(['file', 'messageType', 'reader']);
  });
});
