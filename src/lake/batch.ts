/**
 * Loading a batch into DuckDB: NDJSON (the runtime's raw record values, or rows serialised
 * to a temp file) read with `read_json`, known columns read directly as the table's types,
 * new columns typed from the declared types or auto-detection, and type changes that
 * cannot widen rejected with SchemaMismatchError before anything is written.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { LakeError, SchemaMismatchError } from '../errors.js';
import type { Conn } from './duck.js';
import type { TypedColumn } from './files.js';
import { canWriteInto, normalizeDuckType, parseDuckType, quoteIdent, quoteLiteral, renderDuckType, type DuckType } from './schema.js';
import type { BatchInput } from './types.js';

/** A batch loaded into a temp table. Row order is the input order (`rowid`). */
export interface LoadedBatch {
  table: string;
  rowCount: number;
  /** Every batch column, typed as it will be written (table types for known columns). */
  columns: TypedColumn[];
  /** Columns the table does not have yet (nullable additions). */
  newColumns: TypedColumn[];
}

/** What the loader must know about the destination. */
export interface LoadContext {
  tableName: string;
  /** Table columns (empty when the table is created by this write). */
  known: TypedColumn[];
  /** Declared DuckDB types from the write options. */
  declared: Record<string, string>;
  /** Name of the temp table to create. */
  into: string;
}

/** Serialises rows to NDJSON: bigint as a JSON number, bytes as base64, dates as ISO text. */
export function rowsToNdjson(rows: Record<string, unknown>[]): string {
  const marker = `__lake_bigint_${randomUUID().slice(0, 8)}__`;
  const lines = rows.map((r) =>
    JSON.stringify(r, function replacer(this: unknown, _k: string, v: unknown) {
      if (typeof v === 'bigint') return `${marker}${v}`;
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
      if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
        return Buffer.from((v as { data: number[] }).data).toString('base64');
      }
      return v;
    }),
  );
  return lines.join('\n').replace(new RegExp(`"${marker}(-?\\d+)"`, 'g'), '$1') + (lines.length ? '\n' : '');
}

/** Loads the batch into temp table `ctx.into`. */
export async function loadBatch(c: Conn, input: BatchInput, ctx: LoadContext): Promise<LoadedBatch> {
  let file: string;
  let tempFile: string | undefined;
  if (input.kind === 'rows') {
    tempFile = path.join(os.tmpdir(), `lake-batch-${randomUUID()}.ndjson`);
    await fs.writeFile(tempFile, rowsToNdjson(input.rows), 'utf8');
    file = tempFile;
  } else {
    file = input.path;
  }
  try {
    // Type detection from a sample is cheap; if the load then fails (a later row disagrees
    // with the sample), detect over every row and try once more.
    const hinted = input.kind === 'ndjson' ? hintedColumns(input.columns, ctx) : undefined;
    if (hinted) return await loadNdjson(c, file, ctx, false, hinted);
    try {
      return await loadNdjson(c, file, ctx, false);
    } catch (err) {
      if (!(err instanceof SchemaMismatchError) || (err.details as { sampled?: boolean } | undefined)?.sampled !== true) throw err;
      await c.run(`DROP TABLE IF EXISTS ${quoteIdent(ctx.into)}`);
      return await loadNdjson(c, file, ctx, true);
    }
  } finally {
    if (tempFile) await fs.rm(tempFile, { force: true });
  }
}

/**
 * The producer's column hint as detected columns, when it can stand in for detection: every
 * hinted key is a table column or a declared one (new keys still need DuckDB's detection,
 * which recognises timestamps and nested types that a hint cannot express).
 */
function hintedColumns(hint: Record<string, string> | undefined, ctx: LoadContext): TypedColumn[] | undefined {
  if (!hint) return undefined;
  const entries = Object.entries(hint);
  if (entries.length === 0) return undefined;
  const covered = new Set([...ctx.known.map((k) => k.name.toLowerCase()), ...Object.keys(ctx.declared).map((k) => k.toLowerCase())]);
  if (!entries.every(([name]) => covered.has(name.toLowerCase()))) return undefined;
  try {
    return entries.map(([name, type]) => ({ name, type: parseDuckType(type) }));
  } catch {
    return undefined;
  }
}

