/**
 * Schema files of the source: `validate` checks that each file exists and parses (a JSON
 * Schema for json, `.avsc` for avro, `.proto` for protobuf), that an Avro schema is a record, and that a Protobuf `messageType` is defined, pointing at
 * the spec line that names the file (PIPE0061). Relative paths resolve from the working
 * directory, as `pipeline run` resolves them.
 */
import { diagnostic, type Diagnostic, type LoadedSpec } from '../spec/index.js';
import { avroSchemaProblem } from '../operators/decode-avro.js';
import { protobufSchemaProblem } from '../operators/decode-protobuf.js';
import { jsonSchemaProblem } from '../operators/json-schema.js';

/** PIPE0061 diagnostics for the spec's schema files. */
export function checkSchemaFiles(loaded: LoadedSpec): Diagnostic[] {
  const source = (loaded.data as { source?: { format?: unknown; schema?: Record<string, unknown> } } | undefined)?.source;
  const schema = source?.schema;
  if (typeof schema !== 'object' || schema === null) return [];
  const out: Diagnostic[] = [];
  const report = (key: string, detail: string) => {
    const path = `source.schema.${key}`;
    const at = loaded.valuePositions?.get(path) ?? loaded.positions.get(path) ?? { line: 1, col: 1 };
    out.push(diagnostic('PIPE0061', { file: loaded.file, ...at, path }, { path: String(schema[key === 'messageType' ? 'file' : key]), detail }));
  };
  if (source?.format === undefined || source.format === 'json') {
    const problem = typeof schema.file === 'string' ? jsonSchemaProblem(schema.file) : undefined;
    if (problem) report('file', problem);
  } else if (source?.format === 'avro') {
    for (const key of ['file', 'reader']) {
      const file = schema[key];
      if (typeof file !== 'string') continue;
      const problem = avroSchemaProblem(file);
      if (problem) report(key, problem);
    }
  } else if (source?.format === 'protobuf' && typeof schema.file === 'string') {
    const problem = protobufSchemaProblem(schema.file, typeof schema.messageType === 'string' ? schema.messageType : undefined);
    if (problem?.file) report('file', problem.file);
    if (problem?.messageType) report('messageType', problem.messageType);
  }
  return out;
}
