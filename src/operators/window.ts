/**
 * window: a windowed aggregation over the records its `from` tables accept. Each record is
 * assigned to its event-time windows (tumbling: one; sliding: size/slide of them) and group,
 * and its measures accumulate into that cell's partial results (window-measures.ts). The
 * record stage only notes each record's share; the batch's commit adds the shares of the
 * records the tables stored ({@link applyWindowBatch}), so a record a table refuses (a value
 * that does not convert, a `drop` expectation) counts in no window.
 *
 * - `update`: the batch's partials are merged into the output table's rows by the batch's
 *   commit (window-output.ts); nothing is kept between batches.
 * - `append`: partials are kept in the operator state, committed with the batch; the stream
 *   writes nothing itself. Once the stream's watermark has passed a window's end the stream
 *   closes it: its partial is final for this stream (`closedUntil`). The window emitter
 *   (runtime/window-emitter.ts) combines the streams' closed partials once the pipeline's
 *   watermark has passed the end, writes the row once, and the stream then drops the cell
 *   ({@link dropEmitted}). A record for a window the stream already closed (possible only
 *   when `idleTimeout` let the watermark pass a partition that then woke up) is counted in
 *   `afterClose` and left out.
 *
 * Records marked late (`lateData: keep`) and records without a readable event time are left
 * out of every window (the watermark counts them).
 *
 * Spec field it owns: `aggregations`.
 */
import type { DecodedRecord, OperatorDefinition, OperatorNode, RecordPosition } from './api.js';
import { eventTimeMs, type EventTimeView } from './watermark.js';
import { accumulate, combine, emptyPartial, parseMeasure, type Measure, type Partial } from './window-measures.js';
import type { AggregationSpec, WindowSpec } from '../spec/index.js';
import { columnList, field, mapOf, nonEmpty, objectOf, ref } from './schema-builder.js';

/** A window node's configuration (its plan props, resolved). */
export interface WindowConfig {
  name: string;
  sizeMs: number;
  slideMs: number;
  groupBy: string[];
  measures: Measure[];
  outputMode: 'update' | 'append';
}

/** One window × group: its partial results, one per measure. */
export interface WindowCell {
  startMs: number;
  endMs: number;
  groups: unknown[];
  partials: Partial[];
}

/** The window operator's committed state (append mode). */
export interface WindowState {
  /** Cells not yet written by the window emitter, by key (those ending at or before `closedUntil` are final). */
  open: Record<string, WindowCell>;
  /** Windows ending at or before this (ms) take no more records from this stream: its watermark passed them. */
  closedUntil: number | null;
  /** Records left out because the stream had already closed their window (since the checkpoint began). */
  afterClose: number;
  /** The aggregation's definition the cells were counted under (window-output.ts `windowDefinition`; absent in older checkpoints). */
  definition?: string;
  /** The measures' names in the order of each cell's partials (absent in older checkpoints: the spec's order then). */
  measures?: string[];
}

/**
 * The state with each cell's partials in the order of `measures`: reordering the measures in
 * the spec changes nothing of what was counted. A state whose names are not the same set
 * belongs to another definition, which the run refuses at start (table-guards.ts).
 */
export function alignWindowState(state: WindowState | undefined, measures: readonly Measure[]): WindowState | undefined {
  if (!state?.measures) return state;
  const names = measures.map((m) => m.name.toLowerCase());
  const held = state.measures.map((n) => n.toLowerCase());
  if (names.join('\0') === held.join('\0')) return state;
  const index = names.map((n) => held.indexOf(n));
  if (index.some((i) => i < 0) || held.length !== names.length) return state;
  const open = Object.fromEntries(Object.entries(state.open).map(([key, cell]) => [key, { ...cell, partials: index.map((i) => cell.partials[i]!) }]));
  return { ...state, open, measures: measures.map((m) => m.name) };
}

/** Window rows to write to a window table: a batch's `update` partials, or final `append` windows. */
export interface WindowEmit {
  mode: 'update' | 'append';
  cells: WindowCell[];
}

