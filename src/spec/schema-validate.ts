/**
 * Shape validation with ajv (draft 2020-12, compiled once per process) and the mapping of
 * ajv's errors to spec diagnostics positioned at the offending key or value. Validation
 * also fills the schema's `default`s into the data (ajv `useDefaults`).
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { diagnostic } from './codes.js';
import type { JsonSchema } from '../operators/schema-builder.js';
import { buildPipelineSchema } from './schema-definition.js';
import { didYouMean } from './suggest.js';
import type { Diagnostic, SourcePosition } from './types.js';
import { dotted, type SpecPath } from './yaml-tree.js';

/** Finds source positions for paths (falls back to the nearest ancestor). */
export interface PositionLookup {
  key(path: SpecPath): SourcePosition;
  value(path: SpecPath): SourcePosition;
}

let compiled: { schema: JsonSchema; validate: ValidateFunction } | undefined;

/** The schema object and its compiled validator, built on first use and reused after. */
export function compiledSchema(): { schema: JsonSchema; validate: ValidateFunction } {
  if (!compiled) {
    const schema = buildPipelineSchema();
    const ajv = new Ajv2020({ allErrors: true, useDefaults: true, verbose: true, strict: true });
    compiled = { schema, validate: ajv.compile(schema) };
  }
  return compiled;
}

/** Why a table name is unsafe as a directory name under `output.path`, in words. */
export function tableNameProblem(name: string): string {
  if (name === '') return 'it is empty';
  if (name === '.' || name === '..' || name.split(/[\\/]/).includes('..')) return 'it would leave `output.path` through `..`';
  if (/^([\\/]|[A-Za-z]:)/.test(name)) return 'it is an absolute path';
  if (/[\\/]/.test(name)) return 'it contains a path separator';
  if (name.length > 128) return 'it is longer than 128 characters';
  if (name.startsWith('-')) return 'it starts with `-`';
  return 'use only letters, digits, `_` and `-`';
}

function pointerToPath(pointer: string): SpecPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (null)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

const typeWords: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

function where(path: SpecPath): string {
  return path.length === 0 ? 'the top level' : `\`${dotted(path)}\``;
}

/**
 * `anyOf` failures arrive as the union of every branch's errors. Keep only the errors of the
 * branch whose `type` matches the data (so an empty broker list says "must not be empty");
 * when no branch's type matches, keep the `anyOf` error itself.
 */
function collapseAnyOf(errors: ErrorObject[]): ErrorObject[] {
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  if (anyOfs.length === 0) return errors;
  const drop = new Set<ErrorObject>();
  for (const a of anyOfs) {
    const branches = a.schema as JsonSchema[];
    const inside = errors.filter((e) => e !== a && e.schemaPath.startsWith(`${a.schemaPath}/`));
    const dataType = Array.isArray(a.data) ? 'array' : a.data === null ? 'null' : typeof a.data;
    const matching = branches.findIndex((b) => b.type === dataType);
    for (const e of inside) {
      if (matching < 0 || !e.schemaPath.startsWith(`${a.schemaPath}/${matching}/`)) drop.add(e);
    }
    if (matching >= 0) drop.add(a);
  }
  return errors.filter((e) => !drop.has(e));
}

function toDiagnostic(e: ErrorObject, file: string, at: PositionLookup): Diagnostic | undefined {
  const path = pointerToPath(e.instancePath);
  const valueSite = { file, ...at.value(path), path: dotted(path) };
  const p = dotted(path);
  const parent = (e.parentSchema ?? {}) as JsonSchema;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const keyPath = [...path, key];
      const known = Object.keys((parent.properties as Record<string, unknown> | undefined) ?? {});
      return diagnostic('PIPE0020', { file, ...at.key(keyPath), path: dotted(keyPath) }, { key, where: where(path) },
        didYouMean(key, known) ?? (known.length ? `allowed keys: ${known.join(', ')}` : undefined));
    }
    case 'required': {
      const key = (e.params as { missingProperty: string }).missingProperty;
      const site = path.length === 0 ? { file, line: 1, col: 1, path: key } : { file, ...at.key(path), path: dotted([...path, key]) };
      return diagnostic('PIPE0021', site, { key, where: where(path) });
    }
    case 'type': {
      const t = String((e.params as { type: string }).type);
      return diagnostic('PIPE0022', valueSite, { path: p, expected: typeWords[t] ?? t, actual: describeValue(e.data) });
    }
    case 'anyOf':
      return diagnostic('PIPE0022', valueSite, { path: p, expected: 'a list of strings or a comma-separated string', actual: describeValue(e.data) });
    case 'enum': {
      const allowed = (e.schema as unknown[]).map(String);
      return diagnostic('PIPE0023', valueSite, { path: p, allowed: allowed.map((a) => `\`${a}\``).join(', '), actual: describeValue(e.data) },
        typeof e.data === 'string' ? didYouMean(e.data, allowed) : undefined);
    }
    case 'const':
      return diagnostic('PIPE0027', valueSite, { actual: describeValue(e.data) }, 'write `apiVersion: pipeline/v1`');
    case 'pattern': {
      if (e.schemaPath.includes('/$defs/Duration/')) return diagnostic('PIPE0026', valueSite, { path: p, actual: describeValue(e.data) });
      if (e.propertyName !== undefined) {
        const keyPath = [...path, e.propertyName];
        return diagnostic('PIPE0047', { file, ...at.key(keyPath), path: dotted(keyPath) }, { name: JSON.stringify(e.propertyName), reason: tableNameProblem(e.propertyName) });
      }
      if (e.schemaPath.includes('/$defs/TableName/')) {
        return diagnostic('PIPE0047', valueSite, { name: describeValue(e.data), reason: tableNameProblem(String(e.data)) });
      }
      return diagnostic('PIPE0024', valueSite, { path: p, actual: describeValue(e.data) },
        typeof e.data === 'string' ? `for example \`${e.data.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^[^a-z]+|-+$/g, '') || 'my-pipeline'}\`` : undefined);
    }
    case 'propertyNames':
      return undefined; // reported through the failing name's own `pattern` error
    case 'minimum':
    case 'maximum': {
      const { comparison, limit } = e.params as { comparison: string; limit: number };
      return diagnostic('PIPE0025', valueSite, { path: p, limit: `${comparison} ${limit}`, actual: describeValue(e.data) });
    }
    case 'minLength':
    case 'minItems':
    case 'minProperties':
      return diagnostic('PIPE0028', valueSite, { path: p });
    case 'uniqueItems':
      return diagnostic('PIPE0029', valueSite, { path: p, detail: 'must not list the same item twice' });
    default:
      return diagnostic('PIPE0029', valueSite, { path: p, detail: e.message ?? 'is invalid' });
  }
}

/**
 * Validates `data` against the spec schema, filling defaults in place, and returns one
 * diagnostic per problem (all of them, not just the first).
 */
export function validateShape(data: unknown, file: string, at: PositionLookup): Diagnostic[] {
  const { validate } = compiledSchema();
  if (validate(data)) return [];
  const out: Diagnostic[] = [];
  for (const e of collapseAnyOf(validate.errors ?? [])) {
    const d = toDiagnostic(e, file, at);
    if (d) out.push(d);
  }
  return out;
}
