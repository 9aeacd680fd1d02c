/**
 * Turns the consumer's per-partition message flow into micro-batches with exact offset
 * ranges. Knows nothing about kafkajs: the source pushes messages in (kept as compact
 * chunks, see record-chunk.ts), the batch loop takes batches out, and the source asks which
 * partitions to pause.
 *
 * Invariants per partition: buffered messages are ascending and lie in `[from, next)`;
 * `from` is where the next batch starts; a batch's range is `[from, until)` where `until` is
 * one past its last message (so gaps — compaction, transaction markers — stay inside ranges
 * and a replay over the same range sees the same messages).
 */
import { RecordChunk, type CollectedBatch, type SourceRecord } from './record-chunk.js';
import type { PartitionRanges } from './stream-checkpoint.js';

export type { CollectedBatch } from './record-chunk.js';

export interface CollectorOptions {
  partitions: number[];
  /** Next offset per partition (where the first batch starts). */
  positions: Map<number, number>;
  maxRecordsPerBatch: number;
  /** `--available-now`: offsets at which each partition is done (exclusive). */
  endOffsets?: Map<number, number>;
}

/** Per-partition buffers and the batch-cutting rules. */
export class BatchCollector {
  /** Buffered chunks per partition, and how many records they hold. */
  private readonly buffers = new Map<number, RecordChunk[]>();
  private readonly sizes = new Map<number, number>();
  private readonly from = new Map<number, number>();
  private readonly next = new Map<number, number>();
  private readonly caughtUp = new Set<number>();
  private replayUntil?: Map<number, number>;
  private bufferedCount = 0;
  readonly partitions: readonly number[];

  constructor(private readonly opts: CollectorOptions) {
    this.partitions = [...opts.partitions].sort((a, b) => a - b);
    for (const p of this.partitions) {
      const start = opts.positions.get(p);
      if (start === undefined) throw new Error(`no start position for partition ${p}`);
      this.buffers.set(p, []);
      this.sizes.set(p, 0);
      this.from.set(p, start);
      this.next.set(p, start);
    }
  }

  /** Records waiting in the buffers. */
  get buffered(): number {
    return this.bufferedCount;
  }

  /** Next offset the collector expects for `partition`. */
  position(partition: number): number {
    return this.next.get(partition)!;
  }

  /**
   * Fixes the next batch to exactly `ranges` (a planned batch being re-run after a crash).
   * Its `from` must equal the collector's starting point for every partition.
   */
  setReplay(ranges: PartitionRanges): void {
    const until = new Map<number, number>();
    for (const p of this.partitions) {
      const range = ranges[String(p)];
      const from = this.from.get(p)!;
      if (!range) {
        until.set(p, from);
        continue;
      }
      if (range[0] !== from) throw new Error(`replay of partition ${p} starts at ${range[0]}, collector at ${from}`);
      until.set(p, range[1]);
    }
    this.replayUntil = until;
  }

  get replaying(): boolean {
    return this.replayUntil !== undefined;
  }

  /** Whether every partition of the replayed batch has reached its `until`. */
  replayReady(): boolean {
    if (!this.replayUntil) return false;
    for (const [p, until] of this.replayUntil) if (this.next.get(p)! < until) return false;
    return true;
  }

  /**
   * Accepts messages of one partition (ascending). Redeliveries (offset below the expected
   * one) are ignored; with `endOffsets`, messages at or past the end are ignored too.
   * Returns how many were accepted.
   */
  push(partition: number, messages: readonly SourceRecord[]): number {
    const buffer = this.buffers.get(partition);
    if (!buffer) return 0;
    let next = this.next.get(partition)!;
    const end = this.opts.endOffsets?.get(partition);
    // Ascending offsets: the accepted messages are one run [first, last).
    let first = 0;
    while (first < messages.length && Number(messages[first]!.offset) < next) first++;
    let last = first;
    for (; last < messages.length; last++) {
      const offset = Number(messages[last]!.offset);
      if (end !== undefined && offset >= end) {
        this.caughtUp.add(partition);
        break;
      }
      next = offset + 1;
    }
    const accepted = last - first;
    if (accepted > 0) buffer.push(RecordChunk.pack(messages, first, last));
    this.next.set(partition, next);
    this.sizes.set(partition, this.sizes.get(partition)! + accepted);
    this.bufferedCount += accepted;
    return accepted;
  }

