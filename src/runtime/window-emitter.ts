/**
 * The window emitter: writes every `append` window exactly once, after the pipeline's
 * watermark has passed its end, from the partials the streams committed with their batches.
 *
 * Each stream keeps its partials of append windows in its checkpointed operator state and
 * closes a window (takes no more records into it) once its own watermark has passed the end.
 * The pipeline's watermark W is the least committed stream watermark over the streams that own
 * partitions, so every window ending at or before W is closed in every stream: its row is the
 * combination of the streams' cells, whatever the batch cuts, stream count or commit order.
 *
 * One emitter per pipeline run (the main thread of `pipeline run`; the bronze job when staged)
 * appends the rows of the windows ending in (E, W] in one commit carrying the txn
 * (`<pipeline>/windows`, W), where E is the table's newest txn version for that app id. The
 * txn is what makes it exactly once: after a crash the table itself says how far it is
 * written, and a window is never written twice. Streams drop the cells of written windows
 * from their state before their next batch ({@link dropWrittenWindows}).
 *
 * With `watermark.idleTimeout`, a stream that has committed no batch for that long (wall
 * clock, measured whenever the emitter runs) is left out of W; when every stream is, the
 * greatest stream watermark counts. Like the partition rule it is timing-dependent.
 */
import { PipelineError } from '../errors.js';
import type { TableWriter } from '../operators/api.js';
import type { WatermarkState } from '../operators/watermark.js';
import { dropEmitted, type WindowCell, type WindowState } from '../operators/window.js';
import { combine, type Measure } from '../operators/window-measures.js';
import { writeWindowOutput } from '../operators/window-output.js';
import { failpoint } from './failpoints.js';
import type { Logger } from './logger.js';
import type { TableBatchStats } from './stream-protocol.js';
import { NODE_IDS, type Plan, type WindowPlan } from './plan.js';

/** The Delta txn app id of a pipeline's window emitter (its version is the watermark written up to, in ms). */
export function windowEmitterAppId(plan: Pick<Plan, 'pipeline'>): string {
  return `${plan.pipeline}/windows`;
}

/** The plan's `append` aggregations (the ones the emitter writes); none for a raw landing job. */
export function appendWindows(plan: Plan): WindowPlan[] {
  return plan.job === 'raw' ? [] : (plan.windows ?? []).filter((w) => w.outputMode === 'append');
}

/** Where an append window table is written up to (ms), or undefined while it holds no emitted window. */
async function writtenUntil(lake: TableWriter, plan: Plan, w: WindowPlan): Promise<number | undefined> {
  if (!lake.txnVersion || !(await lake.exists(w.path))) return undefined;
  return lake.txnVersion(w.path, windowEmitterAppId(plan));
}

/**
 * The operator state a stream's next batch starts from, without the cells of append windows
 * the emitter has already written (they can take no more records: every stream closed them).
 */
export async function dropWrittenWindows(plan: Plan, lake: TableWriter, state: Record<string, unknown>): Promise<Record<string, unknown>> {
  let out = state;
  for (const w of appendWindows(plan)) {
    const held = state[w.id] as WindowState | undefined;
    if (!held) continue;
    const until = await writtenUntil(lake, plan, w);
    if (until !== undefined) out = { ...out, [w.id]: dropEmitted(held, until) };
  }
  return out;
}

/** How a {@link WindowEmitter} runs. */
export interface WindowEmitterOptions {
  plan: Plan;
  lake: TableWriter;
  /** The streams that own partitions: the ones whose watermarks make the pipeline's. */
  streams: number[];
  logger?: Pick<Logger, 'info'>;
  /** Wall clock (ms), for `idleTimeout`. */
  now?: () => number;
  /** Told of every window table commit (the run's summary counts them). */
  onWrite?: (table: string, stats: TableBatchStats) => void;
}

/** What one emit wrote. */
export interface EmitResult {
  /** The pipeline watermark the emit used (ms), or null while a stream holds it back. */
  watermarkMs: number | null;
  /** Window rows appended, over every append aggregation. */
  rows: number;
}

/** Collects the streams' committed states and writes the windows they have all closed. */
export class WindowEmitter {
  private readonly windows: WindowPlan[];
  private readonly states = new Map<number, Record<string, unknown>>();
  private readonly committedAt = new Map<number, number>();
  private readonly written = new Map<string, number | undefined>();
  private readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting?: Promise<EmitResult>;

  constructor(private readonly opts: WindowEmitterOptions) {
    this.windows = appendWindows(opts.plan);
    this.now = opts.now ?? Date.now;
    for (const s of opts.streams) this.committedAt.set(s, this.now());
  }

