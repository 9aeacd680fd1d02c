/**
 * The spec fields the operators define (`OperatorDefinition.spec`), collected from a registry
 * so the schema can place each one where its spec object has it. Collecting is strict, so a
 * registry and the spec's interfaces cannot drift apart unnoticed: a field two operators
 * define differently, a field no operator defines, and a field an operator defines that the
 * spec does not place each stop the build of the schema with a message naming the field.
 */
import type { OperatorDefinition, SpecObjects } from '../operators/api.js';
import type { JsonSchema } from '../operators/schema-builder.js';

/** The path of field `key` of spec object `at`, as the reference docs write it. */
export function fieldPath(at: keyof SpecObjects, key: string): string {
  return at === 'root' ? key : `${at}.${key}`;
}

/** Every spec field path an operator defines (a decoder's format as `source.format: <value>`). */
export function operatorSpecPaths(op: OperatorDefinition): string[] {
  const paths = op.spec?.format !== undefined ? [`source.format: ${op.spec.format}`] : [];
  for (const [at, fields] of Object.entries(op.spec?.fields ?? {}) as [keyof SpecObjects, Record<string, JsonSchema>][]) {
    for (const key of Object.keys(fields)) paths.push(fieldPath(at, key));
  }
  return paths;
}

/** Spec field path -> the kinds of the operators that define (or, for `source.format`, select on) it. */
export function fieldOwners(registry: readonly OperatorDefinition[]): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const op of registry) {
    for (const path of operatorSpecPaths(op)) {
      const field = path.replace(/: .*$/, '');
      owners.set(field, [...(owners.get(field) ?? []), op.kind]);
    }
  }
  return owners;
}

/** What the schema takes from the operators: their fields, one place each, and the decoders' formats. */
export interface OperatorFields {
  /** The `source.format` values, in registry order. */
  formats: string[];
  /** The operators' schemas of fields `keys` of spec object `at`, in that order; throws for a field no operator defines. */
  take<At extends keyof SpecObjects, K extends keyof SpecObjects[At] & string>(at: At, keys: readonly K[]): Record<K, JsonSchema>;
  /** Throws for a field an operator defines that no `take` placed. */
  checkAllTaken(): void;
}

/** Collects the fields of `registry`; throws when two operators define one field differently. */
export function operatorFields(registry: readonly OperatorDefinition[]): OperatorFields {
  const defined = new Map<string, { schema: JsonSchema; kind: string }>();
  const formats: string[] = [];
  for (const op of registry) {
    if (op.spec?.format !== undefined) {
      if (formats.includes(op.spec.format)) throw new Error(`two operators select on source.format '${op.spec.format}'`);
      formats.push(op.spec.format);
    }
    for (const [at, fields] of Object.entries(op.spec?.fields ?? {}) as [keyof SpecObjects, Record<string, JsonSchema>][]) {
      for (const [key, schema] of Object.entries(fields)) {
        const path = fieldPath(at, key);
        const earlier = defined.get(path);
        // One field, one schema: operators that read the same field share its schema object.
        if (earlier && earlier.schema !== schema) throw new Error(`${path} is defined by both ${earlier.kind} and ${op.kind}, with different schemas; share one schema object`);
        if (!earlier) defined.set(path, { schema, kind: op.kind });
      }
    }
  }
  const taken = new Set<string>();
  return {
    formats,
    take(at, keys) {
      const out = {} as Record<(typeof keys)[number], JsonSchema>;
      for (const key of keys) {
        const path = fieldPath(at, key);
        const found = defined.get(path);
        if (!found) throw new Error(`no operator defines spec field ${path}`);
        taken.add(path);
        out[key] = found.schema;
      }
      return out;
    },
    checkAllTaken() {
      const extra = [...defined.keys()].filter((path) => !taken.has(path));
      if (extra.length > 0) {
        const list = extra.map((path) => `${path} (${defined.get(path)!.kind})`).join(', ');
        throw new Error(`operators define spec fields the spec does not have: ${list}`);
      }
    },
  };
}
