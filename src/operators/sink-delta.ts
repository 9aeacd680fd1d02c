/**
 * sink-delta: writes a table's share of a batch with the batch's `txn` mark so a replay is
 * a no-op. Records were shaped for the table first (table-shape.ts); values the lake cannot
 * convert to a fixed column type come back as rejected rows (or land in the rescued-data
 * column), never failing their neighbours.
 *
 * Spec fields it owns: the table fields it reads, `tables.<name>.mode`, `mergeKeys`,
 * `sequenceBy`, `partitionBy`, `columns`, `deleteWhen`, `rescuedDataColumn`, `maxColumns`,
 * `writeMode` and `maintenance` (a table's `derive`, `where` and `expectations` are the
 * derive, filter and expect operators').
 */
import type { DeltaSinkConfig, OperatorDefinition, TableWriter } from './api.js';
import { tableSinkStage } from './table-shape.js';
import type { TableMaintenance, TableSpec } from '../spec/index.js';
import { columnList, field, mapOf, nonEmpty, objectOf, type PropertiesOf } from './schema-builder.js';
import type { BatchInput, PhaseTimes, RejectedRow, TxnMark, WriteOptions, WriteResult } from '../lake/types.js';

/** The table's known column types: current lake columns, then the spec's declared ones. */
export async function knownColumns(lake: TableWriter, sink: DeltaSinkConfig): Promise<Record<string, string>> {
  const columns = Object.create(null) as Record<string, string>;
  if (await lake.exists(sink.path)) {
    for (const c of await lake.columns(sink.path)) columns[c.name] = c.type;
  }
  for (const [name, type] of Object.entries(sink.columns ?? {})) if (!(name in columns)) columns[name] = type;
  return columns;
}

/** The lake write options of a sink's table (its layout: mode, keys, sequence, partitions). */
export function sinkWriteOptions(sink: DeltaSinkConfig): WriteOptions {
  return {
    mode: sink.mode,
    mergeKeys: sink.mergeKeys.length > 0 ? sink.mergeKeys : undefined,
    sequenceBy: sink.sequenceBy,
    deleteWhen: sink.deleteWhen,
    partitionBy: sink.partitionBy,
    columns: sink.columns,
    ...(sink.rescuedDataColumn ? { rescuedDataColumn: sink.rescuedDataColumn } : {}),
    ...(sink.maxColumns !== undefined ? { maxColumns: sink.maxColumns } : {}),
    ...(sink.derive ? { derive: sink.derive } : {}),
    ...(sink.where !== undefined ? { where: sink.where } : {}),
    ...(sink.expectations ? { expectations: sink.expectations } : {}),
    ...(sink.writeMode ? { writeMode: sink.writeMode } : {}),
    ...(sink.maintenance ? { maintenance: sink.maintenance } : {}),
    pinLayout: true,
  };
}

/** Merges (or appends) one batch into the sink's table, marked with the batch's txn. */
export function writeDeltaSink(
  lake: TableWriter,
  sink: DeltaSinkConfig,
  input: BatchInput,
  txn: TxnMark,
  beforeCommit?: (rejected: RejectedRow[]) => void | Promise<void>,
  phases?: PhaseTimes,
  marks?: TxnMark[],
): Promise<WriteResult> {
  return lake.write(sink.path, input, {
    ...sinkWriteOptions(sink),
    ...(beforeCommit ? { beforeCommit } : {}),
    ...(phases ? { phases } : {}),
    ...(marks && marks.length > 0 ? { marks } : {}),
    txn,
    operationParameters: { appId: txn.appId, batchId: txn.version },
  });
}

/**
 * Checks the sink's `fail` expectations over one batch without writing (see
 * `TableWriter.checkExpectations`), so no table of a batch commits when one of them would fail.
 */
export async function checkDeltaSink(lake: TableWriter, sink: DeltaSinkConfig, input: BatchInput, txn: TxnMark): Promise<void> {
  if (!sink.expectations?.some((e) => e.action === 'fail')) return;
  if (!lake.checkExpectations) throw new Error('this table writer cannot check expectations');
  await lake.checkExpectations(sink.path, input, { ...sinkWriteOptions(sink), txn });
}

