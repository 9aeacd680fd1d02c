/**
 * The public contract of `src/lake`: Delta Lake (reader 1 / writer 2) tables over Parquet,
 * written and merged with DuckDB. Knows nothing about Kafka or specs.
 */

/** A column as the lake sees it: DuckDB type name plus nullability. */
export interface ColumnDef {
  name: string;
  /** DuckDB type name (`BIGINT`, `VARCHAR`, `TIMESTAMPTZ`, `DECIMAL(10,2)`, `STRUCT(...)`...). */
  type: string;
  nullable: boolean;
}

/** A Delta schema field as stored in `metaData.schemaString`. */
export interface DeltaField {
  name: string;
  /** Delta type: a primitive name (`long`, `string`, `decimal(10,2)`...) or a complex type object. */
  type: unknown;
  nullable: boolean;
  metadata: Record<string, unknown>;
}

/**
 * How a batch arrives. `ndjson` is a file of one JSON object per line (cheapest to load).
 *
 * `kinds` (optional) is what the producer already knows about the file: every top-level key
 * that occurs in it (one spelling per case-insensitive name) with the JSON kinds of its
 * values as `Kind` bits (type-lattice.ts). Without it the lake reads the file once to learn
 * them. The kinds decide the column types; DuckDB never guesses.
 */
export type BatchInput = (
  | { kind: 'rows'; rows: Record<string, unknown>[] }
  | { kind: 'ndjson'; path: string; rowCount?: number; kinds?: Record<string, number> }
) & { positions?: SourcePositions; attached?: AttachedColumns };

/**
 * Columns given per row beside the records (aligned with the rows), with fixed DuckDB types:
 * VARCHAR, JSON (text that is JSON), BLOB (base64 text), INTEGER, BIGINT, TIMESTAMPTZ
 * (milliseconds since the epoch). A row with a reason in `rejects` fails alone.
 */
export interface AttachedColumns {
  columns: { name: string; type: 'VARCHAR' | 'JSON' | 'BLOB' | 'INTEGER' | 'BIGINT' | 'TIMESTAMPTZ' }[];
  /** Per row, the values in `columns` order. */
  values: unknown[][];
  /** Per row, why it must fail (undefined or empty: it may load). */
  rejects?: (string | undefined)[];
}

/**
 * Where each batch row came from (Kafka partition and offset, aligned with the rows). Upsert
 * tables break ties between equal `sequenceBy` values with them — lowest partition, then
 * lowest offset wins — and store the winner's in `__source_partition`/`__source_offset`, so
 * the outcome does not depend on which batch a record arrived in.
 */
export interface SourcePositions {
  partitions: ArrayLike<number>;
  offsets: ArrayLike<number>;
}

/** An input row the lake left out of a write, and why (0-based position in the batch). */
export interface RejectedRow {
  row: number;
  reason: string;
  /** The row failed the write's `where` or a `drop` expectation: a counted drop, not a failure. */
  dropped?: boolean;
  /** The expectation the row failed, when that is why it was left out (`drop` or `quarantine`). */
  expectation?: string;
  /**
   * The load step after the loaded values that left the row out, in the order they apply
   * ({@link REJECT_STEPS}): a derive expression that errors on the row (`derive`), a derived
   * value the table cannot take (`derived-value`: a NULL merge key or sequence, a value that
   * does not convert to the declared type), the row filter (`where`), an expectation
   * (`expectation`). Absent for the checks of the loaded values themselves, which come first
   * (a value that does not convert to its column, an attached column that cannot be read).
   */
  step?: RejectStep;
}

/** The load's steps after the loaded values that may leave a row out, in the order they decide. */
export const REJECT_STEPS = ['derive', 'derived-value', 'where', 'expectation'] as const;

/** One of {@link REJECT_STEPS}. */
export type RejectStep = (typeof REJECT_STEPS)[number];


/** What a write does with a row for which an expectation is not true. */
export type ExpectationAction = 'warn' | 'drop' | 'quarantine' | 'fail';

/** A named SQL predicate every row of a write is expected to meet. */
export interface Expectation {
  name: string;
  /** The SQL boolean; for a `unique` expectation, its description. */
  sql: string;
  /** Key columns no two rows of the write may share (the first by input order holds); `sql` is not evaluated. */
  unique?: string[];
  action: ExpectationAction;
}

/** How many rows of a write an expectation was evaluated on, and failed. */
export interface ExpectationCount {
  name: string;
  action: ExpectationAction;
  evaluated: number;
  failed: number;
}

/** A column computed while the batch loads: DuckDB SQL over the row's columns (and earlier derived ones). */
export interface DerivedColumn {
  column: string;
  sql: string;
}

/** The Delta `txn` action carried by a write: exactly-once per (appId, version). */
export interface TxnMark {
  appId: string;
  version: number;
}

export type WriteMode = 'append' | 'upsert' | 'scd2';

/** Milliseconds per phase of a write, added to by the lake (`load`, `merge`, `files`, `log`, `deltaCheckpoint`). */
export type PhaseTimes = Record<string, number>;

/** Adds the time `fn` takes to `phases[name]` (when a phase record is given). */
export async function timed<T>(phases: PhaseTimes | undefined, name: string, fn: () => Promise<T>): Promise<T> {
  if (!phases) return fn();
  const started = performance.now();
  try {
    return await fn();
  } finally {
    phases[name] = (phases[name] ?? 0) + performance.now() - started;
  }
}

