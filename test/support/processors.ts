/**
 * Driving the real batch processors by hand, without a broker: records queued per owning
 * stream (stream i owns the partitions p with p % streams == i), each stream cut into batches
 * of the sizes a property test draws, the streams' batches committed in the order it picks.
 * After every commit the window emitter sees the stream's state and writes the append windows
 * every stream has closed, as the run's main thread does.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import type { Plan } from '../../src/runtime/plan.js';
import { BatchProcessor, committedState, type BatchProcessorOptions } from '../../src/runtime/batch-processor.js';
import { createDecoder } from '../../src/runtime/decode-pool.js';
import { StreamCheckpoint } from '../../src/runtime/stream-checkpoint.js';
import { TableLockClient } from '../../src/runtime/table-locks.js';
import type { BatchStats } from '../../src/runtime/stream-protocol.js';
import { WindowEmitter } from '../../src/runtime/window-emitter.js';
import { batchOf, type SourceRecord } from '../../src/runtime/record-chunk.js';

/** A Kafka message at `offset` holding `value` (no key, no headers, a fixed timestamp). */
export const message = (offset: number, value: string): SourceRecord => ({ offset: String(offset), key: null, value: Buffer.from(value), timestamp: '1700000000000' });

/** How {@link driveProcessors} runs. */
export interface DriveOptions {
  plan: Plan;
  /** Where the streams' checkpoints go (`<dir>/cp`). */
  dir: string;
  lake: BatchProcessorOptions['lake'];
  streams: number;
  /** Application id prefix (`<appId>/<stream>`). */
  appId: string;
  /** The next batch's size (at least 1 is taken). */
  cuts: () => number;
  /** Which of the `n` streams with records left commits next. */
  pick: (n: number) => number;
  /** When given, every batch lists all of its stream's partitions among these, empty ones too (as the collector does). */
  partitions?: number[];
  /** Sees every committed batch's stats. */
  onBatch?: (stats: BatchStats) => void;
  /** Offset of each partition's first record (default 0): records continuing an earlier drive over the same checkpoint. */
  startOffsets?: Map<number, number>;
}

/** The records' counts summed over every committed batch, and each partition's next offset. */
export interface DriveTotals {
  late: number;
  deadLettered: number;
  dropped: number;
  offsets: Map<number, number>;
}

/** Runs `records` (in produce order) through `streams` batch processors until every record is committed. */
export async function driveProcessors(records: { partition: number; value: string }[], o: DriveOptions): Promise<DriveTotals> {
  const offsets = new Map(o.startOffsets ?? []);
  const start = new Map(offsets);
  const queues = Array.from({ length: o.streams }, () => [] as { partition: number; m: SourceRecord }[]);
  for (const r of records) {
    const offset = offsets.get(r.partition) ?? 0;
    offsets.set(r.partition, offset + 1);
    queues[r.partition % o.streams]!.push({ partition: r.partition, m: message(offset, r.value) });
  }
  const processors = queues.map((_, i) => {
    const checkpoint = new StreamCheckpoint(join(o.dir, 'cp'), i);
    return {
      next: 0,
      batchId: checkpoint.recover().nextBatchId,
      position: new Map((o.partitions ?? []).filter((p) => p % o.streams === i).map((p) => [p, start.get(p) ?? 0])),
      p: new BatchProcessor({
        plan: o.plan, streamIndex: i, appId: `${o.appId}/${i}`, lake: o.lake, checkpoint, decoder: createDecoder(0),
        locks: new TableLockClient(undefined), logger: pino({ level: 'silent' }), tableConcurrency: 2,
      }),
    };
  });
  // Streams that own none of the listed partitions do not hold the pipeline's watermark back.
  const owning = processors.map((_, i) => i).filter((i) => o.partitions === undefined || o.partitions.some((p) => p % o.streams === i));
  const emitter = new WindowEmitter({ plan: o.plan, lake: o.lake, streams: owning });
  // As the runner does: primed with every stream's committed state, so a stream that runs no
  // batch in this drive (e.g. after a re-shard) still counts with the watermark it committed.
  for (const i of owning) emitter.observe(i, committedState(new StreamCheckpoint(join(o.dir, 'cp'), i), o.plan));
  const totals: DriveTotals = { late: 0, deadLettered: 0, dropped: 0, offsets };
  for (;;) {
    const live = processors.map((s, i) => ({ s, q: queues[i]! })).filter(({ s, q }) => s.next < q.length);
    if (live.length === 0) break;
    const { s, q } = live[o.pick(live.length)]!;
    const slice = q.slice(s.next, s.next + Math.max(1, o.cuts()));
    s.next += slice.length;
    const messages = new Map<number, SourceRecord[]>();
    for (const { partition, m } of slice) {
      messages.set(partition, [...(messages.get(partition) ?? []), m]);
      // A partition's messages are queued in offset order, so its first one in a batch is its position.
      if (!s.position.has(partition)) s.position.set(partition, Number(m.offset));
    }
    const ranges: Record<string, [number, number]> = {};
    for (const [p, from] of s.position) {
      const count = messages.get(p)?.length ?? 0;
      if (count === 0 && o.partitions === undefined) continue;
      ranges[p] = [from, from + count];
      s.position.set(p, from + count);
    }
    const stats = await s.p.commit(await s.p.prepare(s.batchId++, batchOf(ranges, messages)));
    o.onBatch?.(stats);
    emitter.observe(processors.indexOf(s), stats.state);
    await emitter.emit();
    totals.late += stats.late ?? 0;
    totals.deadLettered += stats.deadLettered;
    totals.dropped += stats.dropped;
  }
  return totals;
}