/** Reads a window node's props. */
export function windowConfig(props: Record<string, unknown>): WindowConfig {
  const measures = Object.entries(props.measures as Record<string, string>).map(([name, expr]) => {
    const m = parseMeasure(name, expr);
    if ('error' in m) throw new Error(`measure ${name}: ${m.error}`);
    return m;
  });
  const sizeMs = Number(props.sizeMs);
  return {
    name: String(props.name),
    sizeMs,
    slideMs: props.slideMs === undefined ? sizeMs : Number(props.slideMs),
    groupBy: (props.groupBy as string[] | undefined) ?? [],
    measures,
    outputMode: props.outputMode === 'append' ? 'append' : 'update',
  };
}

/** Start times (ms) of the windows holding event time `t`, oldest first. */
export function windowStarts(t: number, sizeMs: number, slideMs: number): number[] {
  const starts: number[] = [];
  for (let s = Math.floor(t / slideMs) * slideMs; s > t - sizeMs; s -= slideMs) starts.unshift(s);
  return starts;
}

/** A field by name, falling back to a case-insensitive match (tables match columns that way). */
function fieldOf(fields: Record<string, unknown>, name: string): unknown {
  if (name in fields) return fields[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(fields)) if (k.toLowerCase() === lower) return fields[k];
  return undefined;
}

/** A group value as a stable key part (lossless numbers and bigints as numbers). */
function groupValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'object' && value !== null) {
    const v = (value as { valueOf(): unknown }).valueOf();
    return typeof v === 'number' ? v : JSON.stringify(value);
  }
  return value;
}

/** One record's share of a batch's windows: where it falls and its measures' one-record partials. */
export interface WindowContribution {
  /** The record's index in the batch (a record the lake later refuses is left out by it). */
  index: number;
  /** Event time (ms). */
  t: number;
  groups: unknown[];
  partials: Partial[];
}

/** What a window stage hands to the batch's commit (`RoutedBatch.outputs[nodeId]`). */
export interface WindowInput {
  contributions: WindowContribution[];
}

/**
 * The stage only notes each record's contribution: the windows are computed at the batch's
 * commit ({@link applyWindowBatch}), once the tables have said which records they stored.
 */
function stageFor(node: OperatorNode, eventTime: EventTimeView | undefined) {
  const cfg = windowConfig(node.props);
  const column = eventTime?.column ?? String(node.props.eventTimeColumn);
  const contributions: WindowContribution[] = [];
  return {
    process(input: unknown, at?: RecordPosition) {
      if (at?.late) return { port: 'out' };
      const fields = (input as DecodedRecord).fields;
      const t = eventTimeMs(fieldOf(fields, column));
      if (t === undefined) return { port: 'out' };
      const groups = cfg.groupBy.map((g) => groupValue(fieldOf(fields, g)));
      const partials = cfg.measures.map((m) => accumulate(m, emptyPartial(m), m.column === undefined ? undefined : fieldOf(fields, m.column)));
      contributions.push({ index: at?.index ?? contributions.length, t, groups, partials });
      return { port: 'out' };
    },
    emit: (): WindowInput => ({ contributions }),
  };
}

/**
 * One batch of a window: the contributions of the records the tables stored (`excluded`: the
 * batch indices they refused) added to their windows and groups.
 *
 * - `update`: the batch's partials (`cells`), merged into the table by the commit.
 * - `append`: the new state. Records for windows the stream has closed (ending at or before
 *   `closedUntil`, its watermark after the previous batch) are counted in `afterClose`; then
 *   the stream's watermark after this batch (`watermarkMs`) closes the windows it has passed.
 */
export function applyWindowBatch(cfg: WindowConfig, state: WindowState | undefined, input: WindowInput | undefined, excluded: ReadonlySet<number>, watermarkMs: number | null): { cells: WindowCell[]; state?: WindowState } {
  const append = cfg.outputMode === 'append';
  const open: Record<string, WindowCell> = append ? { ...(state?.open ?? {}) } : {};
  // `emittedUntil`: the name in checkpoints written before the window emitter existed.
  let closedUntil = state?.closedUntil ?? (state as { emittedUntil?: number | null } | undefined)?.emittedUntil ?? null;
  let afterClose = state?.afterClose ?? 0;
  for (const c of input?.contributions ?? []) {
    if (excluded.has(c.index)) continue;
    for (const startMs of windowStarts(c.t, cfg.sizeMs, cfg.slideMs)) {
      const endMs = startMs + cfg.sizeMs;
      if (append && closedUntil !== null && endMs <= closedUntil) {
        afterClose++;
        continue;
      }
      const key = JSON.stringify([startMs, ...c.groups]);
      const cell = open[key];
      open[key] = cell
        ? { ...cell, partials: cfg.measures.map((m, i) => combine(m, cell.partials[i]!, c.partials[i]!)) }
        : { startMs, endMs, groups: c.groups, partials: [...c.partials] };
    }
  }
  if (!append) return { cells: Object.values(open) };
  if (watermarkMs !== null) closedUntil = closedUntil === null ? watermarkMs : Math.max(watermarkMs, closedUntil);
  return { cells: [], state: { open, closedUntil, afterClose, measures: cfg.measures.map((m) => m.name) } };
}

