/**
 * The small API operators see. Operators never import runtime internals: the runtime hands
 * them plain values (raw record values, table rules, a lake handle) described here.
 */

/** Where a record failed; recorded in the dead-letter table's `stage` column. */
export type FailureStage = 'decode' | 'route' | 'validate' | 'sink';

/** One record that goes to the dead-letter table instead of its gold table. */
export interface RecordFailure {
  /** Index of the record in the batch (the order the runtime gave it). */
  index: number;
  /** The table the record was routed to, when it got that far. */
  table?: string;
  stage: FailureStage;
  /** Human-readable reason, e.g. `merge key 'id' is missing`. */
  error: string;
}

/** What a table needs from a record before the record may be sunk into it. */
export interface TableRules {
  table: string;
  mode: 'upsert' | 'append' | 'scd2';
  mergeKeys: string[];
  sequenceBy?: string;
  /**
   * Known column types (DuckDB type names): the table's current columns merged with the
   * spec's declared ones. Their spelling is the one records are matched to (case-insensitively).
   */
  columns: Record<string, string>;
  /** Names of the spec's declared columns (fixed types). */
  declared?: string[];
  /** Most columns the table takes (default 1000). */
  maxColumns?: number;
}

/** The routing step's configuration (the plan's `routing`). */
export interface RoutingRules {
  field: string;
  /** Field value -> table name. */
  routes: Record<string, string>;
  unmatched: 'dead_letter' | 'drop';
}

/**
 * A batch of raw record values, packed into one buffer so it can move between threads in a
 * single transfer: value i is `data[starts[i], starts[i+1])`; `nulls[i] === 1` marks a record
 * whose value is null (a tombstone).
 */
export interface PackedValues {
  data: Uint8Array;
  /** Length count+1. */
  starts: Int32Array;
  nulls: Uint8Array;
}

/** One table's share of a routed batch: the NDJSON file holding its raw values. */
export interface RoutedTable {
  table: string;
  /** NDJSON file, one raw JSON object per line, in batch order. */
  path: string;
  count: number;
  /** Batch indices of the records in the file, in file order. */
  indices: Int32Array;
  /** Every top-level key of the file's records (table spelling) with its JSON kinds (see `BatchInput.kinds`). */
  kinds: Record<string, number>;
}

/** Result of decode + route + validate over a batch. */
export interface RoutedBatch {
  tables: RoutedTable[];
  failures: RecordFailure[];
  /** Records whose routing value matched no route while `unmatched: drop`. */
  dropped: number;
}

import type { BatchInput, ColumnDef, WriteOptions, WriteResult } from '../lake/types.js';

/** The part of the lake a sink uses (the runtime passes its `Lake`). */
export interface TableWriter {
  exists(path: string): boolean | Promise<boolean>;
  columns(path: string): ColumnDef[] | Promise<ColumnDef[]>;
  write(path: string, batch: BatchInput, opts: WriteOptions): Promise<WriteResult>;
}

/** A gold table sink's configuration (the plan's resolved sink). */
export interface DeltaSinkConfig {
  table: string;
  /** Absolute table directory. */
  path: string;
  mode: 'upsert' | 'append' | 'scd2';
  mergeKeys: string[];
  sequenceBy?: string;
  partitionBy: string[];
  columns?: Record<string, string>;
  deleteWhen?: string;
  /** Column receiving values that do not convert to their fixed column type (as JSON). */
  rescuedDataColumn?: string;
}
