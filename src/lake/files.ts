/**
 * Data files: DuckDB writes them (`COPY … (FORMAT parquet, COMPRESSION zstd, RETURN_STATS
 * true)`) into Hive-style partition folders with unique names, split near a target size and
 * sorted by the merge keys so keys cluster; the returned statistics become `add` actions.
 */
import fs from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Conn } from './duck.js';
import { resolveDataPath, type AddAction } from './log.js';
import { rememberFileColumns } from './read.js';
import { storageFor } from './storage/index.js';
import { partitionValueSql, quoteIdent, quoteLiteral, type DuckType } from './schema.js';

/** Default target data-file size (bytes) when the table sets no `delta.targetFileSize`. */
export const DEFAULT_TARGET_FILE_SIZE = 64 * 1024 * 1024;

/** A table column as the writer needs it. */
export interface TypedColumn {
  name: string;
  type: DuckType;
}

/** What to write. `source` is a relation (table name or parenthesized query) with every table column. */
export interface WriteFilesRequest {
  tablePath: string;
  source: string;
  columns: TypedColumn[];
  partitionColumns: string[];
  /** Columns to sort each file by (the merge keys), so key ranges per file stay narrow. */
  orderBy: string[];
  targetFileSize: number;
}

/**
 * Hive's path escaping for partition folder names (the characters Hive's
 * `FileUtils.escapePathName` escapes, plus control characters).
 */
export function hiveEscape(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f || '"#%\'*/:=?\\{[]^'.includes(ch)) {
      out += '%' + code.toString(16).toUpperCase().padStart(2, '0');
    } else {
      out += ch;
    }
  }
  return out;
}

/** Bytes a folder name may hold on common file systems (NAME_MAX). */
const FOLDER_NAME_BYTES = 255;

/**
 * The folder of a partition tuple, relative to the table (`a=1/b=__HIVE_DEFAULT_PARTITION__`).
 * A value whose folder name would pass the file system's 255 bytes goes to a folder named by
 * its first 32 characters and a hash of the whole value: readers take partition values from
 * the log's `partitionValues`, never from the path, so the row keeps its value.
 */