/**
 * The state without the cells of windows ending at or before `untilMs`, which the window
 * emitter has written: they can take no more records (they were closed in every stream).
 */
export function dropEmitted(state: WindowState, untilMs: number): WindowState {
  const open: Record<string, WindowCell> = {};
  for (const [key, cell] of Object.entries(state.open)) if (cell.endMs > untilMs) open[key] = cell;
  return { ...state, open };
}

/** `aggregations.<name>.window`. */
const windowSchema = objectOf<WindowSpec>(
  { description: 'An event-time window.', examples: [{ type: 'tumbling', size: '1m' }, { type: 'sliding', size: '1m', slide: '30s' }] },
  {
    type: field({ description: '`tumbling` (back to back) or `sliding` (overlapping, one every `slide`).', examples: ['tumbling'] }, { enum: ['tumbling', 'sliding'] }),
    size: ref('Duration', { description: 'Window length.', examples: ['1m'] }),
    slide: ref('Duration', { description: 'Sliding windows: time between window starts; must divide `size`.', examples: ['30s'] }),
  },
  ['type', 'size'],
);

/** One entry of `aggregations`. */
const aggregation = objectOf<AggregationSpec>(
  {
    description: 'A windowed aggregation over routed tables, written to its own Delta table (`window_start`, `window_end`, group keys, measures).',
    examples: [{ from: ['orders'], window: { type: 'tumbling', size: '1m' }, groupBy: ['event_type'], measures: { events: 'count(*)' }, outputMode: 'update' }],
  },
  {
    from: field({ description: 'Tables whose records feed the windows (after routing and shaping).', examples: [['orders', 'payments']] }, columnList),
    window: windowSchema,
    groupBy: field({ description: 'Group key columns.', examples: [['event_type']] }, { type: 'array', items: nonEmpty, uniqueItems: true }),
    measures: mapOf(
      { description: 'Output column -> DuckDB aggregate over one column: `count(*)`, `count(c)`, `sum(c)`, `min(c)`, `max(c)`, `avg(c)` (they merge exactly across batches and streams).', examples: [{ events: 'count(*)', revenue: 'sum(amount)' }] },
      field({ description: 'A DuckDB aggregate expression.', examples: ['count(*)'] }, nonEmpty),
      undefined,
      1,
    ),
    outputMode: field(
      { description: '`update`: every batch merges its partial results into the window rows; `append`: a window is written once, after the watermark passes its end.', default: 'update', examples: ['update', 'append'] },
      { enum: ['update', 'append'] },
    ),
    partitionBy: field({ description: 'Partition columns of the output table: group keys, `window_date` (YYYY-MM-DD) or `window_hour` (YYYY-MM-DDTHH) of `window_start` (UTC).', examples: [['window_hour']] }, columnList),
  },
  ['from', 'window', 'measures'],
);

  const aggregations = mapOf(
    { description: 'Windowed aggregations by output table name (a directory under `output.path`).', examples: [{ events_per_minute: { from: ['orders'], window: { type: 'tumbling', size: '1m' }, measures: { events: 'count(*)' } } }] },
    aggregation,
    { $ref: '#/$defs/TableName' },
  );

export const window: OperatorDefinition = {
  kind: 'window',
  role: 'sink',
  summary: 'Aggregates the records of its tables per event-time window and group into its own Delta table (update: merged every batch; append: written once when the watermark passes the window end).',
  spec: { fields: { root: { aggregations } } },
  ports: {},
  recordStage: (node, ctx) => stageFor(node, ctx.shared?.eventTime as EventTimeView | undefined),
};
