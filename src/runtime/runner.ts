/**
 * `runPipeline`: the main thread of `pipeline run`. Takes the checkpoint locks, checks the
 * stream layout, reads the topic's partitions and watermarks, starts one worker thread per
 * stream, serialises table commits between them, writes `append` windows once every stream
 * has closed them (window-emitter.ts), reports progress, and turns SIGINT/SIGTERM
 * into a clean stop (the in-flight batch finishes; the batch being collected is abandoned
 * before its offsets file, so nothing is half-done).
 */
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PipelineError } from '../errors.js';
import type { Plan } from './plan.js';
import { acquireLock, type HeldLock } from './checkpoint-lock.js';
import { checkLayout, readCheckpointMetadata, streamsChangedError } from './checkpoint-layout.js';
import { resolveRuntimeSettings } from './settings.js';
import { createFailpointCounter } from './failpoints.js';
import { ownedPartitions } from './kafka-assigner.js';
import { createKafka, fetchTopicOffsetsOrExplain } from './kafka-client.js';
import type { LogFormat, LogLevel, Logger } from './logger.js';
import { checkInstanceReshard, instanceLabel, instanceStreams } from './instances.js';
import { finishInterruptedReshard, reshardCheckpoint, reshardTarget } from './reshard.js';
import { reshardState } from './reshard-state.js';
import { RunObserver } from './run-observer.js';
import { describeDeadLetter, SummaryBuilder, type RunSummary } from './summary.js';
import type { StreamWorkerData, WorkerMessage } from './stream-protocol.js';
import { guardTables } from './table-guards.js';
import { TableLockServer } from './table-locks.js';
import { kafkaSource, sourceName } from '../spec/index.js';
import { Lake } from '../lake/index.js';
import { committedState } from './batch-processor.js';
import { StreamCheckpoint } from './stream-checkpoint.js';
import { appendWindows, emitFailed, WindowEmitter, type WindowEmitterOptions } from './window-emitter.js';

export interface RunOptions {
  availableNow: boolean;
  logLevel: LogLevel;
  /** `json` (default) or `pretty`. */
  logFormat?: LogFormat;
  reshard: boolean;
  /** Show a live progress block (stderr is a terminal). */
  tty: boolean;
  /** Serve Prometheus metrics and health checks on `host:port`. */
  metrics?: { port: number; host: string };
  /** Run only the streams of instance `index` of `count` (`--instance i/K`); default 0/1, every stream. */
  instance?: { index: number; count: number };
  /** Rewrite tables whose recorded layout differs from the spec's (`--allow-layout-change`); otherwise refuse. */
  allowLayoutChange?: boolean;
  /** A new checkpoint facing tables that hold its app ids: continue above their batch ids (`--reset`); otherwise refuse. */
  reset?: boolean;
}

/** Runs the plan until caught up (`availableNow`) or stopped; throws PipelineError on failure. */
export async function runPipeline(plan: Plan, opts: RunOptions): Promise<RunSummary> {
  const observer = new RunObserver(plan, opts);
  const logger = observer.logger;
  const root = plan.checkpointPath;
  const streamCount = plan.streams.length;
  const instance = opts.instance ?? { index: 0, count: 1 };
  const own = instanceStreams(instance, streamCount);
  // One of several instances locks only its own streams; re-sharding needs them all (K = 1).
  const scaledOut = instance.count > 1;
  mkdirSync(root, { recursive: true });
  let meta = readCheckpointMetadata(root);
  const locks: HeldLock[] = [];
  try {
    if (scaledOut) checkInstanceReshard({ instance, reshard: opts.reshard, pendingReshardTo: reshardTarget(root), streams: streamCount, root });
    const lockCount = Math.max(streamCount, meta?.streams ?? 0, reshardTarget(root) ?? 0);
    for (const i of scaledOut ? own : Array.from({ length: lockCount }, (_, j) => j)) {
      mkdirSync(join(root, String(i)), { recursive: true });
      const onTakeover = (stale?: { pid: number; startedAt: string }) =>
        logger.info({ stream: i, stalePid: stale?.pid, staleSince: stale?.startedAt }, 'taking over the lock of a run that ended without releasing it (crash or kill)');
      locks.push(acquireLock(join(root, String(i)), `checkpoint of stream ${i} (${root})`, scaledOut ? instanceLabel(instance) : undefined, onTakeover));
    }
    if (meta && !scaledOut) meta = finishInterruptedReshard({ root, pipeline: plan.pipeline, topic: sourceName(plan.source), meta, logger }) ?? meta;
    const layout = checkLayout({ root, pipeline: plan.pipeline, topic: sourceName(plan.source), streams: streamCount }, meta);
    if (layout.previousStreams !== undefined) {
      checkInstanceReshard({ instance, reshard: opts.reshard, previousStreams: layout.previousStreams, streams: streamCount, root });
      if (!opts.reshard) throw streamsChangedError(root, layout.previousStreams, streamCount, plan.outputPath);
      // The topic's partitions tell each new stream which of them it owns (its watermark needs them all).
      const kafkaSpec = kafkaSource(plan.source, 'a re-shard', plan.pipeline);
      const { partitions } = await fetchTopicOffsetsOrExplain(createKafka(kafkaSpec, logger, `${kafkaSpec.clientId ?? plan.pipeline}-admin`, 5), kafkaSpec);
      const carry = (old: Record<string, unknown>[]) => reshardState(plan, old, streamCount, partitions);
      reshardCheckpoint({ root, pipeline: plan.pipeline, topic: sourceName(plan.source), from: layout.previousStreams, to: streamCount, meta: meta!, logger, carry });
    }
    await guardTables(plan, own, { allowLayoutChange: opts.allowLayoutChange ?? false, reset: opts.reset ?? false }, logger);
    const result = await runStreams(plan, opts, observer, own);
    if (scaledOut) result.instance = { index: instance.index, count: instance.count, streams: own };
    return result;
  } finally {
    for (const lock of locks) lock.release();
  }
}

