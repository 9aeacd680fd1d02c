/**
 * Schema files named by the spec (`source.schema.file`, `source.schema.reader`): loaded once
 * per thread by the decoders, and checked by `validate` with the same parser, so a file that
 * validates is a file that runs. Relative paths resolve from the working directory.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PipelineError } from '../errors.js';
import { field, nonEmpty } from './schema-builder.js';

/** `source.schema.file`, read by every decoder that takes a schema file. */
export const schemaFileField = field({ description: 'Schema file: a JSON Schema (json: draft-07, or 2019-09/2020-12 by its `$schema`; a record that does not match is dead-lettered, stage `decode`, with the first violation), `.avsc` (avro writer schema) or `.proto` (protobuf). `validate` checks that it exists and parses, and that an Avro schema is a record (PIPE0061). Relative paths resolve from the working directory.', examples: ['schemas/order.schema.json', 'schemas/order.avsc', 'schemas/order.proto'] }, nonEmpty);

const loaded = new Map<string, unknown>();

/** First line of an error message, capped (parser messages can quote whole files). */
export function firstLine(text: string): string {
  return text.split('\n')[0]!.slice(0, 300);
}

/**
 * `parse(text)` of `file`, cached per path and kind (`what` names the kind in errors, e.g.
 * `Avro schema`); a missing or unparsable file stops the run with PIPE_RUN_SCHEMA.
 */
export function loadSchemaFile<T>(file: string, what: string, parse: (text: string) => T): T {
  const key = `${what}\u0000${resolve(file)}`;
  if (loaded.has(key)) return loaded.get(key) as T;
  let value: T;
  try {
    value = parse(readFileSync(resolve(file), 'utf8'));
  } catch (err) {
    throw new PipelineError('PIPE_RUN_SCHEMA', `${what} ${file}: ${firstLine((err as Error).message)}`, { hint: '`pipeline validate` checks schema files', cause: err });
  }
  loaded.set(key, value);
  return value;
}

/** Why `file` cannot be used: missing, unreadable, or what `check` says of its text (prefixed by `invalid`). */
export function schemaFileProblem(file: string, invalid: string, check: (text: string) => string | undefined): string | undefined {
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : firstLine((err as Error).message);
  }
  try {
    return check(text);
  } catch (err) {
    return `${invalid}: ${firstLine((err as Error).message)}`;
  }
}
