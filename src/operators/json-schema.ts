/**
 * JSON Schema validation of decoded JSON records (`source.format: json` with
 * `source.schema.file`): the schema is compiled once per thread (ajv; draft-07 by default,
 * 2019-09 or 2020-12 when its `$schema` says so) and each record failing it is dead-lettered
 * with the first violation (where and what).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { loadSchemaFile, schemaFileProblem } from './schema-files.js';

/** Compiles schema text; throws with ajv's message when it is not a valid JSON Schema. */
function compile(text: string): ValidateFunction {
  const schema = JSON.parse(text) as { $schema?: unknown };
  const dialect = typeof schema.$schema === 'string' ? schema.$schema : '';
  const options = { allErrors: false, strict: false };
  const ajv = dialect.includes('2020-12') ? new Ajv2020(options) : dialect.includes('2019-09') ? new Ajv2019(options) : new Ajv(options);
  return ajv.compile(schema as object);
}

/** The validator of a JSON Schema file (compiled once per thread); paths resolve from the working directory. */
export function jsonSchemaValidator(file: string): ValidateFunction {
  return loadSchemaFile(file, 'JSON Schema', compile);
}

/** Why a JSON Schema file cannot be used (missing, not JSON, not a valid schema), or undefined. */
export function jsonSchemaProblem(file: string): string | undefined {
  return schemaFileProblem(file, 'not a valid JSON Schema', (text) => void compile(text));
}

/** The dead-letter reason of a record `validate` rejected. */
export function schemaViolation(validate: ValidateFunction): string {
  const e = validate.errors?.[0];
  if (!e) return 'does not match the JSON Schema';
  const where = e.instancePath === '' ? 'the record' : `'${e.instancePath.slice(1).replace(/\//g, '.')}'`;
  const extra = e.keyword === 'additionalProperties' ? ` ('${(e.params as { additionalProperty: string }).additionalProperty}')` : '';
  return `does not match the JSON Schema: ${where} ${e.message ?? e.keyword}${extra}`;
}
