/**
 * The table half of `diffSpecs`: added/removed tables, write mode, keys, ordering, layout,
 * declared column types and CDC deletes. Anything that makes the data already in a table
 * inconsistent with the new spec is `table`: it must be rewritten, or it is orphaned.
 */
import type { PipelineSpec, TableSpec } from '../spec/index.js';
import { sortedKeys, specTablePath } from './compile.js';
import type { ChangeList } from './changes.js';
import { diffDeriveWhere } from './diff-derive.js';

/** Compares `tables` of two specs, table by table in name order. */
export function diffTables(before: PipelineSpec, after: PipelineSpec, out: ChangeList): void {
  for (const table of sortedKeys({ ...before.tables, ...after.tables })) {
    const a = Object.hasOwn(before.tables, table) ? before.tables[table] : undefined;
    const b = Object.hasOwn(after.tables, table) ? after.tables[table] : undefined;
    const path = `tables.${table}`;
    if (!a && b) {
      const targeted = Object.values(after.routing.routes).includes(table);
      out.add(path, null, b, 'safe', `new table ${describeTable(after, table)}${targeted ? '' : '; no route targets it yet'}`);
    } else if (a && !b) {
      out.add(path, a, null, 'table',
        `table ${table} is no longer written: its data at ${specTablePath(before, table)} is orphaned (archive or delete it)`);
    } else if (a && b) {
      diffTable(table, a, b, out);
    }
  }
}

function diffTable(table: string, a: TableSpec, b: TableSpec, out: ChangeList): void {
  const path = `tables.${table}`;
  if (a.mode !== b.mode) {
    out.add(`${path}.mode`, a.mode, b.mode, 'table',
      `table ${table} changes mode from ${a.mode} to ${b.mode}: the rows already written follow ${a.mode} semantics; rewrite the table (or write to a new one) before running`);
  }
  // Keys only matter to modes that merge; as a set, since key order does not change identity.
  const oldKeys = a.mode === 'append' ? [] : [...(a.mergeKeys ?? [])].sort();
  const newKeys = b.mode === 'append' ? [] : [...(b.mergeKeys ?? [])].sort();
  if (a.mode === b.mode && oldKeys.join(',') !== newKeys.join(',')) {
    out.add(`${path}.mergeKeys`, a.mergeKeys ?? [], b.mergeKeys ?? [], 'table',
      `table ${table} merges on [${newKeys.join(', ')}] instead of [${oldKeys.join(', ')}]: rows already in the table were deduplicated by the old key; rewrite the table before running`);
  }
  const oldSeq = a.mode === 'append' ? undefined : a.sequenceBy;
  const newSeq = b.mode === 'append' ? undefined : b.sequenceBy;
  if (a.mode === b.mode && (oldSeq ?? null) !== (newSeq ?? null)) {
    out.add(`${path}.sequenceBy`, oldSeq, newSeq, 'table',
      `table ${table} keeps the row with the greatest ${newSeq ?? '(nothing)'} instead of ${oldSeq ?? '(nothing)'}: existing rows were chosen by the old ordering; rewrite the table to stay consistent`);
  }
  const oldParts = a.partitionBy ?? [];
  const newParts = b.partitionBy ?? [];
  if (oldParts.join(',') !== newParts.join(',')) {
    out.add(`${path}.partitionBy`, oldParts, newParts, 'table',
      `table ${table} is partitioned by [${newParts.join(', ')}] instead of [${oldParts.join(', ')}]: existing files use the old layout; rewrite the table`);
  }
  if ((a.writeMode ?? 'copy-on-write') !== (b.writeMode ?? 'copy-on-write')) {
    // Rows mean the same either way; only how a batch changes files differs.
    out.add(`${path}.writeMode`, a.writeMode, b.writeMode, 'safe',
      b.writeMode === 'merge-on-read'
        ? `table ${table} marks replaced rows with deletion vectors: its next merge moves it to Delta reader 3 / writer 7 (readers need deletion-vector support)`
        : `table ${table} rewrites files on merge again; deletion vectors already written stay until compaction folds them`);
  }
  if (JSON.stringify(a.maintenance ?? {}) !== JSON.stringify(b.maintenance ?? {})) {
    out.add(`${path}.maintenance`, a.maintenance, b.maintenance, 'safe', `table ${table} housekeeping at each checkpoint changes (rows are unaffected)`);
  }
  diffColumns(table, a.columns ?? {}, b.columns ?? {}, out);
  if ((a.deleteWhen ?? null) !== (b.deleteWhen ?? null)) {
    const message =
      b.deleteWhen === undefined
        ? `records of table ${table} matching ${a.deleteWhen} are written as rows instead of deleting their key`
        : `records of table ${table} matching ${b.deleteWhen} now delete their key instead of being written${a.deleteWhen ? ` (was: ${a.deleteWhen})` : ''}`;
    out.add(`${path}.deleteWhen`, a.deleteWhen, b.deleteWhen, 'routing', message);
  }
  diffDeriveWhere(path, `table ${table} will`, a, b, out);
}

