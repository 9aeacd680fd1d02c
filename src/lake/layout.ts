/**
 * A table's layout — write mode, merge keys, sequence column, partition columns, declared
 * column types — is part of what its rows mean: rows merged by `id` are not rows merged by
 * `(id, region)`, and a column stored as DECIMAL(10,2) does not hold four decimals because the
 * spec now declares DECIMAL(10,4). The layout is recorded in the table when it is created
 * (`metaData.configuration` keys `pipeline.mode`, `pipeline.mergeKeys`, `pipeline.sequenceBy`;
 * partition columns are Delta's own `partitionColumns`, column types its schema), and a write
 * under another layout is refused instead of silently mixing the two (or, for a declared type,
 * silently keeping the stored one). {@link rebuildPlan} rewrites a table under a new layout in
 * one commit.
 */
import { LakeError } from '../errors.js';
import { deltaToDuck, duckToDelta, parseDuckType, renderDuckType } from './schema.js';
import { declaredWidening, UNTYPED_KEY } from './type-lattice.js';
import type { DeltaField, WriteOptions } from './types.js';

/** Configuration keys holding the layout. */
export const LAYOUT_MODE = 'pipeline.mode';
export const LAYOUT_MERGE_KEYS = 'pipeline.mergeKeys';
export const LAYOUT_SEQUENCE_BY = 'pipeline.sequenceBy';

/**
 * The expressions of derived key columns (merge keys, sequence, partition columns, and the
 * derived columns those read), as JSON `{column: sql}`: a key computed another way is another
 * key, as much as another key column is.
 */
export const LAYOUT_KEY_DERIVE = 'pipeline.keyDerive';

/** The layout keys a table created by a write with `opts` records. */
export function layoutConfiguration(opts: Pick<WriteOptions, 'mode' | 'mergeKeys' | 'sequenceBy' | 'partitionBy' | 'derive'>): Record<string, string> {
  return {
    [LAYOUT_MODE]: opts.mode,
    ...(opts.mode !== 'append' ? { [LAYOUT_MERGE_KEYS]: JSON.stringify(opts.mergeKeys ?? []) } : {}),
    ...(opts.sequenceBy && opts.mode !== 'append' ? { [LAYOUT_SEQUENCE_BY]: opts.sequenceBy } : {}),
    [LAYOUT_KEY_DERIVE]: JSON.stringify(keyDerive(opts)),
  };
}

/**
 * The derive entries the write's key columns come from: each merge key, the sequence and
 * each partition column that is derived, then (transitively) the derived columns their
 * expressions name (a word match, so a name inside a string literal counts too).
 */
