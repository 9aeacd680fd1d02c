/**
 * Reading rows: a DuckDB relation over the live files of a snapshot, with partition columns
 * rebuilt from `partitionValues` (data files do not hold them), every schema column typed
 * as the schema says, columns missing from older files as NULL, and extra ones ignored.
 */
import { dvId, readDeletionVector } from './deletion-vectors.js';
import type { Conn } from './duck.js';
import { fetchDataFiles, resolveDataPath } from './log.js';
import { deltaToDuck, quoteIdent, quoteLiteral, renderDuckType, type DuckType } from './schema.js';
import type { LiveFile, TableState } from './snapshot.js';

/** The column holding the data file a row came from, when requested. */
export const FILE_COLUMN = '__lake_file';
/** The column holding a row's 0-based position in its data file, when requested. */
export const ROW_COLUMN = '__lake_row';

/** Options for {@link scanRelation}. */
export interface ScanOptions {
  /** Read only these files (default: every live file). */
  files?: LiveFile[];
  /** Add {@link FILE_COLUMN} with each row's resolved file path. */
  withFile?: boolean;
  /** Add {@link ROW_COLUMN} with each row's position in its file (what a deletion vector names). */
  withRowIndex?: boolean;
  /**
   * Only rows whose `keys` match a row of the temp table `relation`, filtered as the files are
   * read (before deletion vectors are applied): a merge then joins its batch's rows, not the table.
   */
  matching?: { relation: string; keys: string[] };
}

/** Deleted row positions per DV (DVs never change once written), bounded. */
const dvRows = new Map<string, number[]>();
const DV_CACHE_LIMIT = 10_000;

/** The row positions a live file's DV deletes (empty without a DV). */
export async function deletedRowsOf(tablePath: string, f: LiveFile): Promise<number[]> {
  const dv = f.add.deletionVector;
  if (!dv) return [];
  const key = `${tablePath}\u0000${dvId(dv)}`;
  let rows = dvRows.get(key);
  if (!rows) {
    rows = await readDeletionVector(tablePath, dv);
    if (dvRows.size >= DV_CACHE_LIMIT) dvRows.clear();
    dvRows.set(key, rows);
  }
  return rows;
}

/**
 * A relation (file, row) of the rows the files' DVs delete, or undefined when none has a DV.
 * Inlined as lists: a DV is small next to its file, and compaction folds it away.
 */
async function deletedRelation(tablePath: string, files: LiveFile[], paths: string[]): Promise<string | undefined> {
  const values: string[] = [];
  for (let i = 0; i < files.length; i++) {
    const rows = await deletedRowsOf(tablePath, files[i]!);
    if (rows.length > 0) values.push(`(${quoteLiteral(paths[i]!)}, [${rows.join(',')}]::BIGINT[])`);
  }
  if (values.length === 0) return undefined;
  return `(SELECT f AS __lake_dvf, unnest(r) AS __lake_dvr FROM (VALUES ${values.join(', ')}) AS v(f, r))`;
}

/**
 * Column names (lower case) of data files this process wrote, by resolved path. Data files
 * never change, so the footer read that tells a scan which columns a file holds can be
 * skipped for them; files written elsewhere are still described by DuckDB.
 */
const fileColumns = new Map<string, string[]>();
const FILE_COLUMNS_LIMIT = 100_000;

/** Records the columns of a data file just written (see {@link scanRelation}). */
export function rememberFileColumns(resolvedPath: string, columns: string[]): void {
  if (fileColumns.size >= FILE_COLUMNS_LIMIT) fileColumns.clear();
  fileColumns.set(resolvedPath, columns.map((c) => c.toLowerCase()));
}

/** The union of the files' columns (lower case) when every file is known, else undefined. */
function knownColumnsOf(paths: string[]): Set<string> | undefined {
  const present = new Set<string>();
  for (const p of paths) {
    const columns = fileColumns.get(p);
    if (!columns) return undefined;
    for (const c of columns) present.add(c);
  }
  return present;
}

/** Schema columns with their DuckDB types. */
export function schemaColumns(state: TableState): { name: string; type: DuckType }[] {
  return state.schema.map((f) => ({ name: f.name, type: deltaToDuck(f.type) }));
}

/** SQL turning a partition-value text column back into its schema type. */
function partitionCast(expr: string, type: DuckType): string {
  if (type.kind === 'primitive' && type.name === 'VARCHAR') return expr;
  if (type.kind === 'primitive' && type.name === 'BLOB') return `encode(${expr})`;
  return `CAST(${expr} AS ${renderDuckType(type)})`;
}

