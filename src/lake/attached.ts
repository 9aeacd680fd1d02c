/**
 * Columns a caller attaches to a batch beside the records' own values, one value per row in
 * input order (the Kafka key, headers, partition, offset, timestamp, topic of each record):
 * written to a side file and joined to the rows by position while the batch loads, with the
 * type the caller fixes (never inferred, so every batch gives the same column). A row the
 * caller marks with a reason (e.g. a key that is not valid JSON) fails alone.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { LakeError } from '../errors.js';
import type { TypedColumn } from './files.js';
import { normalizeDuckType, parseDuckType, quoteIdent, quoteLiteral, renderDuckType } from './schema.js';
import type { AttachedColumns } from './types.js';

/** Flag column holding the caller's reason to fail a row. */
export const ATTACH_BAD = '__lake_abad';

/** How an attached value is written to the side file and read back as its column type. */
function conversion(type: string): { readAs: string; value: (v: string) => string } {
  switch (type) {
    case 'BLOB': return { readAs: 'VARCHAR', value: (v) => `from_base64(${v})` };
    case 'JSON': return { readAs: 'VARCHAR', value: (v) => `CAST(${v} AS JSON)` };
    case 'TIMESTAMPTZ': return { readAs: 'BIGINT', value: (v) => `make_timestamptz(${v} * 1000)` };
    default: return { readAs: type, value: (v) => v };
  }
}

/** Writes the side file (one JSON object per row); the caller removes it. */
export async function attachedFile(attached: AttachedColumns, rowCount: number | undefined): Promise<string> {
  if (rowCount !== undefined && attached.values.length !== rowCount) {
    throw new LakeError('PIPE_LAKE_BAD_BATCH', `batch has ${rowCount} rows but ${attached.values.length} rows of attached columns`);
  }
  const names = attached.columns.map((c) => c.name);
  const lines = attached.values.map((row, i) => {
    const o: Record<string, unknown> = {};
    names.forEach((n, j) => (o[n] = row[j] ?? null));
    o[ATTACH_BAD] = attached.rejects?.[i] ?? '';
    return JSON.stringify(o);
  });
  const file = path.join(os.tmpdir(), `lake-attached-${randomUUID()}.ndjson`);
  await fs.writeFile(file, lines.join('\n') + '\n', 'utf8');
  return file;
}

/**
 * `inner` with the attached columns joined by position (replacing a column of the same name,
 * whose record values the caller has left out), plus {@link ATTACH_BAD}. Updates `columns`
 * and `newColumns` in place.
 */
export function attachRelation(inner: string, file: string, attached: AttachedColumns, columns: TypedColumn[], newColumns: TypedColumn[], keyColumns: string[]): string {
  const spec = attached.columns.map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(conversion(c.type).readAs)}`);
  spec.push(`${quoteLiteral(ATTACH_BAD)}: 'VARCHAR'`);
  const replaced: string[] = [];
  const added: string[] = [];
  for (const c of attached.columns) {
    const type = normalizeDuckType(parseDuckType(c.type));
    const at = columns.findIndex((col) => col.name.toLowerCase() === c.name.toLowerCase());
    const value = conversion(c.type).value(`meta.${quoteIdent(c.name)}`);
    if (at >= 0) {
      // The table's type wins (a column written before keeps its type).
      const name = columns[at]!.name;
      replaced.push(`CAST(${value} AS ${renderDuckType(columns[at]!.type)}) AS ${quoteIdent(name)}`);
    } else {
      const column: TypedColumn = { name: c.name, type };
      columns.push(column);
      newColumns.push(column);
      added.push(`${value} AS ${quoteIdent(c.name)}`);
    }
  }
  // An attached merge key or sequence must hold a value (a record without a key, say).
  const keys = attached.columns.filter((c) => keyColumns.some((k) => k.toLowerCase() === c.name.toLowerCase()));
  const nullKey = keys.map((c) => `CASE WHEN meta.${quoteIdent(c.name)} IS NULL THEN ${quoteLiteral(`${c.name} (merge key or sequence) is NULL`)} END`);
  const bad = nullKey.length > 0 ? `coalesce(nullif(meta.${ATTACH_BAD}, ''), ${nullKey.join(', ')}, '') AS ${ATTACH_BAD}` : `meta.${ATTACH_BAD}`;
  const select = [replaced.length > 0 ? `t.* REPLACE (${replaced.join(', ')})` : 't.*', ...added, bad];
  return `SELECT ${select.join(', ')} FROM (${inner}) AS t POSITIONAL JOIN read_json(${quoteLiteral(file)}, format='newline_delimited', columns={${spec.join(', ')}}) AS meta`;
}
