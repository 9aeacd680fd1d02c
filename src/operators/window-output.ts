/**
 * A window's output table: `window_start`, `window_end` (UTC timestamps), the group keys,
 * the measures (and, for each `avg`, its sum and count in `__<name>_sum`/`__<name>_count`,
 * and for each `sum` and `avg` the sum's exact value in `__<name>_exact`, so later partials
 * merge exactly), plus `window_date`/`window_hour` when partitioned by them.
 *
 * `update`: under the table lock, the batch's partials are combined with the rows the table
 * holds for the same windows and groups, and upserted with the batch's txn, so a replayed
 * batch is skipped and several streams add up. `append`: final windows are appended with the
 * batch's txn.
 */
import { LakeError, PipelineError } from '../errors.js';
import type { TableWriter } from './api.js';
import type { TxnMark, WriteResult } from '../lake/types.js';
import { avgColumns, combine, exactColumn, exactSumText, exactToNumber, finish, numeric, type Measure, type Partial } from './window-measures.js';
import type { WindowCell, WindowEmit } from './window.js';
import { textTimeMs } from './watermark.js';

/** A window's resolved output table (the plan's `windows[]`). */
export interface WindowSinkConfig {
  name: string;
  /** Absolute table directory. */
  path: string;
  groupBy: string[];
  measures: Measure[];
  outputMode: 'update' | 'append';
  partitionBy: string[];
  /** What its rows mean ({@link windowDefinition}), recorded in the table it creates. */
  definition?: string;
}

/** The configuration key a window table records its definition under. */
export const WINDOW_DEFINITION = 'pipeline.window';

/**
 * What an aggregation's windows mean, as one canonical text: the tables it reads, the event
 * time column, window size and slide, group keys (in order: cells are keyed by them) and
 * measures (by name). A window table records it when it is created, a stream's open windows
 * carry it in the checkpoint, and a run whose spec defines the aggregation otherwise stops
 * instead of merging new records into windows counted another way.
 */
export function windowDefinition(d: { from: string[]; eventTimeColumn: string | null; sizeMs: number; slideMs: number; groupBy: string[]; measures: Measure[] }): string {
  const lower = (s: string) => s.toLowerCase();
  const measures = d.measures.map((m) => [lower(m.name), m.fn, m.column === undefined ? null : lower(m.column)]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
  return JSON.stringify({ from: d.from.map(lower).sort(), time: d.eventTimeColumn === null ? null : lower(d.eventTimeColumn), sizeMs: d.sizeMs, slideMs: d.slideMs, groupBy: d.groupBy.map(lower), measures });
}

/** The coded error for aggregation `w` whose windows `where` were counted under definition `was`. */
export function windowChangedError(w: { name: string; path: string; definition?: string }, where: string, was: string): LakeError {
  const changes = windowDefinitionChanges(was, w.definition!);
  return new LakeError('PIPE_LAKE_WINDOW_CHANGED', `aggregation '${w.name}' was counted under another definition (${where}): ${changes.join('; ')}`, {
    details: { aggregation: w.name, table: w.path, changes },
  });
}

/** The coded error for aggregation `w` whose windows `where` were kept another way (`change`: output mode, partitioning). */
export function windowTableChanged(w: { name: string; path: string }, where: string, change: string): LakeError {
  return new LakeError('PIPE_LAKE_WINDOW_CHANGED', `aggregation '${w.name}' was counted under another definition (${where}): ${change}`, {
    details: { aggregation: w.name, table: w.path, changes: [change] },
  });
}

/** What differs between two window definitions, one phrase per part (`measures`, `window size`…). */
export function windowDefinitionChanges(was: string, now: string): string[] {
  const a = JSON.parse(was) as Record<string, unknown>;
  const b = JSON.parse(now) as Record<string, unknown>;
  const names: Record<string, string> = { from: 'from', time: 'event time column', sizeMs: 'window size', slideMs: 'window slide', groupBy: 'groupBy', measures: 'measures' };
  const show = (k: string, v: unknown) => (k === 'measures' ? (v as [string, string, string | null][]).map(([n, fn, c]) => `${n}: ${fn}(${c ?? '*'})`).join(', ') : k.endsWith('Ms') ? `${Number(v) / 1000}s` : JSON.stringify(v));
  return Object.keys(names).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) => `${names[k]} ${show(k, a[k])} → ${show(k, b[k])}`);
}

/** Derived time columns a window table may be partitioned by. */
export const WINDOW_TIME_COLUMNS = ['window_date', 'window_hour'] as const;

/** Milliseconds of a timestamp value read back from the table (Date, ISO text, or DuckDB micros). */
function timeMs(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') return textTimeMs(value);
  if (typeof value === 'bigint') return Number(value / 1000n);
  if (typeof value === 'object' && value !== null && 'micros' in value) return Number((value as { micros: bigint }).micros / 1000n);
  return Number(value);
}

/** A group value read back from the table, spelled as the window stage spells it. */
function keyValue(value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value === undefined ? null : value;
}

function cellKey(startMs: number, groups: unknown[]): string {
  return JSON.stringify([startMs, ...groups.map(keyValue)]);
}

