/**
 * True consumer lag: for every owned partition, the broker's end offset minus the stream's
 * committed checkpoint position — the records that are in the topic but not yet in the
 * tables. Refreshed on its own timer with the admin client (ListOffsets only), so it is right
 * from the first second, for partitions not fetched yet, and while a stream is busy
 * committing; the checkpoint positions are re-read after every committed batch.
 *
 * The end offset is the high watermark. The stream's consumer reads `read_committed`, whose
 * end is the last stable offset; kafkajs' admin client lists offsets without an isolation
 * level, so records of a transaction still open count as lag until it ends (then the
 * consumer moves past them and the lag falls to 0).
 */
import type { Admin, Kafka } from 'kafkajs';
import { readCommittedPositions } from './checkpoint-positions.js';
import { readTopicOffsets } from './kafka-client.js';
import type { Logger } from './logger.js';

/** Lag of one partition. `end` is undefined until the broker answered once. */
export interface PartitionLag {
  partition: number;
  end?: number;
  position: number;
  lag: number;
}

/** Lag of one stream: the sum over its partitions. */
export interface StreamLag {
  stream: number;
  lag: number;
  partitions: PartitionLag[];
}

/** A consistent view of every stream's lag. */
export interface LagSnapshot {
  /** When end offsets were last read (ms since epoch); undefined before the first answer. */
  refreshedAtMs?: number;
  total: number;
  streams: StreamLag[];
}

export interface LagTrackerOptions {
  kafka: Kafka;
  topic: string;
  checkpointRoot: string;
  /** Owned partitions per stream this process runs. */
  streams: { stream: number; partitions: number[] }[];
  /** Where a partition the checkpoint has not recorded yet starts (startingOffsets at run start). */
  initialPositions: Map<number, number>;
  /** Log start offsets at run start: records below them are gone and are not lag. */
  low?: Map<number, number>;
  intervalMs?: number;
  logger: Logger;
  /** Called after every change (a refresh or a committed batch). */
  onChange?: (snapshot: LagSnapshot) => void;
}

/** Computes and refreshes lag; `start()` begins the timer, `stop()` ends it. */
export class LagTracker {
  private readonly ends = new Map<number, number>();
  private readonly low: Map<number, number>;
  private readonly positions = new Map<number, number>();
  private refreshedAtMs?: number;
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private failing = false;
  private admin?: Admin;

  constructor(private readonly opts: LagTrackerOptions) {
    this.low = new Map(opts.low ?? []);
    for (const s of opts.streams) this.readPositions(s.stream);
  }

  /** Reads end offsets now and then every `intervalMs` (default 1 s). */
  start(): Promise<void> {
    this.timer = setInterval(() => void this.refresh(), this.opts.intervalMs ?? 1_000);
    this.timer.unref();
    return this.refresh();
  }

  /** Ends the timer and the admin connection (after a refresh in flight). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    await this.disconnect();
  }

  private async disconnect(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => {});
  }

  /** Re-reads one stream's committed positions (after it committed a batch). */
  onBatchCommitted(stream: number): void {
    this.readPositions(stream);
    this.opts.onChange?.(this.snapshot());
  }

  /** Reads end offsets and every stream's positions; overlapping calls share one read. */
  refresh(): Promise<void> {
    this.inFlight ??= this.readEnds().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async readEnds(): Promise<void> {
    try {
      if (!this.admin) {
        this.admin = this.opts.kafka.admin();
        await this.admin.connect();
      }
      const offsets = await readTopicOffsets(this.admin, this.opts.topic);
      for (const [p, end] of offsets.high) this.ends.set(p, end);
      for (const [p, low] of offsets.low) this.low.set(p, low);
      this.refreshedAtMs = Date.now();
      if (this.failing) this.opts.logger.info({ topic: this.opts.topic }, 'broker answers again: lag is current');
      this.failing = false;
    } catch (err) {
      // Lag goes stale, the run goes on: the streams ride out the outage on their own.
      if (!this.failing) this.opts.logger.warn({ topic: this.opts.topic, err: (err as Error).message }, 'waiting on the broker: cannot read end offsets, lag is stale');
      this.failing = true;
      await this.disconnect(); // reconnect on the next refresh
    }
    for (const s of this.opts.streams) this.readPositions(s.stream);
    this.opts.onChange?.(this.snapshot());
  }

  private readPositions(stream: number): void {
    let known: Map<number, number>;
    try {
      known = readCommittedPositions(this.opts.checkpointRoot, stream);
    } catch {
      return; // a file being replaced on a filesystem without atomic rename: next time
    }
    for (const [p, offset] of known) this.positions.set(p, offset);
  }

  /** The current lag of every stream and partition. */
  snapshot(): LagSnapshot {
    let total = 0;
    const streams: StreamLag[] = this.opts.streams.map(({ stream, partitions }) => {
      let lag = 0;
      const parts = partitions.map((partition) => {
        const end = this.ends.get(partition);
        const position = Math.max(this.positions.get(partition) ?? this.opts.initialPositions.get(partition) ?? 0, this.low.get(partition) ?? 0);
        const partLag = end === undefined ? 0 : Math.max(0, end - position);
        lag += partLag;
        return { partition, end, position, lag: partLag };
      });
      total += lag;
      return { stream, lag, partitions: parts };
    });
    return { refreshedAtMs: this.refreshedAtMs, total, streams };
  }
}
