/**
 * Progress on stderr while a run is live: a single rewritten line on a terminal, a plain line
 * every 10 s otherwise (CI logs, files).
 */
import type { SummaryBuilder } from './summary.js';

export class ProgressReporter {
  private timer?: NodeJS.Timeout;
  private sampler?: NodeJS.Timeout;
  private lastRecords = 0;
  private lastAt = Date.now();
  private drawn = false;
  private readonly lag = new Map<number, number>();

  constructor(private readonly summary: SummaryBuilder, private readonly tty: boolean, private readonly out: NodeJS.WriteStream = process.stderr) {}

  setLag(stream: number, lag: number): void {
    this.lag.set(stream, lag);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.tty ? 1_000 : 10_000);
    this.timer.unref();
    this.sampler = setInterval(() => this.summary.sample(this.totalLag()), 1_000);
    this.sampler.unref();
  }

  private totalLag(): number {
    let lag = 0;
    for (const l of this.lag.values()) lag += l;
    return lag;
  }

  private tick(): void {
    const { records, batches, deadLettered, elapsedMs } = this.summary.totals();
    const now = Date.now();
    const rate = Math.round(((records - this.lastRecords) / Math.max(1, now - this.lastAt)) * 1000);
    this.lastRecords = records;
    this.lastAt = now;
    const lag = this.totalLag();
    const line = `${(elapsedMs / 1000).toFixed(0)}s  ${records} records  ${rate} records/s  ${batches} batches  ${deadLettered} dead-lettered  lag ${lag}`;
    if (this.tty) {
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else this.out.write(`progress: ${line}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.sampler) clearInterval(this.sampler);
    this.summary.sample(this.totalLag());
    if (this.drawn) this.out.write('\r\x1b[2K');
  }
}
