/**
 * The per-batch quality record: one row per (stream, batch, table) — records routed in,
 * written out, dropped, dead-lettered by stage and reason, NULLs per column, expectation
 * counts, duplicate merge keys — logged as one structured line per batch and appended to the
 * Delta table `<output.path>/_events` with the batch's txn, so it is written exactly once
 * with the batch (a replay that finds the txn committed writes nothing again). Records that
 * failed before routing (decode, route) are counted on a row whose `table` is empty.
 */
import type { RecordFailure, TableWriter } from '../operators/api.js';
import type { TxnMark, WriteResult } from '../lake/types.js';
import type { TableBatchStats } from './stream-protocol.js';

/** Name of the event table under `output.path`. */
export const EVENTS_TABLE = '_events';

/** Column types of the event table (fixed, so every batch appends the same shape). */
export const EVENT_COLUMNS: Record<string, string> = {
  pipeline: 'VARCHAR',
  stream: 'INTEGER',
  batch_id: 'BIGINT',
  table_name: 'VARCHAR',
  committed_at: 'TIMESTAMPTZ',
  replay: 'BOOLEAN',
  status: 'VARCHAR',
  records_in: 'BIGINT',
  records_out: 'BIGINT',
  dropped: 'BIGINT',
  dead_lettered: 'BIGINT',
  duplicate_keys: 'BIGINT',
  dead_letters: 'VARCHAR',
  nulls: 'VARCHAR',
  expectations: 'VARCHAR',
};

/** One table's share of a batch, as the batch saw it. */
export interface TableQuality {
  table: string;
  /** Records routed to the table. */
  routed: number;
  /** Of those, dropped by `where` or `drop` expectations. */
  dropped: number;
  stats: TableBatchStats;
  quality?: WriteResult['quality'];
}

/** The event rows of one batch (tables in name order; the pre-routing row first when it has failures). */
export function qualityRows(
  ctx: { pipeline: string; stream: number; batchId: number; replay: boolean; committedAt: string },
  tables: TableQuality[],
  failures: RecordFailure[],
  droppedBeforeTables: number,
): Record<string, unknown>[] {
  const byTable = new Map<string, Record<string, number>>();
  for (const f of failures) {
    const key = f.table ?? '';
    let counts = byTable.get(key);
    if (!counts) byTable.set(key, (counts = {}));
    const reason = `${f.stage}: ${f.error}`;
    counts[reason] = (counts[reason] ?? 0) + 1;
  }
  const sum = (counts: Record<string, number> | undefined) => Object.values(counts ?? {}).reduce((a, b) => a + b, 0);
  const base = { pipeline: ctx.pipeline, stream: ctx.stream, batch_id: ctx.batchId, committed_at: ctx.committedAt, replay: ctx.replay };
  const rows: Record<string, unknown>[] = [];
  const early = byTable.get('');
  if (early || droppedBeforeTables > 0) {
    rows.push({
      ...base, table_name: '', status: 'routing', records_in: sum(early) + droppedBeforeTables, records_out: 0, dropped: droppedBeforeTables,
      dead_lettered: sum(early), duplicate_keys: 0, dead_letters: JSON.stringify(early ?? {}), nulls: '{}', expectations: '{}',
    });
  }
  for (const t of [...tables].sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0))) {
    const dead = byTable.get(t.table);
    const expectations = Object.fromEntries((t.stats.expectations ?? []).map((e) => [e.name, { action: e.action, evaluated: e.evaluated, failed: e.failed }]));
    rows.push({
      ...base, table_name: t.table, status: t.stats.status, records_in: t.routed, records_out: t.stats.rowsIn, dropped: t.dropped,
      dead_lettered: sum(dead), duplicate_keys: t.quality?.duplicateKeys ?? 0, dead_letters: JSON.stringify(dead ?? {}),
      nulls: JSON.stringify(t.quality?.nulls ?? {}), expectations: JSON.stringify(expectations),
    });
  }
  return rows;
}

/** Appends the batch's rows to the event table with the batch's txn (a no-op when it already holds them). */
export function writeQualityEvents(lake: TableWriter, path: string, rows: Record<string, unknown>[], txn: TxnMark): Promise<WriteResult> {
  return lake.write(path, { kind: 'rows', rows }, { mode: 'append', columns: EVENT_COLUMNS, measureQuality: false, txn, operationParameters: { appId: txn.appId, batchId: txn.version, events: true } });
}
