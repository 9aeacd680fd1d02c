/**
 * The JSON Schema and the TypeScript types must not drift: the committed
 * schema/pipeline.schema.json is the generated schema byte for byte (run with
 * PIPELINE_UPDATE_SCHEMA=1 to rewrite it), and every spec interface in src/spec/types.ts
 * (read with the TypeScript compiler) has exactly the schema's property names. The schema
 * builder's `PropertiesOf<T>` makes the same check at compile time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildPipelineSchema } from '../../src/spec/index.js';
import { objectOf, type JsonSchema } from '../../src/operators/schema-builder.js';

const root = join(import.meta.dirname, '..', '..');
const schemaFile = join(root, 'schema', 'pipeline.schema.json');
const generated = `${JSON.stringify(buildPipelineSchema(), null, 2)}\n`;

if (process.env.PIPELINE_UPDATE_SCHEMA) writeFileSync(schemaFile, generated);

/** Where each spec interface lives in the schema. A new interface must be added here. */
const interfaceLocations: Record<string, string[]> = {
  PipelineSpec: [],
  SourceSpec: ['source'],
  KafkaSourceSpec: ['source', 'kafka'],
  DeltaSourceSpec: ['source', 'delta'],
  SaslSpec: ['source', 'kafka', 'sasl'],
  SourceSchemaSpec: ['source', 'schema'],
  SchemaRegistrySpec: ['source', 'schema', 'registry'],
  TriggerSpec: ['trigger'],
  WatermarkSpec: ['watermark'],
  AggregationSpec: ['aggregations', '*'],
  WindowSpec: ['aggregations', '*', 'window'],
  AlertsSpec: ['alerts'],
  RoutingSpec: ['routing'],
  TableSpec: ['tables', '*'],
  ExpectationSpec: ['tables', '*', 'expectations', '[]'],
  DeadLetterSpec: ['deadLetter'],
  OutputSpec: ['output'],
  CheckpointSpec: ['checkpoint'],
  StagesSpec: ['stages'],
  RawStageSpec: ['stages', 'raw'],
  StageSpec: ['stages', 'bronze'],
  StageTriggerSpec: ['stages', 'gold', 'trigger'],
};

function schemaAt(schema: JsonSchema, path: string[]): JsonSchema {
  let cur = schema;
  for (const seg of path) {
    cur = seg === '*' ? (cur.additionalProperties as JsonSchema) : seg === '[]' ? (cur.items as JsonSchema) : (cur.properties as Record<string, JsonSchema>)[seg]!;
  }
  return cur;
}

/** Interface name → property names, read from the source with the TypeScript parser. */
function interfaceMembers(file: string): Map<string, string[]> {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out = new Map<string, string[]>();
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text.endsWith('Spec')) {
      out.set(node.name.text, node.members.filter(ts.isPropertySignature).map((m) => m.name.getText(source)));
    }
  });
  return out;
}

function walk(schema: unknown, path: string, visit: (s: JsonSchema, path: string) => void): void {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return;
  const s = schema as JsonSchema;
  visit(s, path);
  for (const [k, v] of Object.entries((s.properties as Record<string, unknown>) ?? {})) walk(v, `${path}/${k}`, visit);
  if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${path}/*`, visit);
  if (typeof s.items === 'object') walk(s.items, `${path}/[]`, visit);
  for (const [k, v] of Object.entries((s.$defs as Record<string, unknown>) ?? {})) walk(v, `#/$defs/${k}`, visit);
}

describe('pipeline.schema.json', () => {
  const committed = readFileSync(schemaFile, 'utf8');

  it('is the generated schema (set PIPELINE_UPDATE_SCHEMA=1 to regenerate)', () => {
    expect(committed).toBe(generated);
  });

  it('has exactly the properties of each spec interface in src/spec/types.ts', () => {
    const members = interfaceMembers(join(root, 'src', 'spec', 'types.ts'));
    expect([...members.keys()].sort()).toEqual(Object.keys(interfaceLocations).sort());
    const schema = JSON.parse(committed) as JsonSchema;
    for (const [name, props] of members) {
      const node = schemaAt(schema, interfaceLocations[name]!);
      expect(Object.keys(node.properties as object).sort(), name).toEqual([...props].sort());
    }
  });

  it('closes every object and documents every field', () => {
    const schema = JSON.parse(committed) as JsonSchema;
    const problems: string[] = [];
    walk(schema, '#', (s, path) => {
      if (s.type === 'object' && s.additionalProperties === undefined) problems.push(`${path}: additionalProperties missing`);
      if (s.properties) {
        for (const [k, v] of Object.entries(s.properties as Record<string, JsonSchema>)) {
          if (typeof v.description !== 'string' || v.description === '') problems.push(`${path}/${k}: no description`);
          if (!Array.isArray(v.examples) || v.examples.length === 0) problems.push(`${path}/${k}: no examples`);
        }
      }
    });
    expect(problems).toEqual([]);
  });

  it('compiles with ajv 2020 in strict mode and accepts the example specs as editors see them', () => {
    const validate = new Ajv2020({ strict: true, allErrors: true }).compile(JSON.parse(committed));
    for (const file of ['commerce-events.yaml', 'cdc-orders.yaml', 'orders-avro.yaml', 'clickstream-windows.yaml', 'sensor-readings.yaml']) {
      const data = parse(readFileSync(join(root, 'pipelines', file), 'utf8'));
      expect(validate(data), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect(validate({ apiVersion: 'pipeline/v1', name: 'x', unknown: 1 })).toBe(false);
  });

  it('rejects at compile time a schema that misses or adds a property (see the ts-expect-error lines)', () => {
    const docs = { description: 'd', examples: [] };
    interface Two {
      a: string;
      b?: number;
    }
    // @ts-expect-error `b` is missing: the schema must cover optional properties too.
    const missing = objectOf<Two>(docs, { a: {} });
    // @ts-expect-error `c` is not a property of the interface.
    const extra = objectOf<Two>(docs, { a: {}, b: {}, c: {} });
    // At run time the helper still closes the objects it builds.
    expect([missing.additionalProperties, extra.additionalProperties]).toEqual([false, false]);
  });
});
