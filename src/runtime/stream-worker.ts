/**
 * Entry point of a stream's worker thread: recovers the stream's checkpoint, starts its
 * kafkajs consumer, and runs the batch loop until caught up (`--available-now`) or told to
 * stop. One DuckDB instance (the Lake) and one decode pool per stream.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { isObjectStoreUrl, Lake, watchStorageRetries } from '../lake/index.js';
import { BatchCollector, type CollectedBatch } from './batch-collector.js';
import { batchValueBytes } from './record-chunk.js';
import { flushBytesFor } from './settings.js';
import { CutPacer } from './cut-pacer.js';
import { StreamCheckpoint, type OffsetsEntry } from './stream-checkpoint.js';
import { createDecoder } from './decode-pool.js';
import { useFailpointCounter } from './failpoints.js';
import { createKafka } from './kafka-client.js';
import { StreamSource } from './kafka-source.js';
import { createLogger } from './logger.js';
import { BatchProcessor } from './batch-processor.js';
import { RawBatchProcessor } from './raw-batch.js';
import { stagedJobs } from './staged-plan.js';
import type { BatchStats, MainMessage, StreamWorkerData, WorkerMessage } from './stream-protocol.js';
import { TableLockClient } from './table-locks.js';
import { resolveStartPositions } from './start-positions.js';
import { streamFailure } from './storage-failure.js';
import { kafkaSource } from '../spec/index.js';

const data = workerData as StreamWorkerData;

/** The two calls the batch loop makes, whatever the job (fused graph or raw landing). */
interface BatchRunner {
  prepare(batchId: number, batch: CollectedBatch, pending?: OffsetsEntry): Promise<{ entry: OffsetsEntry }>;
  commit(prepared: never): Promise<BatchStats>;
}
const post = (msg: WorkerMessage) => parentPort!.postMessage(msg);

