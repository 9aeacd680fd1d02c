/**
 * DuckDB type names accepted in `tables.<name>.columns`. Checked by name only (the type's
 * parameters and nested fields are DuckDB's business), so typos fail at validate time
 * instead of at the first MERGE.
 */
import { didYouMean } from './suggest.js';

/** DuckDB's built-in type names and their aliases, upper case. */
export const DUCKDB_TYPE_NAMES: ReadonlySet<string> = new Set([
  'BIGINT', 'INT8', 'LONG', 'BIT', 'BITSTRING', 'BLOB', 'BYTEA', 'BINARY', 'VARBINARY', 'BOOLEAN', 'BOOL', 'LOGICAL',
  'DATE', 'DECIMAL', 'NUMERIC', 'DOUBLE', 'FLOAT8', 'FLOAT', 'FLOAT4', 'REAL', 'HUGEINT', 'UHUGEINT', 'INTEGER', 'INT4',
  'INT', 'SIGNED', 'INTERVAL', 'JSON', 'SMALLINT', 'INT2', 'SHORT', 'TIME', 'TIMETZ', 'TIMESTAMP', 'DATETIME',
  'TIMESTAMPTZ', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS', 'TIMESTAMP_US', 'TINYINT', 'INT1', 'UBIGINT', 'UINTEGER',
  'USMALLINT', 'UTINYINT', 'UUID', 'VARCHAR', 'CHAR', 'BPCHAR', 'TEXT', 'STRING', 'VARINT', 'BIGNUM', 'LIST', 'STRUCT',
  'MAP', 'UNION', 'ARRAY', 'TIMESTAMP WITH TIME ZONE', 'TIME WITH TIME ZONE',
]);

/**
 * Returns undefined when `type` names a DuckDB type (`DECIMAL(18,2)`, `VARCHAR[]`,
 * `STRUCT(a INT)` included), else a hint for the user.
 */
export function checkColumnType(type: string): string | undefined {
  let t = type.trim();
  while (/\[\d*\]$/.test(t)) t = t.replace(/\[\d*\]$/, '').trim();
  const m = /^([A-Za-z_][A-Za-z0-9_ ]*?)\s*(\(.*\))?$/s.exec(t);
  const name = m ? m[1]!.replace(/\s+/g, ' ').toUpperCase() : '';
  if (m && DUCKDB_TYPE_NAMES.has(name)) return undefined;
  return didYouMean(name || t, DUCKDB_TYPE_NAMES) ?? 'use a DuckDB type name such as VARCHAR, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP or DECIMAL(18,2)';
}
