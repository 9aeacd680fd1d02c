/**
 * Small typed helpers for writing the spec's JSON Schema in TypeScript. The point is the
 * type of `properties`: `PropertiesOf<T>` demands exactly one schema per key of the spec
 * interface `T`, so adding, removing or renaming a field in `types.ts` without updating
 * the schema is a compile error (and the committed JSON file is compared to the generated
 * one by a test).
 *
 * It lives in the operators layer, importing nothing at run time, because both sides write
 * schema with it: each operator its own spec fields (`OperatorDefinition.spec`), and
 * `src/spec/schema-definition.ts` the pipeline-level fields around them. In the spec layer it
 * would have to reach the operators through `src/spec/index.ts`, whose schema is assembled
 * from the operators: an import cycle.
 */

/** A JSON Schema node (draft 2020-12). Kept loose on purpose; the helpers add the rigour. */
export type JsonSchema = { [keyword: string]: unknown };

/** One schema per property of `T`, optional properties included, and nothing else. */
export type PropertiesOf<T> = { [K in keyof T]-?: JsonSchema };

/** Documentation every field carries: a description and examples (and a default when one exists). */
export interface FieldDocs {
  description: string;
  examples: unknown[];
  default?: unknown;
}

/**
 * A closed object schema for interface `T` (`additionalProperties: false`).
 * `required` lists the keys a user must write; keys with defaults are not required even
 * when `T` (the post-defaults type) marks them mandatory.
 */
export function objectOf<T>(
  docs: FieldDocs,
  properties: PropertiesOf<T>,
  required: readonly (keyof T & string)[] = [],
): JsonSchema {
  const schema: JsonSchema = { type: 'object', description: docs.description };
  if (docs.default !== undefined) schema.default = docs.default;
  schema.examples = docs.examples;
  schema.properties = properties;
  if (required.length > 0) schema.required = [...required];
  schema.additionalProperties = false;
  return schema;
}

/** A map from free-form names to values of one schema (e.g. `tables`). */
export function mapOf(docs: FieldDocs, values: JsonSchema, propertyNames?: JsonSchema, minProperties?: number): JsonSchema {
  const schema: JsonSchema = { type: 'object', description: docs.description, examples: docs.examples };
  if (propertyNames) schema.propertyNames = propertyNames;
  if (minProperties !== undefined) schema.minProperties = minProperties;
  schema.additionalProperties = values;
  return schema;
}

/** A documented field: `type` keywords plus description, default and examples. */
export function field(docs: FieldDocs, type: JsonSchema): JsonSchema {
  const schema: JsonSchema = { ...type, description: docs.description };
  if (docs.default !== undefined) schema.default = docs.default;
  schema.examples = docs.examples;
  return schema;
}

/** A reference into `$defs`, with the use site's own documentation. */
export function ref(name: string, docs: FieldDocs): JsonSchema {
  return field(docs, { $ref: `#/$defs/${name}` });
}

/** A non-empty string. */
export const nonEmpty: JsonSchema = { type: 'string', minLength: 1 };
/** The name of an environment variable. */
export const envName: JsonSchema = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' };
/** A non-empty list of distinct column names. */
export const columnList: JsonSchema = { type: 'array', items: nonEmpty, minItems: 1, uniqueItems: true };