export function keyDerive(opts: Pick<WriteOptions, 'mode' | 'mergeKeys' | 'sequenceBy' | 'partitionBy' | 'derive'>): Record<string, string> {
  const derive = opts.derive ?? [];
  const byName = new Map(derive.map((d) => [d.column.toLowerCase(), d]));
  const keys = [...(opts.mode !== 'append' ? [...(opts.mergeKeys ?? []), ...(opts.sequenceBy ? [opts.sequenceBy] : [])] : []), ...(opts.partitionBy ?? [])];
  const out: Record<string, string> = {};
  const visit = (name: string) => {
    const d = byName.get(name.toLowerCase());
    if (!d || out[d.column.toLowerCase()] !== undefined) return;
    out[d.column.toLowerCase()] = d.sql.replace(/\s+/g, ' ').trim();
    for (const other of byName.keys()) if (new RegExp(`(^|[^A-Za-z0-9_])${other.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9_])`, 'i').test(d.sql)) visit(other);
  };
  for (const k of keys) visit(k);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Whether two lists name the same columns in the same order (Delta names are case-insensitive). */
export const sameNames = (a: string[], b: string[]) => a.length === b.length && a.every((n, i) => n.toLowerCase() === b[i]!.toLowerCase());
const show = (names: string[]) => `[${names.join(', ')}]`;

/**
 * What differs between the table's recorded layout and the write's, one phrase per
 * difference (`mergeKeys [id] → [id, region]`, `columns.amount DECIMAL(10,2) → DECIMAL(10,4)`).
 * A table that records no layout (written before layouts were recorded, or by another tool)
 * is judged on its partition columns and column types only; a write that states no
 * `partitionBy` accepts the table's. A declared column is compared with the stored one as the
 * table would store the declaration (TIMESTAMP and TIMESTAMPTZ are both a Delta `timestamp`).
 */
export function layoutChanges(table: { configuration: Record<string, string>; partitionColumns: string[]; schema?: DeltaField[] }, opts: WriteOptions): string[] {
  const changes: string[] = [];
  const recorded = table.configuration[LAYOUT_MODE];
  if (recorded !== undefined) {
    if (recorded !== opts.mode) changes.push(`mode ${recorded} → ${opts.mode}`);
    if (opts.mode !== 'append' && recorded !== 'append') {
      const keys = JSON.parse(table.configuration[LAYOUT_MERGE_KEYS] ?? '[]') as string[];
      if (!sameNames(keys, opts.mergeKeys ?? [])) changes.push(`mergeKeys ${show(keys)} → ${show(opts.mergeKeys ?? [])}`);
      const seq = table.configuration[LAYOUT_SEQUENCE_BY];
      if ((seq ?? '').toLowerCase() !== (opts.sequenceBy ?? '').toLowerCase()) changes.push(`sequenceBy ${seq ?? '(none)'} → ${opts.sequenceBy ?? '(none)'}`);
    }
  }
  if (opts.partitionBy !== undefined && !sameNames(table.partitionColumns, opts.partitionBy)) {
    changes.push(`partitionBy ${show(table.partitionColumns)} → ${show(opts.partitionBy)}`);
  }
  // Tables created before key expressions were recorded are not judged on them.
  const recordedDerive = table.configuration[LAYOUT_KEY_DERIVE];
  if (recordedDerive !== undefined) {
    const was = JSON.parse(recordedDerive) as Record<string, string>;
    const now = keyDerive({ ...opts, partitionBy: opts.partitionBy ?? table.partitionColumns });
    for (const column of [...new Set([...Object.keys(was), ...Object.keys(now)])].sort()) {
      if (was[column] !== now[column]) changes.push(`derive.${column} ${was[column] ?? '(not derived)'} → ${now[column] ?? '(not derived)'}`);
    }
  }
  for (const [name, declared] of Object.entries(opts.columns ?? {})) {
    const field = table.schema?.find((f) => f.name.toLowerCase() === name.toLowerCase());
    // A placeholder (a partition column that has held only NULLs) takes the declared type with the next write.
    if (!field || field.metadata?.[UNTYPED_KEY] === true) continue;
    const stored = storedType(field.type);
    const wanted = storedType(declared, true);
    // A widening declaration (INTEGER → BIGINT) is not one: the next write that brings the column applies it.
    if (stored !== undefined && wanted !== undefined && stored !== wanted && !declaredWidening(stored, wanted)) changes.push(`${COLUMN_CHANGE}${field.name} ${stored} → ${wanted}`);
  }
  return changes;
}

/** How a column type change is spelled in {@link layoutChanges}. */
const COLUMN_CHANGE = 'columns.';

/**
 * A Delta field type (or, with `declared`, a DuckDB type name as the table would store it) as
 * the DuckDB type the table reads it as; undefined for one the lake does not read.
 */
function storedType(type: unknown, declared = false): string | undefined {
  try {
    return renderDuckType(deltaToDuck(declared ? duckToDelta(parseDuckType(String(type))) : type));
  } catch {
    return undefined;
  }
}

/** The coded error for a write whose layout differs from the table's. */
export function layoutChangedError(tablePath: string, changes: string[]): LakeError {
  return new LakeError('PIPE_LAKE_LAYOUT_CHANGED', `table ${tablePath} was written with another layout: ${changes.join('; ')}`, {
    details: { table: tablePath, changes },
    hint: 'rewrite the table under the new layout in one commit with `pipeline run <spec> --allow-layout-change`, or write to a new table (output.path or the table name)',
  });
}

/**
 * How a rebuild re-writes the old rows: copied as they are (converted to the declared column
 * types) when only the partition columns or column types change; re-merged under the new keys
 * for append/upsert tables. SCD2 history cannot be
 * re-keyed (its versions would have to be re-derived from events the table no longer has).
 */
export function rebuildPlan(tablePath: string, recordedMode: string | undefined, changes: string[], opts: WriteOptions): 'copy' | 'merge' {
  if (changes.every((c) => c.startsWith('partitionBy ') || c.startsWith(COLUMN_CHANGE))) return 'copy';
  if (recordedMode === 'scd2' || opts.mode === 'scd2') {
    throw new LakeError('PIPE_LAKE_LAYOUT_REBUILD', `table ${tablePath}: cannot rebuild scd2 history under another mode, keys or sequence (${changes.join('; ')})`, {
      hint: 'write the new layout to a new table; only partitionBy and declared column types of an scd2 table can change in place',
    });
  }
  return 'merge';
}
