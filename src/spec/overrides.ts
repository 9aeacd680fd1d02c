/**
 * `--set path=value` overrides, applied to the parsed YAML document before conversion so
 * they go through interpolation, the schema and the semantic checks like written values.
 * The path must exist in the schema (a typo is an error, not a new ignored key); the value
 * is parsed as YAML (`8` → 8, `true` → true, `[id, seq]` → a list, anything else a string).
 */
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import { diagnostic } from './codes.js';
import type { JsonSchema } from '../operators/schema-builder.js';
import { didYouMean } from './suggest.js';
import type { Diagnostic } from './types.js';

/** One parsed `--set` argument. */
export interface Override {
  path: string[];
  raw: string;
}

function deref(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const r = schema.$ref;
  if (typeof r === 'string' && r.startsWith('#/$defs/')) {
    return (root.$defs as Record<string, JsonSchema>)[r.slice('#/$defs/'.length)] ?? schema;
  }
  return schema;
}

/** The schema nodes a value at `segment` below `schema` may match (several under `anyOf`). */
function childSchemas(schema: JsonSchema, segment: string, root: JsonSchema): JsonSchema[] {
  const s = deref(schema, root);
  if (Array.isArray(s.anyOf)) return (s.anyOf as JsonSchema[]).flatMap((b) => childSchemas(b, segment, root));
  const props = s.properties as Record<string, JsonSchema> | undefined;
  if (props && Object.hasOwn(props, segment)) return [props[segment]!];
  if (s.additionalProperties && typeof s.additionalProperties === 'object') return [s.additionalProperties as JsonSchema];
  if (s.items && typeof s.items === 'object' && /^\d+$/.test(segment)) return [s.items as JsonSchema];
  return [];
}

/** Property names known at a schema node, for "did you mean" hints. */
function knownNames(schema: JsonSchema, root: JsonSchema): string[] {
  const s = deref(schema, root);
  if (Array.isArray(s.anyOf)) return (s.anyOf as JsonSchema[]).flatMap((b) => knownNames(b, root));
  return Object.keys((s.properties as Record<string, JsonSchema> | undefined) ?? {});
}

/**
 * Checks that a dotted path exists in the schema. Returns undefined when it does, or a
 * hint-bearing description of the first segment that does not.
 */
export function findUnknownSegment(path: string[], root: JsonSchema): { at: number; hint?: string } | undefined {
  let current: JsonSchema[] = [root];
  for (let i = 0; i < path.length; i++) {
    const next = current.flatMap((s) => childSchemas(s, path[i]!, root));
    if (next.length === 0) {
      return { at: i, hint: didYouMean(path[i]!, current.flatMap((s) => knownNames(s, root))) };
    }
    current = next;
  }
  return undefined;
}

/** Parses `path=value` arguments; malformed ones become diagnostics. */
export function parseOverrides(args: string[], file: string): { overrides: Override[]; diagnostics: Diagnostic[] } {
  const overrides: Override[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const path = eq > 0 ? arg.slice(0, eq).split('.') : [];
    if (eq <= 0 || path.some((p) => p === '')) {
      diagnostics.push(diagnostic('PIPE0012', { file, line: 1, col: 1, path: '--set' }, { arg }, 'for example --set streams=8'));
      continue;
    }
    overrides.push({ path, raw: arg.slice(eq + 1) });
  }
  return { overrides, diagnostics };
}

/**
 * Applies overrides to the document in order. Paths are checked against the schema first;
 * the value replaces whatever the document held there, creating parent mappings as needed.
 */
export function applyOverrides(doc: Document, overrides: Override[], schema: JsonSchema, file: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const o of overrides) {
    const site = { file, line: 1, col: 1, path: o.path.join('.') };
    const unknown = findUnknownSegment(o.path, schema);
    if (unknown) {
      diagnostics.push(diagnostic('PIPE0013', site, { path: o.path.join('.') }, unknown.hint));
      continue;
    }
    const parsed = parseDocument(o.raw);
    const value = parsed.errors.length === 0 ? parsed.contents : o.raw;
    // Sequence positions are numbers in the document model; map keys stay strings.
    const keys: (string | number)[] = [];
    let node: unknown = doc.contents;
    for (const seg of o.path) {
      const key = isSeq(node) && /^\d+$/.test(seg) ? Number(seg) : seg;
      keys.push(key);
      node = isMap(node) || isSeq(node) ? node.get(key, true) : undefined;
    }
    try {
      doc.setIn(keys, value);
    } catch {
      diagnostics.push(
        diagnostic('PIPE0013', site, { path: o.path.join('.') }, 'a parent of this path holds a value of another kind in the spec'),
      );
    }
  }
  return diagnostics;
}
