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
/** Upsert rows written with source positions: the Kafka partition and offset of the record a row holds (ties in `sequenceBy`). */
export const SOURCE_PARTITION = '__source_partition';
export const SOURCE_OFFSET = '__source_offset';
/**
 * Upsert tables with `sequenceBy` and `deleteWhen`: true on a tombstone row (the winning
 * delete record itself), false (or NULL, rows written before the column existed) on live rows.
 */
export const TOMBSTONE = '__is_deleted';

/** Whether an upsert under `spec` keeps deletes as tombstone rows. */
export const keepsTombstones = (spec: { sequenceBy?: string | undefined; deleteWhen?: string | undefined }): boolean => spec.sequenceBy !== undefined && spec.deleteWhen !== undefined;