/** The table fields the sink reads (derive, where and expectations are their operators'). */
const tableFields: Partial<PropertiesOf<TableSpec>> = {
  mode: field(
    {
      description: '`upsert` (the default when `mergeKeys` is set) merges by key, the greatest `sequenceBy` wins; `append` (the default otherwise) only adds rows; `scd2` keeps every version with validity columns. `upsert` and `scd2` require both `mergeKeys` and `sequenceBy`.',
      examples: ['upsert', 'append', 'scd2'],
    },
    { enum: ['upsert', 'append', 'scd2'] },
  ),
  mergeKeys: field({ description: 'Columns identifying a row for upsert and scd2.', examples: [['id'], ['tenant_id', 'id']] }, columnList),
  sequenceBy: field(
    { description: 'Column ordering versions of a key (required for upsert and scd2): the greater value wins.', examples: ['seq', 'updated_at'] },
    nonEmpty,
  ),
  partitionBy: field({ description: 'Partition columns (Hive-style directories).', examples: [['event_date']] }, columnList),
  columns: mapOf(
    { description: 'Declared columns: name -> DuckDB type name. Their types are fixed: a value that does not convert fails its record alone. Declaring another type for a column the table already has changes its layout: the run stops (PIPE_LAKE_LAYOUT_CHANGED) until `--allow-layout-change` converts the stored values exactly; an exact widening (INTEGER to BIGINT, FLOAT to DOUBLE) is applied by the next write instead. Undeclared columns are inferred through the type lattice.', examples: [{ id: 'BIGINT', seq: 'BIGINT', amount: 'DECIMAL(18,2)' }] },
    field({ description: 'A DuckDB type name.', examples: ['VARCHAR', 'BIGINT', 'TIMESTAMP', 'DECIMAL(18,2)'] }, nonEmpty),
    nonEmpty,
  ),
  deleteWhen: field(
    {
      description: 'SQL predicate over the record; matching records delete their key (CDC). Needs `mergeKeys`. Parsed and bound by `validate` (PIPE0056); a column it names that a record lacks is NULL.',
      examples: ["op = 'd'"],
    },
    nonEmpty,
  ),
  rescuedDataColumn: field(
    {
      description: 'Column that receives, as a JSON object, the values that do not convert to their declared column type; the record is kept with those columns NULL. Without it such a record goes to the dead-letter table. A record\'s own field of this name is kept in the object too, under its key.',
      examples: ['_rescued_data'],
    },
    nonEmpty,
  ),
  maxColumns: field(
    { description: 'Most columns the table takes: its records\' distinct top-level keys (case-insensitive) and the columns the spec names, not those the table sets, derives or attaches itself. A batch that would take it past the limit stops the run (PIPE_LAKE_MAX_COLUMNS) instead of refusing records one by one, which would depend on which records came first.', default: 1000, examples: [1000] },
    { type: 'integer', minimum: 1, maximum: 10000 },
  ),
  writeMode: field(
    {
      description: 'How upsert and scd2 batches change stored rows: `copy-on-write` rewrites every file holding a replaced row; `merge-on-read` writes only the new rows and marks replaced rows with Delta deletion vectors (reader 3 / writer 7; compaction folds them back). Ignored by `append` tables. Default `copy-on-write`.',
      examples: ['copy-on-write', 'merge-on-read'],
    },
    { enum: ['copy-on-write', 'merge-on-read'] },
  ),
  maintenance: objectOf<TableMaintenance>(
    {
      description: 'Housekeeping the runner does while it writes the table, at each Delta checkpoint (every 10 commits).',
      examples: [{ compactSmallFiles: true, cleanupLog: true }],
    },
    {
      compactSmallFiles: field(
        { description: 'Compact small files (and fold deletion vectors back into files) when at least 10 small files, or any deletion vector, have piled up.', examples: [true] },
        { type: 'boolean' },
      ),
      cleanupLog: field(
        { description: 'Delete JSON commits and checkpoints older than the table\'s `delta.logRetentionDuration` (default 30 days) behind the newest checkpoint.', examples: [true] },
        { type: 'boolean' },
      ),
    },
  ),
};

/** A gold table: records shaped for it are merged (or appended) once per batch. */
export const sinkDelta: OperatorDefinition = {
  kind: 'sink-delta',
  role: 'sink',
  summary: 'Shapes records for one Delta table (case-insensitive columns, merge keys, sequence) and merges each batch into it with the batch\'s txn.',
  spec: { fields: { 'tables.<name>': tableFields } },
  ports: { error: 'records that cannot be stored: missing merge key, non-numeric undeclared sequence, two spellings of one key, a value that does not convert' },
  failureStage: 'validate',
  terminal: 'table',
  recordStage: (node, ctx) => tableSinkStage(ctx.tables[String(node.props.table)]!),
};
