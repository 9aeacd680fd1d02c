/**
 * File pruning for MERGE: which live files can hold a batch's keys. A file stays a
 * candidate unless its partition values, or the min/max statistics of one of the merge-key
 * columns, prove that none of the batch's keys is inside. Anything unknown keeps the file.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import { DuckDBDateValue, DuckDBTimestampTZValue, DuckDBTimestampValue } from '@duckdb/node-api';
import type { Conn } from './duck.js';
import { STRING_STAT_PREFIX, STRING_STAT_TIE_BREAKER } from './files.js';
import { fetchDataFiles, resolveDataPath } from './log.js';
import { partitionValueSql, quoteIdent, quoteLiteral, type DuckType } from './schema.js';
import type { LiveFile } from './snapshot.js';

type Comparable = bigint | number | string;
type Kind = 'int' | 'float' | 'string' | 'date' | 'timestamp';

/** What is known about the batch's keys, enough to test any file (and later winners' files). */
export interface KeyFilter {
  /** Serialized partition tuples of the batch, when every partition column is a merge key. */
  partitions?: Set<string>;
  partitionColumns: string[];
  /**
   * Sorted distinct batch values per merge-key column whose type supports range pruning
   * (partition columns and columns with a NULL in the batch are left out). A file can hold a
   * batch key only if every one of these columns has a batch value inside its range.
   */
  keys: KeyRange[];
}

/** The batch's distinct values of one key column, sorted. */
export interface KeyRange {
  name: string;
  kind: Kind;
  sorted: Comparable[];
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

/**
 * Text in UTF-8 byte order, which is code point order (the order of Parquet string stats).
 * JavaScript's `<` compares UTF-16 units, which differs only where a surrogate (a code point
 * past U+FFFF) meets U+E000..U+FFFF: those two ranges swap places.
 */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  const rank = (u: number) => (u >= 0xd800 && u <= 0xdfff ? u + 0x2000 : u >= 0xe000 ? u - 0x800 : u);
  return rank(x) - rank(y);
}

function compare(a: Comparable, b: Comparable): number {
  if (typeof a === 'string' && typeof b === 'string') return compareText(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A batch key value in comparable form. */
function fromDuck(v: DuckDBValue, kind: Kind): Comparable | undefined {
  if (v === null || v === undefined) return undefined;
  switch (kind) {
    case 'int': return typeof v === 'bigint' ? v : BigInt(v as number);
    case 'float': return Number(v);
    case 'string': return String(v);
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
      return v;
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
  const filter: KeyFilter = { partitionColumns, keys: [] };
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
  const partitionLower = new Set(partitionColumns.map((p) => p.toLowerCase()));
  for (const k of mergeKeys) {
    if (partitionLower.has(k.toLowerCase())) continue;
    const col = columns.find((cd) => cd.name.toLowerCase() === k.toLowerCase());
    const kind = col ? kindOf(col.type) : undefined;
    if (!col || !kind) continue;
    const sorted = await distinctKeys(c, src, col.name, kind);
    // A NULL key can sit in any file: no range pruning on that column.
    if (!sorted) continue;
    // Usually sorted already (by DuckDB): one linear check instead of a sort.
    if (!isSorted(sorted)) sorted.sort(compare);
    filter.keys.push({ name: col.name, kind, sorted });
  }
  return filter;
}

function isSorted(values: Comparable[]): boolean {
  for (let i = 1; i < values.length; i++) if (compare(values[i - 1]!, values[i]!) > 0) return false;
  return true;
}

/**
 * The distinct non-NULL values of one key column in comparable form, or undefined when the
 * column holds a NULL. Integer and text keys (the common ones) arrive as one JSON text
 * instead of one DuckDB value per key, which costs far less to bring into JS.
 */
async function distinctKeys(c: Conn, src: string, column: string, kind: Kind): Promise<Comparable[] | undefined> {
  const k = quoteIdent(column);
  if (kind === 'int' || kind === 'string') {
    // Integers as text: JSON numbers lose precision past 2^53.
    // Sorted by DuckDB (integers as numbers, text by bytes), then sent as text.
    // DISTINCT in a subquery, then one sorted list: far cheaper than list(DISTINCT … ORDER BY …).
    const sorted = `coalesce(list(${k} ORDER BY ${k}), [])`;
    const value = kind === 'int' ? `list_transform(${sorted}, x -> CAST(x AS VARCHAR))` : sorted;
    const [row] = await c.json(
      `SELECT (SELECT count(*) FROM ${quoteIdent(src)} WHERE ${k} IS NULL) AS nulls, (SELECT CAST(to_json(${value}) AS VARCHAR) FROM (SELECT DISTINCT ${k} FROM ${quoteIdent(src)} WHERE ${k} IS NOT NULL)) AS keys`,
    );
    if (Number(row!.nulls) > 0) return undefined;
    const keys = JSON.parse(String(row!.keys)) as string[];
    return kind === 'int' ? keys.map((v) => BigInt(v)) : keys;
  }
  const rows = await c.values(`SELECT DISTINCT ${k} AS k FROM ${quoteIdent(src)}`);
  const out: Comparable[] = [];
  for (const r of rows) {
    const v = fromDuck(r.k!, kind);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

/** Can this file hold any of the batch's keys? */
export function mayHoldKeys(file: LiveFile, filter: KeyFilter): boolean {
  if (filter.partitions) {
    const tuple = JSON.stringify(filter.partitionColumns.map((p) => file.add.partitionValues?.[p] ?? null));
    if (!filter.partitions.has(tuple)) return false;
  }
  const stats = file.file.stats;
  if (stats?.numRecords === 0) return false;
  return filter.keys.every((key) => rangeMayHold(key, stats?.minValues?.[key.name], stats?.maxValues?.[key.name]));
}

/** Is some batch value of this key column inside [min, max]? Unknown bounds answer yes. */
function rangeMayHold(key: KeyRange, min: unknown, max: unknown): boolean {
  if (key.sorted.length === 0) return false;
  const lo = fromStat(min, key.kind, false);
  const hi = fromStat(max, key.kind, true);
  if (lo === undefined || hi === undefined) return true;
  // First batch value >= lo; the range holds a batch value if that one is <= hi.
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
  if (!mayHoldKeys(file, filter)) return false;
  if (filter.keys.length === 0) return true;
  try {
    await fetchDataFiles(tablePath, [file.add.path]);
    const source = `read_parquet(${quoteLiteral(resolveDataPath(tablePath, file.add.path))}, hive_partitioning=false)`;
    const described = await c.json(`DESCRIBE SELECT * FROM ${source}`);
    const names = described.map((r) => String(r.column_name));
    const columns = filter.keys.map((k) => names.find((n) => n.toLowerCase() === k.name.toLowerCase()));
    // A key column absent from the file is NULL in every row, and the batch has no NULL there.
    if (columns.some((n) => n === undefined)) return false;
    const select = columns.map((n, i) => `${quoteIdent(n!)} AS k${i}`).join(', ');
    const rows = await c.values(`SELECT DISTINCT ${select} FROM ${source}`);
    // Every key column's value must be one the batch has (a necessary condition for the tuple).
    return rows.some((r) =>
      filter.keys.every((k, i) => {
        const v = fromDuck(r[`k${i}`]!, k.kind);
        return v !== undefined && contains(k.sorted, v);
      }),
    );
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
