/**
 * `docs/reference/spec.md`: every field of the pipeline spec, read from the JSON Schema the
 * loader validates with (`src/spec/schema-definition.ts`). Paths, types, defaults, whether a
 * field is required, its description and an example come from the schema alone, so a field
 * added to the schema appears here on the next `npm run docs`; the operator that reads a
 * field comes from the registry whose definitions the schema is assembled from.
 */
import { stringify } from 'yaml';
import { operators } from '../../src/operators/index.js';
import { fieldOwners } from '../../src/spec/operator-fields.js';
import { buildPipelineSchema } from '../../src/spec/schema-definition.js';
import type { JsonSchema } from '../../src/operators/schema-builder.js';
import { cell, code, page, table } from './markdown.js';

/** One documented field of the spec. */
export interface SpecField {
  path: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
  example?: unknown;
}

type Defs = Record<string, JsonSchema>;

/** Resolves a local `$ref` (the use site's own keywords win over the definition's). */
function resolve(node: JsonSchema, defs: Defs): JsonSchema {
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  const name = ref.replace('#/$defs/', '');
  const { $ref: _drop, ...site } = node;
  return { ...defs[name], ...site, refName: name };
}

/** A short type for people: `string`, `integer 1–1024`, `earliest \| latest`, `list of string`. */
export function describeType(raw: JsonSchema, defs: Defs): string {
  const node = resolve(raw, defs);
  if (typeof node.refName === 'string') return node.refName === 'Duration' ? 'duration' : 'table name';
  if ('const' in node) return JSON.stringify(node.const);
  if (Array.isArray(node.enum)) return node.enum.map((v) => String(v)).join(' | ');
  if (Array.isArray(node.anyOf)) return (node.anyOf as JsonSchema[]).map((n) => describeType(n, defs)).join(' or ');
  if (node.type === 'array') return `list of ${describeType((node.items ?? {}) as JsonSchema, defs)}`;
  if (node.type === 'object') return node.properties ? 'mapping' : 'mapping of names';
  if (node.type === 'integer' || node.type === 'number') {
    const min = node.minimum as number | undefined;
    const max = node.maximum as number | undefined;
    if (min !== undefined && max !== undefined) return `${node.type} ${min}–${max}`;
    if (min !== undefined) return `${node.type} ≥ ${min}`;
    return String(node.type);
  }
  if (node.type === 'string' && typeof node.pattern === 'string' && !node.enum) return 'string (pattern)';
  return String(node.type ?? 'any');
}

/** What a map's keys are called in paths: `routing.routes.<value>`, `tables.<name>.columns.<column>`. */
function entryLabel(path: string): string {
  if (path.endsWith('routes')) return 'value';
  if (path.endsWith('columns')) return 'column';
  return 'name';
}

/** Every field in document order; `tables.<name>` and `routing.routes.<value>` stand for map entries. */
export function specFields(schema: JsonSchema = buildPipelineSchema()): SpecField[] {
  const defs = (schema.$defs ?? {}) as Defs;
  const out: SpecField[] = [];
  const visit = (raw: JsonSchema, path: string, required: boolean): void => {
    const node = resolve(raw, defs);
    if (path) {
      const examples = node.examples as unknown[] | undefined;
      out.push({
        path,
        type: describeType(raw, defs),
        required,
        ...(node.default !== undefined ? { default: node.default } : {}),
        description: String(node.description ?? ''),
        ...(examples && examples.length > 0 ? { example: examples[0] } : {}),
      });
    }
    const props = node.properties as Record<string, JsonSchema> | undefined;
    if (props) {
      const req = new Set((node.required as string[] | undefined) ?? []);
      for (const [key, child] of Object.entries(props)) visit(child, path ? `${path}.${key}` : key, req.has(key));
    } else if (node.additionalProperties && typeof node.additionalProperties === 'object') {
      visit(node.additionalProperties as JsonSchema, `${path}.<${entryLabel(path)}>`, false);
    }
  };
  visit(schema, '', true);
  return out;
}

/**
 * The operators that read the field at `path`: those defining it or the object holding it
 * (`source.kafka.topic` is source-kafka's), linked to their reference pages; a dash (`—`) for
 * the pipeline-level fields.
 */
export function ownerText(path: string, owners: Map<string, string[]>): string {
  let best: string | undefined;
  for (const p of owners.keys()) {
    if ((path === p || path.startsWith(`${p}.`)) && (best === undefined || p.length > best.length)) best = p;
  }
  return best === undefined ? '—' : owners.get(best)!.map((kind) => `[\`${kind}\`](operators/${kind}.md)`).join(', ');
}

/** An example value as inline YAML (flow style for collections). */
function exampleText(value: unknown): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? value : stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trim();
  return code(text);
}

/** The whole page. */
export function specReference(): string {
  const schema = buildPipelineSchema();
  const fields = specFields(schema);
  const defs = (schema.$defs ?? {}) as Defs;
  const owners = fieldOwners(operators);
  const rows = fields.map((f) => [
    code(f.path),
    cell(f.type),
    f.required ? '**required**' : f.default !== undefined ? code(JSON.stringify(f.default)) : '—',
    cell(f.description),
    exampleText(f.example),
    ownerText(f.path, owners),
  ]);
  const defRows = Object.entries(defs).map(([name, d]) => [
    name === 'Duration' ? 'duration' : 'table name',
    cell(String(d.description ?? '')),
    code(String(d.pattern ?? '')),
    ((d.examples as unknown[]) ?? []).map((e) => code(String(e))).join(', '),
  ]);
  return page(
    'Spec reference (`pipeline/v1`)',
    'Every field of a pipeline spec, from the JSON Schema the loader validates with ' +
      '(`src/spec/schema-definition.ts`; the committed `schema/pipeline.schema.json` is the same document). ' +
      'The *operator* column names the [operator](operators/index.md) that reads a field and defines its part of the schema; ' +
      'fields without one configure the pipeline itself. ' +
      'Every object is closed: an unknown key is an error (PIPE0020). *required* fields must be written; ' +
      'every other field is optional, with the default shown when the schema applies one. ' +
      '`<name>` stands for a key you choose. For what the fields do together, see the ' +
      '[spec guide](../guides/writing-a-pipeline.md).',
    table(['field', 'type', 'default', 'meaning', 'example', 'operator'], rows),
    '## Value formats',
    table(['format', 'meaning', 'pattern', 'examples'], defRows),
  );
}
