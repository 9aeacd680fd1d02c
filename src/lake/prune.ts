/**
 * File pruning for MERGE: which live files can hold a batch's keys. A file stays a
 * candidate unless its partition values or its min/max statistics for the first merge key
 * prove that none of the batch's keys is inside. Anything unknown keeps the file.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import { DuckDBDateValue, DuckDBTimestampTZValue, DuckDBTimestampValue } from '@duckdb/node-api';
import type { Conn } from './duck.js';
import { STRING_STAT_PREFIX, STRING_STAT_TIE_BREAKER } from './files.js';
import { resolveDataPath } from './log.js';
import { partitionValueSql, quoteIdent, quoteLiteral, type DuckType } from './schema.js';
import type { LiveFile } from './snapshot.js';

type Comparable = bigint | number | string | Buffer;
type Kind = 'int' | 'float' | 'string' | 'date' | 'timestamp';

/** What is known about the batch's keys, enough to test any file (and later winners' files). */
export interface KeyFilter {
  /** Serialized partition tuples of the batch, when every partition column is a merge key. */
  partitions?: Set<string>;
  partitionColumns: string[];
  /** Sorted distinct values of the first merge key, when its type supports range pruning. */
  key?: { name: string; kind: Kind; sorted: Comparable[] };
}

const MAX_SAFE = 2 ** 53;

function kindOf(t: DuckType): Kind | undefined {
  if (t.kind !== 'primitive') return undefined;
  switch (t.name) {
    case 'TINYINT': case 'SMALLINT': case 'INTEGER': case 'BIGINT': return 'int';
    case 'FLOAT': case 'DOUBLE': return 'float';
    case 'VARCHAR': return 'string';
    case 'DATE': return 'date';
    case 'TIMESTAMPTZ': case 'TIMESTAMP': return 'timestamp';
    default: return undefined;
  }
}