/** Wakes the batch loop when data arrives, a stop is asked, or the consumer dies. */
class Signal {
  private waiter?: () => void;
  notify(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.notify(), Math.max(0, ms));
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

async function main(): Promise<void> {
  useFailpointCounter(data.failpointCounter);
  const { plan, streamIndex } = data;
  const stream = plan.streams[streamIndex]!;
  const sink = data.logToParent ? (text: string) => post({ type: 'log', text }) : undefined;
  // Lines go to the parent only when it draws a progress block, i.e. on a terminal: colour them like its own.
  const logger = createLogger(data.logLevel, plan.pipeline, { format: data.logFormat, sink, colorize: data.logToParent }).child({ stream: streamIndex });
  const signal = new Signal();
  let stopping = false;
  let fatal: Error | undefined;
  parentPort!.on('message', (msg: MainMessage) => {
    if (msg.type === 'stop') {
      stopping = true;
      signal.notify();
    }
  });
  // Listening must not keep the thread alive once the loop and its sockets are done.
  parentPort!.unref();

  const checkpoint = new StreamCheckpoint(plan.checkpointPath, streamIndex);
  rmSync(join(checkpoint.dir, 'staging'), { recursive: true, force: true });
  const state = checkpoint.recover();
  if (data.partitions.length === 0) {
    logger.info({ streams: data.streamCount }, 'stream owns no partition (more streams than partitions); idle');
    post({ type: 'done', stream: streamIndex, reason: 'idle' });
    return;
  }
  const low = new Map(data.low);
  const high = new Map(data.high);
  let lost = 0;
  const positions = resolveStartPositions({
    partitions: data.partitions,
    state,
    low,
    high,
    startingOffsets: kafkaSource(plan.source).startingOffsets,
    failOnDataLoss: kafkaSource(plan.source).failOnDataLoss,
    logger,
    onLost: (_p, records) => (lost += records),
  });
  if (state.fresh) checkpoint.writeStart(positions);
  post({ type: 'started', stream: streamIndex, partitions: data.partitions, replayBatchId: state.pending?.batchId, nextBatchId: state.nextBatchId, lost });

  const collector = new BatchCollector({
    partitions: data.partitions,
    positions,
    maxRecordsPerBatch: plan.trigger.maxRecordsPerBatch,
    endOffsets: data.availableNow ? high : undefined,
  });
  let pending: OffsetsEntry | undefined = state.pending;
  if (pending) {
    collector.setReplay(pending.ranges);
    logger.info({ batchId: pending.batchId, ranges: pending.ranges }, 'replaying the batch a previous run planned but did not commit');
  }

  const lake = await Lake.create({ threads: data.settings.duckdbThreads, memoryLimit: data.settings.duckdbMemoryLimit });
  // An object store that is down or throttling is retried by the lake; the log says so.
  watchStorageRetries((r) => logger.warn({ operation: r.operation, attempt: r.attempt, delayMs: r.delayMs, reason: r.reason }, 'object store request failed; retrying'));
  const decoder = createDecoder(data.settings.decodeThreads);
  const locks = new TableLockClient(data.lockPort);
  // A staged pipeline's raw job lands bytes; every other plan runs the record graph.
  const processor: BatchRunner = plan.job === 'raw'
    ? new RawBatchProcessor({ topic: kafkaSource(plan.source).topic, pipeline: plan.pipeline, rawPath: stagedJobs(plan)!.raw.path, partitionByDate: stagedJobs(plan)!.raw.partitionByDate, streamIndex, appId: stream.appId, lake, checkpoint, locks, logger })
    : new BatchProcessor({ plan, streamIndex, appId: stream.appId, lake, checkpoint, decoder, locks, logger, tableConcurrency: data.settings.tableConcurrency, registryRetryMs: data.settings.registryRetryMs });
  const kafka = createKafka(kafkaSource(plan.source), logger, `${kafkaSource(plan.source).clientId ?? plan.pipeline}-${streamIndex}`, undefined, {
    onOffsetReset: (topic, partition) => source.offsetReset(topic, partition),
  });
  const source: StreamSource = new StreamSource({
    kafka,
    topic: kafkaSource(plan.source).topic,
    groupId: stream.groupId,
    streamIndex,
    streamCount: data.streamCount,
    collector,
    tuning: data.settings.source,
    logger,
    onData: () => signal.notify(),
    onFatal: (err) => {
      fatal = err;
      signal.notify();
    },
    failOnDataLoss: kafkaSource(plan.source).failOnDataLoss,
    onLost: (_p, records) => post({ type: 'lost', stream: streamIndex, records }),
  });

  let reason: 'caught-up' | 'stopped' = 'stopped';
  // Two-stage pipeline: batch N+1 is cut and decoded while batch N commits. Its offsets file
  // is written only after N's commit file, so the log never holds two uncommitted batches.
  let committing: Promise<void> | undefined;
  const pacer = new CutPacer();
  try {
    if (!collector.finished()) await source.start();
    let batchId = state.nextBatchId;
    let deadline = performance.now() + plan.trigger.intervalMs;
    for (;;) {
      if (fatal) throw fatal;
      if (stopping) break;
      let batch: CollectedBatch | undefined;
      if (collector.replaying) {
        if (collector.replayReady()) batch = collector.take();
      } else if (data.availableNow && collector.finished()) {
        reason = 'caught-up';
        break;
      } else if (collector.full()) {
        batch = collector.take();
      } else if (collector.pending() && (performance.now() >= deadline || (data.availableNow && collector.allCaughtUp()))) {
        // While the previous batch commits, records that keep arriving would only wait in the
        // cut batch: cut it late enough that its decode ends as that commit does.
        const hold = pacer.holdMs(performance.now());
        if (hold > 0) {
          await signal.wait(hold);
          continue;
        }
        batch = collector.take();
      } else if (performance.now() >= deadline) {
        deadline = performance.now() + plan.trigger.intervalMs;
      }
      if (!batch) {
        await signal.wait(collector.replaying ? 1_000 : deadline - performance.now());
        continue;
      }
      source.syncPauses();
      deadline = performance.now() + plan.trigger.intervalMs;
      const flushBytes = flushBytesFor(batchValueBytes(batch), data.settings);
      const prepared = await processor.prepare(batchId, batch, pending);
      pending = undefined;
      batchId = prepared.entry.batchId + 1;
      await committing;
      if (fatal) throw fatal;
      // A large batch's commit hands DuckDB's freed memory back; small commits keep it (flushing
      // after each costs them far more than it saves). Set while no write runs.
      await lake.setAllocatorFlushBytes(flushBytes);
      pacer.started(performance.now());
      committing = processor
        .commit(prepared as never)
        .then((stats) => {
          pacer.finished(performance.now(), stats.decodeMs);
          signal.notify();
          post({ type: 'batch', stats });
          source.reportGroupOffsets(prepared.entry.ranges);
        })
        .catch((err: Error) => {
          fatal ??= err;
          signal.notify();
        });
    }
    await committing;
    if (fatal) throw fatal;
  } finally {
    // Never close the lake under a commit still running (a failure elsewhere got us here).
    await committing?.catch(() => {});
    await source.stop();
    await decoder.close();
    await lake.close();
    locks.close();
  }
  post({ type: 'done', stream: streamIndex, reason });
}

main().catch((err: unknown) => {
  const { plan } = data;
  const dirs = isObjectStoreUrl(plan.outputPath) ? [plan.checkpointPath] : [plan.outputPath, plan.checkpointPath];
  const { code, message, hint } = streamFailure(err, dirs);
  post({ type: 'fatal', stream: data.streamIndex, error: { code, message, hint, stack: err instanceof Error ? err.stack : undefined } });
});