  /** True when the plan has append windows to write. */
  get active(): boolean {
    return this.windows.length > 0;
  }

  /** Takes the operator state a stream committed with its newest batch (or recovered at start). */
  observe(stream: number, state: Record<string, unknown> | undefined): void {
    this.states.set(stream, state ?? {});
    this.committedAt.set(stream, this.now());
  }

  /** The least committed stream watermark over the streams that count (see the file comment). */
  pipelineWatermark(): number | null {
    const idleMs = this.opts.plan.watermark?.idleTimeoutMs;
    const now = this.now();
    let least: number | null = null;
    let greatest: number | null = null;
    let counted = 0;
    for (const s of this.opts.streams) {
      const wm = (this.states.get(s)?.[NODE_IDS.watermark] as WatermarkState | undefined)?.watermarkMs ?? null;
      if (wm !== null && (greatest === null || wm > greatest)) greatest = wm;
      if (idleMs !== undefined && now - (this.committedAt.get(s) ?? now) >= idleMs) continue;
      counted++;
      if (wm === null) return null;
      if (least === null || wm < least) least = wm;
    }
    return counted === 0 ? greatest : least;
  }

  /**
   * Writes the windows every stream has closed. Emits run one at a time; calls made while one
   * waits to start share it (it reads the states as they are when it starts).
   */
  emit(): Promise<EmitResult> {
    if (this.waiting) return this.waiting;
    const run = this.queue.then(() => {
      this.waiting = undefined;
      return this.emitNow();
    });
    this.waiting = run;
    this.queue = run.catch(() => {});
    return run;
  }

  /** Resolves once no emit is running or waiting (before the lake it writes with is closed). */
  async settled(): Promise<void> {
    await this.queue;
  }

  private async emitNow(): Promise<EmitResult> {
    const watermarkMs = this.pipelineWatermark();
    let rows = 0;
    if (watermarkMs === null) return { watermarkMs, rows };
    for (const w of this.windows) {
      if (!this.written.has(w.id)) this.written.set(w.id, await writtenUntil(this.opts.lake, this.opts.plan, w));
      const from = this.written.get(w.id);
      if (from !== undefined && from >= watermarkMs) continue;
      const cells = this.closedCells(w, from ?? -Infinity, watermarkMs);
      if (cells.length === 0) continue;
      const result = await writeWindowOutput(this.opts.lake, w, { mode: 'append', cells }, { appId: windowEmitterAppId(this.opts.plan), version: watermarkMs });
      this.written.set(w.id, watermarkMs);
      rows += cells.length;
      if (result) this.opts.onWrite?.(w.name, { status: result.status, rowsIn: result.rowsIn, inserted: result.rowsInserted, updated: 0, deleted: 0 });
      this.opts.logger?.info({ aggregation: w.name, windows: cells.length, until: new Date(watermarkMs).toISOString(), status: result?.status }, 'append windows written');
      failpoint('windows.after-emit');
    }
    return { watermarkMs, rows };
  }

  /** Every stream's cells of windows ending in (from, until], combined per window and group, oldest first. */
  private closedCells(w: WindowPlan, from: number, until: number): WindowCell[] {
    const states = this.opts.streams.map((s) => this.states.get(s)?.[w.id] as WindowState | undefined);
    const cells = combineCells(w.measures, states, (cell) => cell.endMs > from && cell.endMs <= until);
    return Object.entries(cells).sort(([a, x], [b, y]) => x.startMs - y.startMs || (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
  }
}

/** The cells of several streams' window states (those `keep` accepts), combined per window and group. */
export function combineCells(measures: Measure[], states: (WindowState | undefined)[], keep: (cell: WindowCell) => boolean = () => true): Record<string, WindowCell> {
  const cells: Record<string, WindowCell> = {};
  for (const state of states) {
    for (const [key, cell] of Object.entries(state?.open ?? {})) {
      if (!keep(cell)) continue;
      const seen = cells[key];
      cells[key] = seen ? { ...seen, partials: measures.map((m, i) => combine(m, seen.partials[i]!, cell.partials[i]!)) } : cell;
    }
  }
  return cells;
}

/** The coded error of an emit that failed for a reason other than one of ours. */
export function emitFailed(err: unknown): PipelineError {
  if (err instanceof PipelineError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PipelineError('PIPE_RUN_WINDOW_EMIT', `append windows could not be written: ${message}`, {
    cause: err,
    hint: 'nothing is lost: the streams keep the windows in their checkpoints and the next run writes them',
  });
}