/** A stored row's partial of measure `m`. */
function storedPartial(m: Measure, row: Record<string, unknown>): Partial {
  // A table written before sums were exact has only the rounded sum: that double is its value.
  const exact = row[exactColumn(m)];
  if (m.fn === 'avg') {
    const c = avgColumns(m);
    return [typeof exact === 'string' ? exact : (numeric(row[c.sum]) ?? 0), numeric(row[c.count]) ?? 0];
  }
  if (m.fn === 'sum' && typeof exact === 'string') return exact;
  const v = row[m.name];
  if (v === null || v === undefined) return m.fn === 'count' ? 0 : null;
  return numeric(v) ?? (v as string);
}

/** The output row of a cell. */
export function windowRow(sink: WindowSinkConfig, cell: WindowCell): Record<string, unknown> {
  const start = new Date(cell.startMs).toISOString();
  const row: Record<string, unknown> = { window_start: start, window_end: new Date(cell.endMs).toISOString() };
  sink.groupBy.forEach((g, i) => (row[g] = cell.groups[i] ?? null));
  sink.measures.forEach((m, i) => {
    const partial = cell.partials[i]!;
    row[m.name] = finish(m, partial);
    if (m.fn === 'sum') row[exactColumn(m)] = partial === null ? null : exactSumText(partial as number | string);
    if (m.fn === 'avg') {
      const [s, c] = partial as [number | string, number];
      const cols = avgColumns(m);
      row[cols.sum] = exactToNumber(s);
      row[cols.count] = c;
      row[exactColumn(m)] = exactSumText(s);
    }
  });
  if (sink.partitionBy.includes('window_date')) row.window_date = start.slice(0, 10);
  if (sink.partitionBy.includes('window_hour')) row.window_hour = start.slice(0, 13);
  return row;
}

/** Fixed column types of a window table (the rest follow the type lattice). */
function columnTypes(sink: WindowSinkConfig): Record<string, string> {
  const types: Record<string, string> = { window_start: 'TIMESTAMP', window_end: 'TIMESTAMP' };
  for (const m of sink.measures) {
    if (m.fn === 'count') types[m.name] = 'BIGINT';
    // A sum's type must not depend on which values a batch saw (integers, then a fraction).
    if (m.fn === 'sum') Object.assign(types, { [m.name]: 'DOUBLE', [exactColumn(m)]: 'VARCHAR' });
    if (m.fn === 'avg') {
      const c = avgColumns(m);
      Object.assign(types, { [m.name]: 'DOUBLE', [c.sum]: 'DOUBLE', [c.count]: 'BIGINT', [exactColumn(m)]: 'VARCHAR' });
    }
  }
  return types;
}

/** Adds the table's stored partials of the same windows and groups to the batch's cells. */
async function mergeStored(lake: TableWriter, sink: WindowSinkConfig, cells: WindowCell[]): Promise<WindowCell[]> {
  if (!(await lake.exists(sink.path))) return cells;
  const from = Math.min(...cells.map((c) => c.startMs));
  const until = Math.max(...cells.map((c) => c.startMs));
  const stored = await lake.scan!(sink.path, { where: `window_start BETWEEN make_timestamp(${from * 1000}) AND make_timestamp(${until * 1000})` });
  const byKey = new Map(stored.map((row) => [cellKey(timeMs(row.window_start), sink.groupBy.map((g) => row[g])), row]));
  return cells.map((cell) => {
    const row = byKey.get(cellKey(cell.startMs, cell.groups));
    if (!row) return cell;
    return { ...cell, partials: sink.measures.map((m, i) => combine(m, storedPartial(m, row), cell.partials[i]!)) };
  });
}

/**
 * Writes one batch's window output with the batch's txn. The caller holds the table's lock
 * (the read-merge-write of `update` must not interleave with another stream's).
 */
export async function writeWindowOutput(lake: TableWriter, sink: WindowSinkConfig, emitted: WindowEmit, txn: TxnMark): Promise<WriteResult | undefined> {
  if (emitted.cells.length === 0) return undefined;
  let cells = emitted.cells;
  if (emitted.mode === 'update') {
    const held = (await lake.exists(sink.path)) ? await lake.txnVersion!(sink.path, txn.appId) : undefined;
    if (held !== undefined && held >= txn.version) cells = [];
    else cells = await mergeStored(lake, sink, cells);
  }
  const rows = cells.map((c) => windowRow(sink, c));
  const columns = columnTypes(sink);
  // A group key that is null in every row has no type to infer yet; its column must exist all the same.
  const existing = (await lake.exists(sink.path)) ? new Set((await lake.columns(sink.path)).map((c) => c.name.toLowerCase())) : new Set<string>();
  for (const g of sink.groupBy) if (!existing.has(g.toLowerCase()) && rows.every((r) => r[g] === null)) columns[g] = 'VARCHAR';
  const result = await lake.write(sink.path, { kind: 'rows', rows }, {
    mode: emitted.mode === 'update' ? 'upsert' : 'append',
    ...(emitted.mode === 'update' ? { mergeKeys: ['window_start', 'window_end', ...sink.groupBy] } : {}),
    partitionBy: sink.partitionBy,
    columns,
    txn,
    pinLayout: true,
    ...(sink.definition ? { configuration: { [WINDOW_DEFINITION]: sink.definition } } : {}),
    operationParameters: { appId: txn.appId, batchId: txn.version, window: sink.name },
  });
  if (result.rejected.length > 0) {
    throw new PipelineError('PIPE_RUN_WINDOW_ROWS', `aggregation '${sink.name}': ${result.rejected.length} window rows could not be stored: ${result.rejected[0]!.reason}`, {
      hint: 'a group key or measure changed type; check the columns of the aggregation\'s tables',
    });
  }
  return result;
}
