/**
 * The columns the lake sets on a table itself (scd2 history, an upsert's source position and
 * tombstone): names only, so record-level code (shaping, on the decode threads) can refuse
 * fields of these names without loading the write path.
 */
/** SCD2 system columns. */
export const SCD2_START = '__start_at';
export const SCD2_END = '__end_at';
export const SCD2_CURRENT = '__is_current';
/**
 * The sequences a row absorbed without opening a version: repeats of its values, deletes
 * after its end, or (on a tombstone row, `__start_at` NULL) deletes before the key's first
 * version. NULL when none. Kept so a late record can split the row exactly.
 */
export const SCD2_SEEN = '__seen_at';
/**
 * SCD2 rows written with source positions: the Kafka position of every event the row stands
 * for (its start, the repeats and deletes it absorbed, the delete that ended it), a list of
 * `{seq, partition, offset}`. A later record with an equal sequence is judged against it by
 * the same tie rule as within a batch (lowest partition, then offset).
 */
export const SCD2_SOURCES = '__source_positions';
/** Every column an scd2 table sets itself. */
export const SCD2_COLUMNS = [SCD2_START, SCD2_END, SCD2_CURRENT, SCD2_SEEN, SCD2_SOURCES];
/** Upsert rows written with source positions: the Kafka partition and offset of the record a row holds (ties in `sequenceBy`). */
export const SOURCE_PARTITION = '__source_partition';
export const SOURCE_OFFSET = '__source_offset';
/**
 * Upsert tables with `sequenceBy` and `deleteWhen`: true on a tombstone row (the winning
 * delete record itself), false (or NULL, rows written before the column existed) on live rows.
 */
export const TOMBSTONE = '__is_deleted';

/**
 * Whether an upsert under `spec` keeps deletes as tombstone rows: with a sequence and
 * `deleteWhen`, or (`tombstones`) because its table already holds them — a spec that drops
 * `deleteWhen` stops deleting, but the keys it deleted stay deleted against stale records.
 */
export const keepsTombstones = (spec: { sequenceBy?: string | undefined; deleteWhen?: string | undefined; tombstones?: boolean }): boolean =>
  spec.sequenceBy !== undefined && (spec.deleteWhen !== undefined || spec.tombstones === true);

/**
 * The columns the lake sets on a table of this layout (a record's field, or a derived column,
 * of such a name would be overwritten or refuse its whole batch), lower-case, with what each
 * is: scd2 history, an upsert's source position (with a sequence: ties) and tombstone (with a
 * sequence and deleteWhen, or a table that holds tombstones: see keepsTombstones).
 */
export function systemColumns(t: { mode: string; sequenceBy?: string | undefined; deleteWhen?: string | undefined; tombstones?: boolean }): Map<string, string> {
  if (t.mode === 'scd2') return new Map(SCD2_COLUMNS.map((n) => [n, 'scd2 history']));
  if (t.mode !== 'upsert' || t.sequenceBy === undefined) return new Map();
  const out = new Map([[SOURCE_PARTITION, 'the Kafka position that breaks sequence ties'], [SOURCE_OFFSET, 'the Kafka position that breaks sequence ties']]);
  if (keepsTombstones(t)) out.set(TOMBSTONE, 'deletes kept as tombstones');
  return out;
}

/**
 * Why a column may not be named `lower` (lower-case) on a table whose system columns are
 * `system`, or undefined: `rowid` hides DuckDB's row numbers, by which a batch is deduplicated
 * and its failing rows found; `__lake_` names are the loader's and the merge's own columns.
 */
export function reservedColumnReason(lower: string, system: ReadonlyMap<string, string>): string | undefined {
  if (lower === 'rowid') return "DuckDB numbers the rows of every table as 'rowid', and loading a batch relies on it";
  if (lower.startsWith('__lake_')) return "names starting with __lake_ are the lake's own working columns";
  const what = system.get(lower);
  return what === undefined ? undefined : `the table sets it itself (${what})`;
}