/** `orders (upsert on [id], sequenceBy seq) at ./lake/orders`. */
export function describeTable(spec: PipelineSpec, table: string): string {
  const t: TableSpec = spec.tables[table]!;
  const keys = t.mode === 'append' ? '' : ` on [${(t.mergeKeys ?? []).join(', ')}]`;
  const seq = t.mode !== 'append' && t.sequenceBy ? `, sequenceBy ${t.sequenceBy}` : '';
  return `${table} (${t.mode}${keys}${seq}) at ${specTablePath(spec, table)}`;
}

/** DuckDB spells one type many ways; compare canonical names. */
const TYPE_ALIASES: Record<string, string> = {
  INT: 'INTEGER', INT4: 'INTEGER', SIGNED: 'INTEGER', INT8: 'BIGINT', LONG: 'BIGINT', INT2: 'SMALLINT', SHORT: 'SMALLINT',
  INT1: 'TINYINT', FLOAT4: 'FLOAT', REAL: 'FLOAT', FLOAT8: 'DOUBLE', STRING: 'VARCHAR', TEXT: 'VARCHAR', CHAR: 'VARCHAR',
  BPCHAR: 'VARCHAR', BOOL: 'BOOLEAN', LOGICAL: 'BOOLEAN', BYTEA: 'BLOB', BINARY: 'BLOB', VARBINARY: 'BLOB',
  DATETIME: 'TIMESTAMP', TIMESTAMPTZ: 'TIMESTAMP WITH TIME ZONE',
};

/** Widenings a reader can apply to old files without a rewrite (each type to a later one). */
const WIDENING_CHAINS = [['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT'], ['FLOAT', 'DOUBLE']];

/** Canonical upper-case DuckDB type name (`int` → `INTEGER`). */
export function canonicalType(type: string): string {
  const t = type.trim().toUpperCase().replace(/\s+/g, ' ');
  return TYPE_ALIASES[t] ?? t;
}

function widens(from: string, to: string): boolean {
  return WIDENING_CHAINS.some((chain) => chain.indexOf(from) >= 0 && chain.indexOf(to) > chain.indexOf(from));
}

function diffColumns(table: string, a: Record<string, string>, b: Record<string, string>, out: ChangeList): void {
  for (const column of sortedKeys({ ...a, ...b })) {
    const was = Object.hasOwn(a, column) ? a[column] : undefined;
    const now = Object.hasOwn(b, column) ? b[column] : undefined;
    const path = `tables.${table}.columns.${column}`;
    if (was === undefined && now !== undefined) {
      out.add(path, null, now, 'safe', `table ${table} declares column ${column} as ${canonicalType(now)} (if the table already holds ${column} with a type this does not widen exactly, run stops until --allow-layout-change converts the stored values)`);
    } else if (was !== undefined && now === undefined) {
      out.add(path, was, null, 'table',
        `column ${table}.${column} (${canonicalType(was)}) is no longer declared: its type is inferred from records from now on and may not match the existing data`);
    } else if (was !== undefined && now !== undefined) {
      const from = canonicalType(was);
      const to = canonicalType(now);
      if (from === to) continue;
      if (widens(from, to)) {
        out.add(path, was, now, 'safe', `column ${table}.${column} widens from ${from} to ${to}; the next write that brings it rewrites the table's files as ${to}`);
      } else {
        out.add(path, was, now, 'table',
          `column ${table}.${column} changes type from ${from} to ${to}: existing Parquet files hold ${from}; run stops until --allow-layout-change rewrites the table, converting every stored value exactly`);
      }
    }
  }
}