async function loadNdjson(c: Conn, file: string, ctx: LoadContext, fullDetection: boolean, hinted?: TypedColumn[]): Promise<LoadedBatch> {
  let size: number;
  try {
    size = (await fs.stat(file)).size;
  } catch (err) {
    throw new LakeError('PIPE_LAKE_BAD_BATCH', `batch file ${file} cannot be read`, { cause: err });
  }
  let sampled = false;
  let detected = size === 0 ? [] : (hinted ?? (await detectColumns(c, file, fullDetection)));
  if (!fullDetection && !hinted && size > 0) {
    // The sample may miss keys that appear only in later rows: a key-only pass finds them.
    const seen = new Set(detected.map((d) => d.name));
    const keys = await c.json(`SELECT DISTINCT unnest(json_keys(json)) AS k FROM read_json_objects(${quoteLiteral(file)}, format='newline_delimited')`);
    if (keys.some((k) => !seen.has(String(k.k)))) detected = await detectColumns(c, file, true);
    else sampled = true;
  }
  const knownByName = new Map(ctx.known.map((k) => [k.name.toLowerCase(), k]));
  const declared = new Map(Object.entries(ctx.declared).map(([k, v]) => [k.toLowerCase(), { name: k, type: v }]));
  const columns: TypedColumn[] = [...ctx.known];
  const newColumns: TypedColumn[] = [];
  const seen = new Set(ctx.known.map((k) => k.name.toLowerCase()));
  const jsonName = new Map<string, string>();
  for (const d of detected) {
    const lower = d.name.toLowerCase();
    jsonName.set(lower, d.name);
    const known = knownByName.get(lower);
    if (known) {
      // Mixed JSON types (e.g. numbers and strings) come out as JSON: look at each kind present.
      const kinds = d.type.kind === 'primitive' && d.type.name === 'JSON' ? await jsonKinds(c, file, d.name) : [d.type];
      const bad = kinds.find((k) => !canWriteInto(k, known.type));
      if (bad) {
        throw new SchemaMismatchError(
          'PIPE_LAKE_SCHEMA_MISMATCH',
          `table ${ctx.tableName}: column ${known.name} is ${renderDuckType(known.type)} but the batch has ${renderDuckType(bad)}`,
          {
            hint: 'write such values to a new column, or cast them upstream; a column type never changes',
            details: { table: ctx.tableName, column: known.name, tableType: renderDuckType(known.type), batchType: renderDuckType(bad) },
          },
        );
      }
      continue;
    }
    if (seen.has(lower)) continue;
    seen.add(lower);
    const decl = declared.get(lower);
    const base = decl ? parseDuckType(decl.type) : d.type;
    const type = normalizeDuckType(base.kind === 'primitive' && (base.name === 'JSON' || base.name === 'NULL') ? { kind: 'primitive', name: 'VARCHAR' } : base);
    const col = { name: d.name, type };
    columns.push(col);
    newColumns.push(col);
  }
  // Declared columns absent from this batch still become (all-NULL) columns of the table.
  for (const [lower, decl] of declared) {
    if (seen.has(lower)) continue;
    seen.add(lower);
    const col = { name: decl.name, type: normalizeDuckType(parseDuckType(decl.type)) };
    columns.push(col);
    newColumns.push(col);
  }
  const into = quoteIdent(ctx.into);
  if (detected.length === 0) {
    const cols = columns.map((col) => `CAST(NULL AS ${renderDuckType(col.type)}) AS ${quoteIdent(col.name)}`);
    await c.run(`CREATE TEMP TABLE ${into} AS SELECT ${cols.join(', ') || '1 AS __lake_empty'} WHERE false`);
    return { table: ctx.into, rowCount: 0, columns, newColumns };
  }
  const isBlob = (t: TypedColumn['type']) => t.kind === 'primitive' && t.name === 'BLOB';
  // Read known and new columns by their JSON key spelling; BLOBs arrive as base64 text.
  const spec = columns
    .map((col) => `${quoteLiteral(jsonName.get(col.name.toLowerCase()) ?? col.name)}: ${quoteLiteral(isBlob(col.type) ? 'VARCHAR' : renderDuckType(col.type))}`)
    .join(', ');
  const select = columns
    .map((col) => {
      const src = quoteIdent(jsonName.get(col.name.toLowerCase()) ?? col.name);
      return `${isBlob(col.type) ? `from_base64(${src})` : src} AS ${quoteIdent(col.name)}`;
    })
    .join(', ');
  let created: Record<string, unknown>[];
  try {
    // CREATE TABLE … AS answers with its row count: no separate count(*) pass.
    created = await c.json(
      `CREATE TEMP TABLE ${into} AS SELECT ${select} FROM read_json(${quoteLiteral(file)}, format='newline_delimited', columns={${spec}})`,
    );
  } catch (err) {
    throw new SchemaMismatchError('PIPE_LAKE_SCHEMA_MISMATCH', `table ${ctx.tableName}: batch does not fit the table's column types: ${(err as Error).message}`, {
      cause: err,
      details: { table: ctx.tableName, sampled },
    });
  }
  const reported = created[0]?.Count;
  const rowCount = reported === undefined ? Number((await c.json(`SELECT count(*) AS n FROM ${into}`))[0]!.n) : Number(reported);
  return { table: ctx.into, rowCount, columns, newColumns };
}

const JSON_KIND_TYPES: Record<string, DuckType> = {
  BIGINT: { kind: 'primitive', name: 'BIGINT' },
  UBIGINT: { kind: 'primitive', name: 'BIGINT' },
  DOUBLE: { kind: 'primitive', name: 'DOUBLE' },
  VARCHAR: { kind: 'primitive', name: 'VARCHAR' },
  BOOLEAN: { kind: 'primitive', name: 'BOOLEAN' },
  OBJECT: { kind: 'struct', fields: [] },
  ARRAY: { kind: 'list', element: { kind: 'primitive', name: 'JSON' } },
};

/** The JSON kinds (number, string, object...) one key holds across the file, as DuckDB types. */
async function jsonKinds(c: Conn, file: string, key: string): Promise<DuckType[]> {
  const rows = await c.json(
    `SELECT DISTINCT json_type(${quoteIdent(key)}) AS t FROM read_json(${quoteLiteral(file)}, format='newline_delimited', columns={${quoteLiteral(key)}: 'JSON'})`,
  );
  return rows.map((r) => JSON_KIND_TYPES[String(r.t)]).filter((t): t is DuckType => t !== undefined);
}

/** Auto-detects the columns of an NDJSON file from a sample of rows, or from all of them. */
async function detectColumns(c: Conn, file: string, full: boolean): Promise<TypedColumn[]> {
  let rows: Record<string, unknown>[];
  try {
    rows = await c.json(`DESCRIBE SELECT * FROM read_json(${quoteLiteral(file)}, format='newline_delimited'${full ? ', sample_size=-1' : ''})`);
  } catch (err) {
    throw new LakeError('PIPE_LAKE_BAD_BATCH', `batch file ${file} is not newline-delimited JSON objects: ${(err as Error).message}`, { cause: err });
  }
  return rows.map((r) => ({ name: String(r.column_name), type: parseDuckType(String(r.column_type)) }));
}
