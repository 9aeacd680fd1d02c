/**
 * Read-only views of a table for people: a summary (version, files, records, size, schema,
 * partition columns, txn marks) and the first rows. Record counts come from the `add`
 * stats; files written without stats (older Spark tables) are counted from their Parquet
 * footers, so the number is exact either way — or unknown (null) when such a file cannot be
 * read: the summary itself comes from the log alone.
 */
import { LakeError } from '../errors.js';
import type { Duck } from './duck.js';
import { fetchDataFiles, resolveDataPath } from './log.js';
import { tableRoot } from './storage/index.js';
import { scanRelation } from './read.js';
import { quoteLiteral } from './schema.js';
import { loadState, type LiveFile, type TableState } from './snapshot.js';

/** One schema column as `pipeline table show` prints it. */
export interface SummaryColumn {
  name: string;
  /** Delta type in Spark's short form: `long`, `decimal(10,2)`, `array<string>`, `struct<a:int>`. */
  type: string;
  nullable: boolean;
}

/** The facts `pipeline table show` prints; the JSON output has exactly these keys. */
export interface TableSummary {
  version: number;
  numFiles: number;
  /** Null when some files have no row count in the log and their footers cannot be read (missing data files). */
  numRecords: number | null;
  sizeBytes: number;
  schema: SummaryColumn[];
  partitionColumns: string[];
  /** Partitioned tables: each partition's values, files and rows (null when a file has no row count in the log). */
  partitions?: PartitionSummary[];
  /** Latest txn version per appId. */
  txns: Record<string, number>;
}

/** One partition of a partitioned table. */
export interface PartitionSummary {
  values: Record<string, string | null>;
  files: number;
  records: number | null;
}

/** The table's partitions in value order, with the row counts the log records (rows a deletion vector removed left out). */
function partitionsOf(state: TableState): PartitionSummary[] {
  const byKey = new Map<string, PartitionSummary>();
  for (const f of state.files.values()) {
    const values = f.add.partitionValues ?? {};
    const key = JSON.stringify(values);
    const p = byKey.get(key) ?? { values, files: 0, records: 0 };
    byKey.set(key, p);
    p.files++;
    const n = f.file.stats?.numRecords;
    const deleted = (f.add as { deletionVector?: { cardinality?: number } }).deletionVector?.cardinality ?? 0;
    p.records = p.records === null || typeof n !== 'number' ? null : p.records + n - deleted;
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
}

/** Delta schema type → Spark's short type string. */
export function deltaTypeString(t: unknown): string {
  if (typeof t === 'string') return t;
  const o = t as { type?: string; [k: string]: unknown };
  switch (o?.type) {
    case 'array': return `array<${deltaTypeString(o.elementType)}>`;
    case 'map': return `map<${deltaTypeString(o.keyType)},${deltaTypeString(o.valueType)}>`;
    case 'struct': {
      const fields = (o.fields as { name: string; type: unknown }[] | undefined) ?? [];
      return `struct<${fields.map((f) => `${f.name}:${deltaTypeString(f.type)}`).join(',')}>`;
    }
    default: return JSON.stringify(t);
  }
}

/** The latest state of a table, or a PIPE_LAKE_NO_TABLE error naming the path. */
export async function requireState(duck: Duck, tablePath: string): Promise<TableState> {
  const state = await loadState(duck, tableRoot(tablePath));
  if (!state) throw new LakeError('PIPE_LAKE_NO_TABLE', `${tablePath} is not a Delta table (no _delta_log commits)`, { hint: 'check the path; a table has a _delta_log folder' });
  return state;
}

/** Runs a read of the table's data files; a DuckDB failure (missing or corrupt file) becomes one clear line. */
async function readingData<T>(state: TableState, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof LakeError) throw err;
    const first = String((err as Error).message ?? err).split('\n')[0];
    throw new LakeError('PIPE_LAKE_DATA_READ', `cannot read the data files of ${state.path} at version ${state.version}: ${first}`, {
      cause: err,
      hint: 'the log references a data file that is missing or unreadable',
    });
  }
}

/** Summarizes a loaded state; reads Parquet footers only for files whose `add` has no row count. */
export async function summarizeState(duck: Duck, state: TableState): Promise<TableSummary> {
  let numRecords = 0;
  let sizeBytes = 0;
  const uncounted: string[] = [];
  for (const f of state.files.values()) {
    sizeBytes += f.file.size;
    const n = f.file.stats?.numRecords;
    // Rows a deletion vector marks are not in the table.
    if (typeof n === 'number' && Number.isFinite(n)) numRecords += n - (f.file.deletedRows ?? 0);
    else uncounted.push(f.add.path);
  }
  let counted = true;
  if (uncounted.length > 0) {
    // A summary is metadata: unreadable data files leave the count unknown instead of failing it.
    const local = uncounted.map((p) => resolveDataPath(state.path, p));
    try {
      await fetchDataFiles(state.path, uncounted);
      const rows = await duck.with((c) => c.json(`SELECT coalesce(sum(num_rows), 0)::BIGINT AS n FROM parquet_file_metadata([${local.map(quoteLiteral).join(', ')}])`));
      numRecords += Number(rows[0]!.n);
    } catch {
      counted = false;
    }
  }
  const txns: Record<string, number> = {};
  for (const [appId, t] of state.txns) txns[appId] = Number(t.version);
  return {
    version: state.version,
    numFiles: state.files.size,
    numRecords: counted ? numRecords : null,
    sizeBytes,
    schema: state.schema.map((f) => ({ name: f.name, type: deltaTypeString(f.type), nullable: f.nullable })),
    partitionColumns: [...(state.metadata?.partitionColumns ?? [])],
    ...((state.metadata?.partitionColumns ?? []).length > 0 ? { partitions: partitionsOf(state) } : {}),
    txns,
  };
}

/** The first `limit` rows of the table (partition columns filled in), in file order. */
export async function headRows(duck: Duck, state: TableState, limit: number): Promise<Record<string, unknown>[]> {
  const n = Math.max(0, Math.floor(limit));
  // Only as many files as the stats say hold `n` rows: a big table's footers are not all read.
  const files: LiveFile[] = [];
  let known = 0;
  for (const f of state.files.values()) {
    if (known >= n && files.length > 0) break;
    files.push(f);
    known += (f.file.stats?.numRecords ?? 0) - (f.file.deletedRows ?? 0);
  }
  return readingData(state, () => duck.with(async (c) => {
    const rel = await scanRelation(c, state, { files });
    return c.rows(`SELECT * FROM ${rel} AS t LIMIT ${n}`);
  }));
}
