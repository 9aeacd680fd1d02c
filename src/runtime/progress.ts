/**
 * Progress while a run is live. On a terminal: a block at the bottom of stderr, redrawn
 * every second — one line per stream (state, records, records/s, lag, last batch) and a
 * totals line — with log lines printed above it (the block is erased, the line written, the
 * block drawn again), so the two never run into each other. Off a terminal there is no
 * block: the structured log lines (one per batch) are the progress.
 */
import type { LagSnapshot } from './lag-tracker.js';
import type { BatchStats } from './stream-protocol.js';
import type { SummaryBuilder } from './summary.js';

interface StreamView {
  lastRecords: number;
  rate: number;
  lastBatch?: { batchId: number; records: number; durationMs: number; atMs: number };
}

const fmt = (n: number) => n.toLocaleString('en-US');

export class ProgressReporter {
  private timer?: NodeJS.Timeout;
  private sampler?: NodeJS.Timeout;
  private lastAt = Date.now();
  private lastTotal = 0;
  private totalRate = 0;
  private drawnLines = 0;
  private lag: LagSnapshot = { total: 0, streams: [] };
  private readonly views = new Map<number, StreamView>();

  constructor(private readonly summary: SummaryBuilder, private readonly tty: boolean, private readonly out: NodeJS.WritableStream = process.stderr) {}

  setLag(snapshot: LagSnapshot): void {
    this.lag = snapshot;
  }

  onBatch(stats: BatchStats): void {
    this.view(stats.stream).lastBatch = { batchId: stats.batchId, records: stats.records, durationMs: stats.durationMs, atMs: Date.now() };
  }

  /** Writes log text above the block (or straight through off a terminal). */
  readonly log = (text: string): void => {
    if (!this.tty || this.drawnLines === 0) {
      this.out.write(text);
      return;
    }
    this.out.write(this.erase() + text + this.render());
  };

  start(): void {
    if (this.tty) {
      this.timer = setInterval(() => this.tick(), 1_000);
      this.timer.unref();
    }
    this.sampler = setInterval(() => this.summary.sample(this.lag.total), 1_000);
    this.sampler.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.sampler) clearInterval(this.sampler);
    this.summary.sample(this.lag.total);
    if (this.drawnLines > 0) this.out.write(this.erase());
    this.drawnLines = 0;
  }

  private view(stream: number): StreamView {
    let v = this.views.get(stream);
    if (!v) this.views.set(stream, (v = { lastRecords: 0, rate: 0 }));
    return v;
  }

  private tick(): void {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.lastAt) / 1000);
    for (const s of this.summary.streams.values()) {
      const v = this.view(s.stream);
      v.rate = Math.round((s.records - v.lastRecords) / seconds);
      v.lastRecords = s.records;
    }
    const { records } = this.summary.totals();
    this.totalRate = Math.round((records - this.lastTotal) / seconds);
    this.lastTotal = records;
    this.lastAt = now;
    this.out.write(this.erase() + this.render());
  }

  /** Cursor up over the drawn block and clear to the end of the screen. */
  private erase(): string {
    if (this.drawnLines === 0) return '';
    const up = `\x1b[${this.drawnLines}F`;
    this.drawnLines = 0;
    return `${up}\x1b[0J`;
  }

  /** The block's lines (each ending in a newline); remembers how many were drawn. */
  private render(): string {
    const lines: string[] = [];
    const lagOf = new Map(this.lag.streams.map((s) => [s.stream, s.lag]));
    const now = Date.now();
    for (const s of [...this.summary.streams.values()].sort((a, b) => a.stream - b.stream)) {
      const v = this.view(s.stream);
      const b = v.lastBatch;
      const last = b ? `batch ${b.batchId}: ${fmt(b.records)} in ${fmt(Math.round(b.durationMs))} ms, ${Math.round((now - b.atMs) / 1000)}s ago` : 'no batch yet';
      lines.push(`stream ${String(s.stream).padEnd(3)} ${s.state.padEnd(9)} ${fmt(s.records).padStart(11)} records ${fmt(v.rate).padStart(9)}/s  lag ${fmt(lagOf.get(s.stream) ?? 0).padStart(11)}  ${last}`);
    }
    const t = this.summary.totals();
    lines.push(`total      ${`${Math.round(t.elapsedMs / 1000)}s`.padEnd(9)} ${fmt(t.records).padStart(11)} records ${fmt(this.totalRate).padStart(9)}/s  lag ${fmt(this.lag.total).padStart(11)}  ${fmt(t.batches)} batches, ${fmt(t.deadLettered)} dead-lettered`);
    // A wrapped line would throw the cursor arithmetic off: cut lines to the terminal width.
    const width = (this.out as { columns?: number }).columns;
    this.drawnLines = lines.length;
    return lines.map((l) => `${width ? l.slice(0, width - 1) : l}\n`).join('');
  }
}
