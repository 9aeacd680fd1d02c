/**
 * Avro logical types become typed columns: with a fixed table shape (`source.schema.reader`,
 * else `source.schema.file`), each top-level field of logical type `decimal`, `timestamp-*`,
 * `date`, `time-*` or `uuid` is declared in every table with its matching type
 * (`DECIMAL(p,s)`, `TIMESTAMPTZ`/`TIMESTAMP`, `DATE`, `TIME`, `UUID`) unless the spec
 * declares that column itself. Every command that plans a spec sees the same declarations, so
 * `plan` shows what `run` writes. With a registry and no reader schema the shape is not known
 * ahead of the records: such fields stay text unless declared.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { logicalColumnTypes } from '../operators/avro-types.js';
import type { PipelineSpec } from '../spec/index.js';

/**
 * Adds the schema-derived column declarations to `spec`'s tables, in place (the loaded spec
 * object keeps its identity: secret redaction is keyed by it), and returns it.
 */
export function withSchemaColumns(spec: PipelineSpec): PipelineSpec {
  if (spec.source.format !== 'avro') return spec;
  const file = spec.source.schema?.reader ?? spec.source.schema?.file;
  if (file === undefined) return spec;
  let derived: Record<string, string>;
  try {
    derived = logicalColumnTypes(JSON.parse(readFileSync(resolve(file), 'utf8')));
  } catch {
    return spec; // validate reports the file (PIPE0061); run stops on it when the decoder loads it
  }
  for (const table of Object.values(spec.tables)) {
    const declared = new Set(Object.keys(table.columns ?? {}).map((c) => c.toLowerCase()));
    const added = Object.entries(derived).filter(([c]) => !declared.has(c.toLowerCase()));
    if (added.length > 0) table.columns = { ...table.columns, ...Object.fromEntries(added) };
  }
  return spec;
}