  /**
   * The source saw that offsets below `offset` hold nothing more for `partition`: transaction
   * markers, aborted or compacted-away records. Moving `next` past them lets the next batch's
   * range cover the gap, so positions (and lag) reach the log end even when it is a marker.
   * Callers pass only gaps that start at or before `position(partition)`.
   */
  skipTo(partition: number, offset: number): void {
    const next = this.next.get(partition);
    if (next === undefined || offset <= next) return;
    // Never past the end of an --available-now run or of a batch being replayed.
    const limit = Math.min(this.opts.endOffsets?.get(partition) ?? Infinity, this.replayUntil?.get(partition) ?? Infinity);
    this.next.set(partition, Math.max(next, Math.min(offset, limit)));
  }

  /** A batch would carry something: buffered records, or a gap that moves a position. */
  pending(): boolean {
    return this.bufferedCount > 0 || this.partitions.some((p) => this.next.get(p)! > this.from.get(p)!);
  }

  /** The source saw the partition's log end (`endOffsets` mode), e.g. only control records remain. */
  markCaughtUp(partition: number, logEnd: number): void {
    const end = this.opts.endOffsets?.get(partition);
    if (end !== undefined && logEnd >= end) this.caughtUp.add(partition);
  }

  /** `endOffsets` mode: the partition has nothing left to read. */
  isCaughtUp(partition: number): boolean {
    const end = this.opts.endOffsets?.get(partition);
    if (end === undefined) return false;
    return this.caughtUp.has(partition) || this.next.get(partition)! >= end;
  }

  /** `endOffsets` mode: every partition is caught up. */
  allCaughtUp(): boolean {
    return this.partitions.every((p) => this.isCaughtUp(p));
  }

  /** `endOffsets` mode: nothing left to read and nothing buffered. */
  finished(): boolean {
    return !this.replaying && !this.pending() && this.allCaughtUp();
  }

  /**
   * Whether the source should stop fetching `partition` for now: it is done (`endOffsets`),
   * it finished its part of a replay, or the next batch is already full (backpressure).
   */
  shouldPause(partition: number): boolean {
    if (this.isCaughtUp(partition)) return true;
    if (this.replayUntil) return this.next.get(partition)! >= this.replayUntil.get(partition)!;
    return this.bufferedCount >= this.opts.maxRecordsPerBatch;
  }

  /** Whether a new (non-replay) batch is full. */
  full(): boolean {
    return this.bufferedCount >= this.opts.maxRecordsPerBatch;
  }

  /**
   * Cuts the next batch: the replayed ranges exactly, or up to `maxRecordsPerBatch` records
   * shared fairly between partitions (each partition contributes a prefix of its buffer).
   */
  take(): CollectedBatch {
    const quotas = this.replayUntil ? undefined : this.fairQuotas();
    const ranges: PartitionRanges = {};
    const chunks = new Map<number, RecordChunk[]>();
    let count = 0;
    for (const p of this.partitions) {
      const buffer = this.buffers.get(p)!;
      const from = this.from.get(p)!;
      const limit = this.replayUntil?.get(p);
      let wanted = quotas?.get(p) ?? Infinity;
      const taken: RecordChunk[] = [];
      let until: number | undefined;
      let size = 0;
      while (buffer.length > 0) {
        const chunk = buffer[0]!;
        let n = 0;
        if (limit !== undefined) while (n < chunk.length && chunk.offset(n) < limit) n++;
        else n = Math.min(chunk.length, wanted);
        if (n === chunk.length) {
          taken.push(buffer.shift()!);
          size += n;
          wanted -= n;
          continue;
        }
        if (n > 0) taken.push(chunk.slice(0, n));
        buffer[0] = chunk.slice(n);
        size += n;
        until = chunk.offset(n);
        break;
      }
      until = limit ?? until ?? this.next.get(p)!;
      ranges[String(p)] = [from, until];
      this.from.set(p, until);
      this.sizes.set(p, this.sizes.get(p)! - size);
      if (taken.length > 0) chunks.set(p, taken);
      count += size;
    }
    this.bufferedCount -= count;
    this.replayUntil = undefined;
    return { ranges, chunks, count };
  }

  /** Water-filling: small partitions take everything, the rest split what is left evenly. */
  private fairQuotas(): Map<number, number> {
    const quotas = new Map<number, number>();
    const sizes = this.partitions.map((p) => [p, this.sizes.get(p)!] as const).sort((a, b) => a[1] - b[1]);
    let remaining = this.opts.maxRecordsPerBatch;
    sizes.forEach(([p, size], i) => {
      const share = Math.floor(remaining / (sizes.length - i));
      const take = Math.min(size, share);
      quotas.set(p, take);
      remaining -= take;
    });
    return quotas;
  }
}