/**
 * A parenthesized query over the snapshot's files. Needs a connection to learn which
 * columns the files hold (their footers), so missing ones can be filled with NULL.
 */
export async function scanRelation(c: Conn, state: TableState, opts: ScanOptions = {}): Promise<string> {
  const columns = schemaColumns(state);
  const partitionColumns = state.metadata?.partitionColumns ?? [];
  const files = opts.files ?? [...state.files.values()];
  const fileCol = `${opts.withFile ? `, CAST(NULL AS VARCHAR) AS ${FILE_COLUMN}` : ''}${opts.withRowIndex ? `, CAST(NULL AS BIGINT) AS ${ROW_COLUMN}` : ''}`;
  if (files.length === 0) {
    const cols = columns.map((col) => `CAST(NULL AS ${renderDuckType(col.type)}) AS ${quoteIdent(col.name)}`);
    return `(SELECT ${cols.join(', ')}${fileCol} WHERE false)`;
  }
  const paths = files.map((f) => resolveDataPath(state.path, f.add.path));
  await fetchDataFiles(state.path, files.map((f) => f.add.path));
  const deleted = await deletedRelation(state.path, files, paths);
  const rowNumbers = deleted !== undefined || opts.withRowIndex === true;
  const reader = `read_parquet([${paths.map(quoteLiteral).join(', ')}], union_by_name=true, hive_partitioning=false, filename=${quoteLiteral(FILE_COLUMN)}${rowNumbers ? ', file_row_number=true' : ''})`;
  const present = knownColumnsOf(paths) ?? new Set((await c.json(`DESCRIBE SELECT * FROM ${reader}`)).map((r) => String(r.column_name).toLowerCase()));
  const partIndex = new Map(partitionColumns.map((p, i) => [p.toLowerCase(), i]));
  const projection = columns.map((col) => {
    const pi = partIndex.get(col.name.toLowerCase());
    if (pi !== undefined) return `${partitionCast(`pv.p${pi}`, col.type)} AS ${quoteIdent(col.name)}`;
    if (!present.has(col.name.toLowerCase())) return `CAST(NULL AS ${renderDuckType(col.type)}) AS ${quoteIdent(col.name)}`;
    return `CAST(d.${quoteIdent(col.name)} AS ${renderDuckType(col.type)}) AS ${quoteIdent(col.name)}`;
  });
  if (opts.withFile) projection.push(`d.${FILE_COLUMN} AS ${FILE_COLUMN}`);
  if (opts.withRowIndex) projection.push(`d.file_row_number AS ${ROW_COLUMN}`);
  // Rows a deletion vector names are not in the table.
  const live = deleted ? ` ANTI JOIN ${deleted} AS dv ON d.${FILE_COLUMN} = dv.__lake_dvf AND d.file_row_number = dv.__lake_dvr` : '';
  // The key filter sits inside, under the DV anti join (the optimizer does not move a semi join there).
  const m = opts.matching;
  const filtered = m && m.keys.every((k) => present.has(k.toLowerCase()) && !partIndex.has(k.toLowerCase()))
    ? `(SELECT * FROM ${reader} AS d0 WHERE EXISTS (SELECT 1 FROM ${quoteIdent(m.relation)} AS s WHERE ${m.keys.map((k) => `s.${quoteIdent(k)} IS NOT DISTINCT FROM d0.${quoteIdent(k)}`).join(' AND ')}))`
    : reader;
  if (partitionColumns.length === 0) return `(SELECT ${projection.join(', ')} FROM ${filtered} AS d${live})`;
  const values = files.map((f, i) => {
    const pvs = partitionColumns.map((p) => {
      const v = f.add.partitionValues?.[p];
      // The protocol: "An empty string for any type translates to a null partition value."
      return v === null || v === undefined || v === '' ? 'CAST(NULL AS VARCHAR)' : quoteLiteral(v);
    });
    return `(${[quoteLiteral(paths[i]!), ...pvs].join(', ')})`;
  });
  const pvCols = [FILE_COLUMN, ...partitionColumns.map((_, i) => `p${i}`)].join(', ');
  return `(SELECT ${projection.join(', ')} FROM ${filtered} AS d JOIN (VALUES ${values.join(', ')}) AS pv(${pvCols}) ON d.${FILE_COLUMN} = pv.${FILE_COLUMN}${live})`;
}
