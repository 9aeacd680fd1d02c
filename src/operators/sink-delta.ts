/**
 * sink-delta: writes a table's share of a batch with the batch's `txn` mark so a replay is
 * a no-op. Records were shaped for the table first (table-shape.ts); values the lake cannot
 * convert to a fixed column type come back as rejected rows (or land in the rescued-data
 * column), never failing their neighbours.
 */
import type { DeltaSinkConfig, OperatorDefinition, TableWriter } from './api.js';
import { tableSinkStage } from './table-shape.js';
import type { BatchInput, PhaseTimes, RejectedRow, TxnMark, WriteOptions, WriteResult } from '../lake/types.js';

/** The table's known column types: current lake columns, then the spec's declared ones. */
export async function knownColumns(lake: TableWriter, sink: DeltaSinkConfig): Promise<Record<string, string>> {
  const columns: Record<string, string> = {};
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
  beforeCommit?: (rejected: RejectedRow[]) => void,
  phases?: PhaseTimes,
): Promise<WriteResult> {
  return lake.write(sink.path, input, {
    ...sinkWriteOptions(sink),
    ...(beforeCommit ? { beforeCommit } : {}),
    ...(phases ? { phases } : {}),
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

/** A gold table: records shaped for it are merged (or appended) once per batch. */
export const sinkDelta: OperatorDefinition = {
  kind: 'sink-delta',
  role: 'sink',
  summary: 'Shapes records for one Delta table (case-insensitive columns, merge keys, sequence) and merges each batch into it with the batch\'s txn.',
  ports: { error: 'records that cannot be stored: missing merge key, non-numeric undeclared sequence, two spellings of one key, a value that does not convert' },
  failureStage: 'validate',
  terminal: 'table',
  recordStage: (node, ctx) => tableSinkStage(ctx.tables[String(node.props.table)]!),
};