function compare(a: Comparable, b: Comparable): number {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A batch key value in comparable form. */
function fromDuck(v: DuckDBValue, kind: Kind): Comparable | undefined {
  if (v === null || v === undefined) return undefined;
  switch (kind) {
    case 'int': return typeof v === 'bigint' ? v : BigInt(v as number);
    case 'float': return Number(v);
    case 'string': return Buffer.from(String(v), 'utf8');
    case 'date': return v instanceof DuckDBDateValue ? v.toString() : String(v);
    case 'timestamp':
      return v instanceof DuckDBTimestampTZValue || v instanceof DuckDBTimestampValue ? v.micros : undefined;
  }
}

/** A stats bound in comparable form; undefined means "unknown" (no pruning on that side). */
function fromStat(v: unknown, kind: Kind, isMax: boolean): Comparable | undefined {
  if (v === null || v === undefined) return undefined;
  switch (kind) {
    case 'int':
      // Stats parsed as doubles lose precision past 2^53: do not prune on such bounds.
      return typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < MAX_SAFE ? BigInt(v) : undefined;
    case 'float': return typeof v === 'number' ? v : undefined;
    case 'string': {
      if (typeof v !== 'string') return undefined;
      // String stats are cut to a 32-character prefix: a cut max ends with the tie-breaker
      // (still an upper bound); a 32-character max without it may be a bare prefix (no bound).
      if (isMax && !v.endsWith(STRING_STAT_TIE_BREAKER) && Array.from(v).length >= STRING_STAT_PREFIX) return undefined;
      return Buffer.from(v, 'utf8');
    }
    case 'date': return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : undefined;
    case 'timestamp': {
      if (typeof v !== 'string') return undefined;
      const ms = Date.parse(v);
      if (Number.isNaN(ms)) return undefined;
      // Timestamp stats may be truncated to milliseconds: widen the max by 1 ms.
      return BigInt(ms) * 1000n + (isMax ? 1000n : 0n);
    }
  }
}

/** Builds the key filter of the batch in temp table `src`. */
export async function buildKeyFilter(
  c: Conn,
  src: string,
  mergeKeys: string[],
  columns: { name: string; type: DuckType }[],
  partitionColumns: string[],
): Promise<KeyFilter> {
  const filter: KeyFilter = { partitionColumns };
  const lowerKeys = new Set(mergeKeys.map((k) => k.toLowerCase()));
  if (partitionColumns.length > 0 && partitionColumns.every((p) => lowerKeys.has(p.toLowerCase()))) {
    const parts = partitionColumns.map((p) => columns.find((col) => col.name.toLowerCase() === p.toLowerCase())!);
    // Only types whose text form is canonical: other writers spell timestamps and floats differently.
    const canonical = parts.every((p) => p.type.kind === 'decimal' || (p.type.kind === 'primitive' && !['TIMESTAMPTZ', 'TIMESTAMP', 'FLOAT', 'DOUBLE', 'BLOB'].includes(p.type.name)));
    if (canonical) {
    const select = parts.map((p, i) => `${partitionValueSql(p.name, p.type)} AS v${i}`).join(', ');
    const rows = await c.json(`SELECT DISTINCT ${select} FROM ${quoteIdent(src)}`);
    filter.partitions = new Set(rows.map((r) => JSON.stringify(parts.map((_, i) => (r[`v${i}`] === null ? null : String(r[`v${i}`]))))));
    }
  }
  const first = columns.find((col) => col.name.toLowerCase() === mergeKeys[0]!.toLowerCase());
  const kind = first ? kindOf(first.type) : undefined;
  if (first && kind) {
    const rows = await c.values(`SELECT DISTINCT ${quoteIdent(first.name)} AS k FROM ${quoteIdent(src)}`);
    const sorted: Comparable[] = [];
    let sawNull = false;
    for (const r of rows) {
      const v = fromDuck(r.k!, kind);
      if (v === undefined) sawNull = true;
      else sorted.push(v);
    }
    // A NULL key can sit in any file: keep range pruning off for such a batch.
    if (!sawNull) {
      sorted.sort(compare);
      filter.key = { name: first.name, kind, sorted };
    }
  }
  return filter;
}

/** Can this file hold any of the batch's keys? */
export function mayHoldKeys(file: LiveFile, filter: KeyFilter): boolean {
  if (filter.partitions) {
    const tuple = JSON.stringify(filter.partitionColumns.map((p) => file.add.partitionValues?.[p] ?? null));
    if (!filter.partitions.has(tuple)) return false;
  }
  const key = filter.key;
  if (!key) return true;
  if (key.sorted.length === 0) return false;
  const stats = file.file.stats;
  const lo = fromStat(stats?.minValues?.[key.name], key.kind, false);
  const hi = fromStat(stats?.maxValues?.[key.name], key.kind, true);
  if (stats?.numRecords === 0) return false;
  if (lo === undefined || hi === undefined) return true;
  // First batch key >= lo; the file is a candidate if that key is <= hi.
  let a = 0;
  let b = key.sorted.length;
  while (a < b) {
    const mid = (a + b) >> 1;
    if (compare(key.sorted[mid]!, lo) < 0) a = mid + 1;
    else b = mid;
  }
  return a < key.sorted.length && compare(key.sorted[a]!, hi) <= 0;
}

/**
 * Does this file really hold one of the batch's first-key values? Reads only that column.
 * Used on files other writers added while a merge was planned: a range that overlaps the
 * batch is not yet a conflict. Anything uncertain answers true (conservative).
 */
export async function fileHoldsKeys(c: Conn, tablePath: string, file: LiveFile, filter: KeyFilter): Promise<boolean> {
  const key = filter.key;
  if (!key || !mayHoldKeys(file, filter)) return !key;
  // A partition column is not stored in the data file.
  if (filter.partitionColumns.some((p) => p.toLowerCase() === key.name.toLowerCase())) return true;
  try {
    const source = `read_parquet(${quoteLiteral(resolveDataPath(tablePath, file.add.path))}, hive_partitioning=false)`;
    const described = await c.json(`DESCRIBE SELECT * FROM ${source}`);
    const column = described.map((r) => String(r.column_name)).find((n) => n.toLowerCase() === key.name.toLowerCase());
    if (!column) return false; // column absent: every value is NULL, and the batch has no NULL key
    const rows = await c.values(`SELECT DISTINCT ${quoteIdent(column)} AS k FROM ${source} WHERE ${quoteIdent(column)} IS NOT NULL`);
    for (const r of rows) {
      const v = fromDuck(r.k!, key.kind);
      if (v === undefined) return true;
      if (contains(key.sorted, v)) return true;
    }
    return false;
  } catch {
    return true;
  }
}

function contains(sorted: Comparable[], v: Comparable): boolean {
  let a = 0;
  let b = sorted.length;
  while (a < b) {
    const mid = (a + b) >> 1;
    const cmp = compare(sorted[mid]!, v);
    if (cmp === 0) return true;
    if (cmp < 0) a = mid + 1;
    else b = mid;
  }
  return false;
}