export function partitionDir(partitionColumns: string[], values: Record<string, string | null>): string {
  return partitionColumns
    .map((c) => {
      const value = values[c];
      if (value === null || value === undefined) return `${hiveEscape(c)}=__HIVE_DEFAULT_PARTITION__`;
      const folder = `${hiveEscape(c)}=${hiveEscape(value)}`;
      if (Buffer.byteLength(folder) <= FOLDER_NAME_BYTES) return folder;
      const head = Array.from(value).slice(0, 32).join('');
      return `${hiveEscape(c)}=${hiveEscape(head)}~${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
    })
    .join('/');
}

/** Encodes a relative file-system path as the URI path an `add` carries (decoded once by readers). */
export function encodeAddPath(relative: string): string {
  return relative
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/%3D/g, '=').replace(/%2B/g, '+'))
    .join('/');
}

/** Writes the rows of `req.source` as data files; returns one `add` per non-empty file. */
export async function writeDataFiles(c: Conn, req: WriteFilesRequest): Promise<AddAction[]> {
  const partTypes = req.partitionColumns.map((p) => req.columns.find((col) => col.name === p)!);
  const dataColumns = req.columns.filter((col) => !req.partitionColumns.includes(col.name));
  let tuples: Record<string, string | null>[] = [{}];
  if (partTypes.length > 0) {
    const select = partTypes.map((p, i) => `${partitionValueSql(p.name, p.type)} AS v${i}`).join(', ');
    const rows = await c.json(`SELECT DISTINCT ${select} FROM ${req.source}`);
    tuples = rows.map((r) => Object.fromEntries(partTypes.map((p, i) => [p.name, r[`v${i}`] === null ? null : String(r[`v${i}`])])));
  }
  // DuckDB splits files only between row groups: small targets (tests) need small row groups.
  const smallFiles = req.targetFileSize < 2 * 1024 * 1024;
  const adds: AddAction[] = [];
  const store = storageFor(req.tablePath);
  const written: string[] = [];
  for (const tuple of tuples) {
    const rel = partitionDir(req.partitionColumns, tuple);
    // DuckDB writes locally: into the table folder itself, or the bucket's cache folder.
    const dir = store.localPath(rel);
    await fs.mkdir(dir, { recursive: true });
    const where = partTypes
      .map((p) => `${partitionValueSql(p.name, p.type)} IS NOT DISTINCT FROM ${tuple[p.name] === null ? 'NULL' : quoteLiteral(tuple[p.name]!)}`)
      .join(' AND ');
    const order = req.orderBy.length > 0 ? ` ORDER BY ${req.orderBy.map(quoteIdent).join(', ')}` : '';
    const query = `SELECT ${dataColumns.map((col) => quoteIdent(col.name)).join(', ')} FROM ${req.source}${where ? ` WHERE ${where}` : ''}${order}`;
    const options = [
      'FORMAT parquet', 'COMPRESSION zstd', `FILE_SIZE_BYTES ${Math.max(1024, Math.floor(req.targetFileSize))}`,
      'OVERWRITE_OR_IGNORE', `FILENAME_PATTERN 'part-{uuid}'`, 'RETURN_STATS true',
      ...(smallFiles ? ['ROW_GROUP_SIZE 2048'] : []),
    ];
    const files = await c.json(`COPY (${query}) TO ${quoteLiteral(dir)} (${options.join(', ')})`);
    const now = Date.now();
    for (const w of files) {
      const file = String(w.filename);
      const count = Number(w.count);
      if (count === 0) {
        // DuckDB may close an empty trailing file when the split lands on the last row.
        await fs.rm(file, { force: true });
        continue;
      }
      const relative = rel === '' ? path.basename(file) : `${rel}/${path.basename(file)}`;
      written.push(relative);
      const addPath = encodeAddPath(relative);
      rememberFileColumns(resolveDataPath(req.tablePath, addPath), dataColumns.map((col) => col.name));
      adds.push({
        path: addPath,
        partitionValues: tuple,
        size: Number(w.file_size_bytes),
        modificationTime: now,
        dataChange: true,
        stats: statsJson(count, w.column_statistics, dataColumns),
      });
    }
  }
  // Only now are the files visible in a bucket; a crash before the commit leaves them
  // unreferenced, for vacuum.
  await store.upload(written);
  return adds;
}

/** RETURN_STATS column statistics → Delta stats JSON (top-level primitive columns only). */
function statsJson(count: number, columnStats: unknown, columns: TypedColumn[]): string {
  const byName = new Map<string, Record<string, string | null>>();
  for (const entry of (columnStats as { key: string; value: { key: string; value: string | null }[] }[] | null) ?? []) {
    const m = /^"((?:[^"]|"")*)"$/.exec(entry.key);
    if (!m) continue; // nested leaf such as "s"."a": not recorded
    byName.set(m[1]!.replace(/""/g, '"'), Object.fromEntries(entry.value.map((kv) => [kv.key, kv.value])));
  }
  const mins: string[] = [];
  const maxs: string[] = [];
  const nulls: string[] = [];
  for (const col of columns) {
    const s = byName.get(col.name);
    if (!s || col.type.kind === 'struct' || col.type.kind === 'list' || col.type.kind === 'map') continue;
    const key = JSON.stringify(col.name);
    if (s.null_count !== undefined && s.null_count !== null) nulls.push(`${key}:${Number(s.null_count)}`);
    const lo = statValue(s.min ?? null, col.type, false);
    const hi = statValue(s.max ?? null, col.type, true);
    if (lo !== undefined && hi !== undefined) {
      mins.push(`${key}:${lo}`);
      maxs.push(`${key}:${hi}`);
    }
  }
  return `{"numRecords":${count},"minValues":{${mins.join(',')}},"maxValues":{${maxs.join(',')}},"nullCount":{${nulls.join(',')}}}`;
}

/** Characters kept in string stats (Spark's limit): long text columns must not bloat the log. */
export const STRING_STAT_PREFIX = 32;
/** Appended to a truncated maximum so it stays an upper bound (the largest code point). */
export const STRING_STAT_TIE_BREAKER = '\u{10FFFF}';

/** A string min/max cut to {@link STRING_STAT_PREFIX} characters; a cut maximum gets the tie-breaker. */
export function truncateStringStat(value: string, isMax: boolean): string {
  const chars = Array.from(value);
  if (chars.length <= STRING_STAT_PREFIX) return value;
  const prefix = chars.slice(0, STRING_STAT_PREFIX).join('');
  return isMax ? prefix + STRING_STAT_TIE_BREAKER : prefix;
}

/** One min/max as JSON text in Delta's stats form, or undefined when it is not recorded. */
function statValue(raw: string | null, type: DuckType, isMax: boolean): string | undefined {
  if (raw === null) return undefined;
  if (type.kind === 'decimal') return /^-?\d+(\.\d+)?$/.test(raw) ? raw : undefined;
  if (type.kind !== 'primitive') return undefined;
  switch (type.name) {
    case 'TINYINT': case 'SMALLINT': case 'INTEGER': case 'BIGINT':
      return /^-?\d+$/.test(raw) ? raw : undefined;
    case 'FLOAT': case 'DOUBLE': {
      const n = Number(raw);
      return Number.isFinite(n) ? JSON.stringify(n) : undefined;
    }
    case 'VARCHAR':
      return JSON.stringify(truncateStringStat(raw, isMax));
    case 'DATE':
      return JSON.stringify(raw);
    case 'TIMESTAMPTZ': {
      // "2026-11-22 13:58:20.640727+00" → "2026-11-22T13:58:20.640Z" (truncated to ms: readers widen the max by 1 ms).
      const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d+))?\+00$/.exec(raw);
      if (!m) return undefined;
      return JSON.stringify(`${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`);
    }
    default:
      return undefined;
  }
}