/**
 * A stream that reported its end has nothing left to commit; if a client library still holds
 * its thread open (sockets, retry timers after a broker outage), end the thread.
 */
function reapLater(worker: Worker): void {
  setTimeout(() => void worker.terminate(), 5_000).unref();
}

async function runStreams(plan: Plan, opts: RunOptions, observer: RunObserver, own: number[]): Promise<RunSummary> {
  const logger: Logger = observer.logger;
  const kafkaSpec = kafkaSource(plan.source, 'the Kafka run loop', plan.pipeline);
  const topic = kafkaSpec.topic;
  const streamCount = plan.streams.length;
  const summary = new SummaryBuilder(plan.pipeline, topic, plan.deadLetter.table);
  const kafka = createKafka(kafkaSpec, logger, `${kafkaSpec.clientId ?? plan.pipeline}-admin`, 5);
  const offsets = await fetchTopicOffsetsOrExplain(kafka, kafkaSpec);
  const instance = opts.instance && opts.instance.count > 1 ? instanceLabel(opts.instance) : undefined;
  logger.info({ topic, partitions: offsets.partitions, streams: streamCount, instance, ownStreams: own, availableNow: opts.availableNow }, 'starting');
  // This process's streams only: another instance runs (and reports) the others.
  const owned = own.map((i) => ({ stream: i, partitions: ownedPartitions(offsets.partitions, { streamIndex: i, streamCount }) }));
  await observer.start({ summary, kafka, streams: owned, low: offsets.low, high: offsets.high });

  const lockServer = new TableLockServer();
  const failpointCounter = createFailpointCounter();
  const settings = resolveRuntimeSettings(process.env, own.length, availableParallelism());
  const workers: Worker[] = [];
  let failure: PipelineError | undefined;
  let stopRequested = false;

  const stopAll = () => {
    for (const w of workers) w.postMessage({ type: 'stop' });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) {
      logger.warn({ signal }, 'second signal: exiting now (the next run replays the in-flight batch)');
      process.exit(130);
    }
    stopRequested = true;
    logger.info({ signal }, 'stopping: finishing the in-flight batch');
    stopAll();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // Append windows: one emitter for the run, fed with every stream's committed state.
  const counted = owned.filter((o) => o.partitions.length > 0).map((o) => o.stream);
  const windows = appendWindows(plan).length > 0 ? await startEmitter(plan, counted, own, settings.duckdbMemoryLimit, logger, (table, stats) => summary.addTableWrite(table, stats)) : undefined;
  const emitWindows = () => {
    windows?.emit().catch((err: unknown) => {
      failure ??= emitFailed(err);
      stopAll();
    });
  };
  emitWindows();
  // An idle stream commits nothing; its idleTimeout must still let the windows close.
  const ticker = windows ? setInterval(emitWindows, Math.max(1_000, plan.trigger.intervalMs)) : undefined;
  ticker?.unref();

  const exits: Promise<void>[] = [];
  for (const [k, i] of own.entries()) {
    const partitions = owned[k]!.partitions;
    const pick = (m: Map<number, number>) => partitions.map((p) => [p, m.get(p) ?? 0] as [number, number]);
    const lockPort = lockServer.connect();
    const data: StreamWorkerData = {
      plan,
      streamIndex: i,
      streamCount,
      partitions,
      low: pick(offsets.low),
      high: pick(offsets.high),
      availableNow: opts.availableNow,
      logLevel: opts.logLevel,
      logFormat: observer.workerLogging.logFormat,
      logToParent: observer.workerLogging.toParent,
      failpointCounter,
      lockPort,
      settings,
    };
    const totals = summary.stream(i);
    totals.partitions = partitions;
    const worker = new Worker(new URL('./stream-worker.js', import.meta.url), { workerData: data, transferList: [lockPort] });
    workers.push(worker);
    exits.push(
      new Promise<void>((resolve) => {
        worker.on('message', (msg: WorkerMessage) => {
          switch (msg.type) {
            case 'started':
              totals.state = 'running';
              totals.replayedBatchId = msg.replayBatchId;
              summary.addLost(msg.lost);
              observer.lost(i, msg.lost);
              observer.streamState(i, 'running');
              break;
            case 'batch': {
              if (windows) {
                windows.observe(i, msg.stats.state);
                emitWindows();
              }
              summary.addBatch(msg.stats);
              observer.batch(msg.stats);
              if (msg.stats.watermarkMs !== undefined) totals.watermark = new Date(msg.stats.watermarkMs).toISOString();
              if (!failure) {
                failure = deadLetterLimitBreach(plan, summary, false);
                if (failure) stopAll();
              }
              break;
            }
            case 'lost':
              summary.addLost(msg.records);
              observer.lost(i, msg.records);
              break;
            case 'log':
              observer.workerLog(msg.text);
              break;
            case 'done':
              totals.state = msg.reason;
              observer.streamState(i, msg.reason);
              reapLater(worker);
              break;
            case 'fatal':
              totals.state = 'failed';
              observer.streamState(i, 'failed');
              logger.error({ stream: msg.stream, code: msg.error.code, err: msg.error.message, stack: msg.error.stack }, 'stream failed');
              failure ??= new PipelineError(msg.error.code, `stream ${msg.stream}: ${msg.error.message}`, { hint: msg.error.hint });
              stopAll();
              reapLater(worker);
              break;
          }
        });
        worker.on('error', (err) => {
          totals.state = 'failed';
          observer.streamState(i, 'failed');
          failure ??= new PipelineError('PIPE_RUN_STREAM', `stream ${i} crashed: ${err.message}`, { cause: err, hint: 'the next run resumes from the checkpoint' });
          stopAll();
        });
        worker.on('exit', () => resolve());
      }),
    );
  }
  try {
    await Promise.all(exits);
    clearInterval(ticker);
    // The streams' last commits may close windows: written before the run reports its end.
    if (windows && !failure) await windows.emit().catch((err: unknown) => void (failure ??= emitFailed(err)));
  } finally {
    clearInterval(ticker);
    await windows?.close();
    await observer.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  failure ??= deadLetterLimitBreach(plan, summary, true);
  if (failure) {
    // The summary still says what was committed and why the run stopped.
    const failed = summary.build('failed', opts.availableNow, failure.message);
    throw Object.assign(failure, { summary: failed });
  }
  const status = opts.availableNow && !stopRequested ? 'completed' : 'stopped';
  const result = summary.build(status, opts.availableNow);
  logger.info({ records: result.records, batches: result.batches, wallTimeMs: result.wallTimeMs, recordsPerSecond: result.recordsPerSecond }, 'finished');
  return result;
}


/** The run's window emitter with its own lake, primed with every stream's committed state. */
export async function startEmitter(plan: Plan, streams: number[], own: number[], memoryLimit: string, logger: Logger, onWrite: WindowEmitterOptions['onWrite']) {
  const lake = await Lake.create({ threads: 1, memoryLimit });
  const emitter = new WindowEmitter({ plan, lake, streams, logger, onWrite });
  for (const i of own) emitter.observe(i, committedState(new StreamCheckpoint(plan.checkpointPath, i), plan));
  return Object.assign(emitter, {
    close: async () => {
      await emitter.settled();
      lake.close();
    },
  });
}

/** The ratio limit is judged once a run has consumed this many records (and at its end). */
const RATIO_MIN_RECORDS = 100;

/**
 * Which deadLetter limit `deadLettered` of `records` passes (`more than deadLetter.maxRecords
 * (N)`, `more than deadLetter.maxRatio (r) of M records`), or undefined while within both.
 */
export function deadLetterLimitPassed(plan: Plan, { records, deadLettered }: { records: number; deadLettered: number }, atEnd: boolean): string | undefined {
  const { maxRatio, maxRecords } = plan.deadLetter;
  if (maxRecords !== undefined && deadLettered > maxRecords) return `more than deadLetter.maxRecords (${maxRecords})`;
  if (deadLettered > 0 && (atEnd || records >= RATIO_MIN_RECORDS) && deadLettered / records > maxRatio) {
    return `more than deadLetter.maxRatio (${maxRatio}) of ${records} records`;
  }
  return undefined;
}

/**
 * The coded error of a run past `deadLetter.maxRecords` or `deadLetter.maxRatio`, naming the
 * tables, stages and top reasons; undefined while within both.
 */
export function deadLetterLimitBreach(plan: Plan, summary: SummaryBuilder, atEnd: boolean): PipelineError | undefined {
  const { records, deadLettered } = summary.totals();
  const what = deadLetterLimitPassed(plan, { records, deadLettered }, atEnd);
  if (!what) return undefined;
  const top = summary.deadLetterCounts().slice(0, 3).map((d) => `${d.count} × ${describeDeadLetter(d)}`).join('; ');
  return new PipelineError('PIPE_RUN_DEAD_LETTER_LIMIT', `${deadLettered} records went to the dead-letter table, ${what}; top reasons: ${top}`, {
    hint: `nothing is lost: read them with \`pipeline table head ${plan.deadLetter.path}\`, fix the spec or the producer, then run again; raise deadLetter.maxRatio / maxRecords to accept this rate`,
    details: { deadLettered, records, top: summary.deadLetterCounts().slice(0, 10) },
  });
}