export interface WriteOptions {
  mode: WriteMode;
  /** Where the write adds the time of its phases; several writes may share one record (the batch's). */
  phases?: PhaseTimes;
  /** false: leave out the batch's quality figures (`WriteResult.quality`), one scan less; for tables nobody reports on. */
  measureQuality?: boolean;
  /** upsert/scd2: the key columns. */
  mergeKeys?: string[];
  /** upsert/scd2: the greater value wins; equal or older records never replace a row. */
  sequenceBy?: string;
  /** SQL predicate over the batch's columns; matching records delete their key (upsert) or close it (scd2). */
  deleteWhen?: string;
  /**
   * upsert: a BOOLEAN batch column, not stored, whose true rows are deletes whatever `deleteWhen`
   * says (a rebuild's stored tombstones).
   */
  deletedColumn?: string;
  /** Used when the table is created by this write. */
  partitionBy?: string[];
  /**
   * Table properties (`metaData.configuration`) when the table is created by this write,
   * e.g. `delta.targetFileSize` (bytes or `32mb`) or `delta.checkpointInterval`.
   */
  configuration?: Record<string, string>;
  /** Declared column types (DuckDB names); other columns are inferred from the batch. */
  columns?: Record<string, string>;
  /** Columns computed from each row as it loads, in order (see derive.ts). */
  derive?: DerivedColumn[];
  /** SQL predicate: rows for which it is not true are left out as dropped rows. */
  where?: string;
  /**
   * Checked in order on the rows that pass `where`; the first failing `drop` or `quarantine`
   * one leaves the row out; a failing `fail` one stops the write (ExpectationFailedError).
   */
  expectations?: Expectation[];
  txn?: TxnMark;
  /** More txn actions written with the commit (not checked: `txn` alone makes the write idempotent). */
  marks?: TxnMark[];
  /** A batch with no row still commits its `txn` and `marks` to an existing table (a replay marking how far it read). */
  commitEmpty?: boolean;
  /** Values that do not convert to their column's fixed type go to this column as JSON instead of failing their row. */
  rescuedDataColumn?: string;
  /**
   * Most columns the table may have, counting those the records and these options bring (not
   * those the table sets itself, computes with `derive` or takes from `batch.attached`): a write
   * past it fails with PIPE_LAKE_MAX_COLUMNS, before anything is loaded.
   */
  maxColumns?: number;
  /**
   * Called with the rows the write leaves out, right before each commit attempt, so a caller
   * can record them durably first (a replay that finds the txn committed learns them there).
   */
  beforeCommit?: (rejected: RejectedRow[]) => void | Promise<void>;
  /**
   * Pins the table's layout: a table created by this write records its mode, merge keys,
   * sequence column and the derive expressions of its key columns (`pipeline.*` configuration
   * keys), and the write is refused with PIPE_LAKE_LAYOUT_CHANGED when the table's recorded
   * layout, its partition columns (when `partitionBy` is given) or a declared column's stored
   * type (other than an exact widening) differ from this write's (layout.ts). `pipeline run`
   * writes this way.
   */
  pinLayout?: boolean;
  /** Recorded in commitInfo.operationParameters. */
  operationParameters?: Record<string, unknown>;
  /**
   * How upsert/scd2 batches change stored rows: `copy-on-write` (default) rewrites the files
   * holding replaced rows; `merge-on-read` writes only the new rows and marks the replaced
   * ones with deletion vectors (the table moves to reader 3 / writer 7, `deletionVectors`).
   */
  writeMode?: FileWriteMode;
  /**
   * Housekeeping after a commit that writes a checkpoint: compact small files (and fold
   * deletion vectors) when they have piled up; delete expired log entries behind the checkpoint
   * (`delta.logRetentionDuration`; also done when the table sets `delta.enableExpiredLogCleanup`).
   */
  maintenance?: { compactSmallFiles?: boolean; cleanupLog?: boolean };
}

/** See {@link WriteOptions.writeMode}. */
export type FileWriteMode = 'copy-on-write' | 'merge-on-read';

export interface WriteResult {
  /** `already-committed`: the table's txn for this appId is >= the given version; nothing written. */
  status: 'committed' | 'already-committed' | 'empty';
  /** Table version after the call. */
  version: number;
  rowsIn: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsDeleted: number;
  filesAdded: number;
  filesRemoved: number;
  bytesAdded: number;
  /** How many times the commit was retried after losing a race. */
  conflictsRetried: number;
  /** Input rows left out (not converting to a fixed column type); empty for `already-committed`. */
  rejected: RejectedRow[];
  /** Columns whose type widened with this write (the table's files were rewritten). */
  widened: string[];
  /** Per expectation of the write: rows evaluated and failed (absent for `already-committed`). */
  expectations?: ExpectationCount[];
  /** NULLs per column and duplicate merge keys in the batch (absent for `already-committed`, empty batches and `measureQuality: false`). */
  quality?: { nulls: Record<string, number>; duplicateKeys: number };
}

/** One live data file, as in the Delta `add` action. */
export interface DataFile {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: {
    numRecords?: number;
    minValues?: Record<string, unknown>;
    maxValues?: Record<string, unknown>;
    nullCount?: Record<string, unknown>;
  };
  /** Rows a deletion vector marks deleted (live rows: numRecords − deletedRows). */
  deletedRows?: number;
}

export interface TableSnapshot {
  path: string;
  version: number;
  tableId: string;
  schema: DeltaField[];
  partitionColumns: string[];
  configuration: Record<string, string>;
  files: DataFile[];
  /** Latest txn version per appId. */
  txns: Record<string, number>;
  minReaderVersion: number;
  minWriterVersion: number;
}

export interface CommitSummary {
  version: number;
  timestamp: number;
  operation: string;
  operationParameters?: Record<string, unknown>;
  operationMetrics?: Record<string, unknown>;
}
