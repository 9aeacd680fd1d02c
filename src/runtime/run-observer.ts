/**
 * Everything a run shows about itself, behind a few hooks the runner calls: the root logger
 * (JSON or pretty, above the progress block on a terminal), one log line per committed batch,
 * true lag from {@link LagTracker}, the Prometheus registry and its HTTP endpoint, the live
 * progress block and the health answers. The runner only reports what happened.
 */
import type { Kafka } from 'kafkajs';
import type { Plan } from './plan.js';
import { EventLogWriter, type BatchEvent } from './event-log.js';
import { LagTracker, type LagSnapshot } from './lag-tracker.js';
import { LatencyHistogram } from './latency.js';
import { createLogger, type LogFormat, type Logger, type LogLevel } from './logger.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { ProgressReporter } from './progress.js';
import { RunMetrics } from './run-metrics.js';
import type { BatchStats } from './stream-protocol.js';
import type { SummaryBuilder } from './summary.js';
import { kafkaSource } from '../spec/index.js';

/** What the observer is asked to provide. */
export interface ObserveOptions {
  logLevel: LogLevel;
  logFormat?: LogFormat;
  /** stderr is a terminal: draw the live block and keep logs above it. */
  tty: boolean;
  /** Serve `/metrics`, `/healthz`, `/readyz` here. */
  metrics?: { port: number; host: string };
}

/** How stream workers should log so their lines land where the main thread's do. */
export interface WorkerLogging {
  logFormat?: LogFormat;
  /** Post lines to the main thread instead of writing stderr (the progress block owns it). */
  toParent: boolean;
}

export class RunObserver {
  readonly logger: Logger;
  private progress?: ProgressReporter;
  private metrics?: RunMetrics;
  private server?: MetricsServer;
  private lag?: LagTracker;
  private lastLag: LagSnapshot = { total: 0, streams: [] };
  private readonly states = new Map<number, string>();
  private events?: EventLogWriter;
  private summary?: SummaryBuilder;
  private lastLagEventMs = 0;

  constructor(private readonly plan: Plan, private readonly opts: ObserveOptions) {
    this.logger = createLogger(opts.logLevel, plan.pipeline, {
      format: opts.logFormat,
      colorize: opts.tty,
      sink: opts.tty ? (text) => (this.progress ? this.progress.log(text) : process.stderr.write(text)) : undefined,
    });
  }

  /** How workers log. */
  get workerLogging(): WorkerLogging {
    return { logFormat: this.opts.logFormat, toParent: this.opts.tty };
  }

  /** A log line a worker posted (already formatted). */
  workerLog(text: string): void {
    if (this.progress) this.progress.log(text);
    else process.stderr.write(text);
  }

  /** Starts lag tracking, metrics and progress for the streams this process runs. */
  async start(args: { summary: SummaryBuilder; kafka: Kafka; streams: { stream: number; partitions: number[] }[]; low: Map<number, number>; high: Map<number, number> }): Promise<void> {
    const { startingOffsets, topic } = kafkaSource(this.plan.source, 'the Kafka run loop', this.plan.pipeline);
    for (const s of args.streams) this.states.set(s.stream, 'starting');
    this.summary = args.summary;
    this.events = new EventLogWriter(this.plan.checkpointPath, (err) => this.logger.warn({ err: err.message }, 'cannot append to the event log; the run goes on without it'));
    this.events.append({ type: 'run-started', atMs: Date.now(), pid: process.pid, pipeline: this.plan.pipeline, topic, streams: args.streams.map((s) => s.stream) });
    if (this.opts.metrics) {
      this.metrics = new RunMetrics();
      this.server = await startMetricsServer(this.metrics, this, this.opts.metrics.port, this.opts.metrics.host);
      this.logger.info({ port: this.server.port, host: this.opts.metrics.host, paths: ['/metrics', '/healthz', '/readyz'] }, 'serving metrics');
      for (const s of args.streams) this.metrics.onStreamState(s.stream, 'starting');
    }
    this.progress = new ProgressReporter(args.summary, this.opts.tty);
    this.progress.start();
    this.lag = new LagTracker({
      kafka: args.kafka,
      topic,
      checkpointRoot: this.plan.checkpointPath,
      streams: args.streams,
      initialPositions: startingOffsets === 'latest' ? args.high : args.low,
      low: args.low,
      logger: this.logger,
      onChange: (snapshot) => {
        this.lastLag = snapshot;
        this.progress?.setLag(snapshot);
        this.metrics?.onLag(snapshot);
        this.lagEvent(snapshot);
      },
    });
    await this.lag.start();
  }

  /** A stream reported its state (`running`, `caught-up`, `failed` …). */
  streamState(stream: number, state: string): void {
    this.states.set(stream, state);
    this.metrics?.onStreamState(stream, state);
  }

  /** A stream skipped records retention had deleted. */
  lost(stream: number, records: number): void {
    if (records > 0) this.metrics?.onLost(stream, records);
  }

  /** A stream committed a batch: lag, metrics, progress and one log line. */
  batch(stats: BatchStats): void {
    this.lag?.onBatchCommitted(stats.stream);
    this.metrics?.onBatch(stats);
    this.progress?.onBatch(stats);
    const streamLag = this.lastLag.streams.find((s) => s.stream === stats.stream);
    const event = batchEvent(stats, streamLag?.lag);
    this.events?.append(event);
    const { type: _type, atMs: _at, ...fields } = event;
    this.logger.info({ ...fields, partitions: streamLag?.partitions.map((p) => p.partition) }, 'batch committed');
  }

  /** A lag reading for the event log: every 5 s while it changes, so a day of running stays small. */
  private lagEvent(snapshot: LagSnapshot): void {
    const now = Date.now();
    if (snapshot.refreshedAtMs === undefined || now - this.lastLagEventMs < 5_000) return;
    this.lastLagEventMs = now;
    this.events?.append({ type: 'lag', atMs: now, total: snapshot.total, streams: Object.fromEntries(snapshot.streams.map((s) => [String(s.stream), s.lag])) });
  }

  /** The run ended: a last lag reading (0 after a caught-up run), then everything stops. */
  async stop(): Promise<void> {
    if (this.lag) {
      // One last reading (0 after a caught-up run), but a broker that went away must not
      // hold the exit for the admin client's whole retry schedule.
      await Promise.race([this.lag.refresh(), new Promise((r) => setTimeout(r, 5_000).unref())]);
      await Promise.race([this.lag.stop(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    }
    this.progress?.stop();
    this.progress = undefined;
    if (this.summary) {
      const { records, batches } = this.summary.totals();
      this.lastLagEventMs = 0;
      this.lagEvent(this.lastLag);
      this.events?.append({ type: 'run-ended', atMs: Date.now(), pid: process.pid, records, batches, lag: this.lastLag.total });
    }
    await this.server?.close();
  }

  /** Total lag at the last reading. */
  get totalLag(): number {
    return this.lastLag.total;
  }

  healthy(): boolean {
    return ![...this.states.values()].includes('failed');
  }

  ready(): boolean {
    return this.healthy() && this.lastLag.refreshedAtMs !== undefined && ![...this.states.values()].includes('starting');
  }
}

/** What the log line and the event log keep of a committed batch. */
function batchEvent(stats: BatchStats, lag: number | undefined): BatchEvent {
  const tables: BatchEvent['tables'] = {};
  for (const [name, t] of Object.entries(stats.tables)) if (t.status !== 'empty') tables[name] = { status: t.status, rows: t.rowsIn, inserted: t.inserted, updated: t.updated, deleted: t.deleted };
  let latency: { latencyP50Ms?: number; latencyP99Ms?: number } = {};
  if (stats.latency) {
    const h = new LatencyHistogram();
    h.add(stats.latency);
    latency = { latencyP50Ms: h.quantile(0.5), latencyP99Ms: h.quantile(0.99) };
  }
  return {
    type: 'batch',
    atMs: Date.now(),
    stream: stats.stream,
    batchId: stats.batchId,
    replay: stats.replay,
    records: stats.records,
    deadLettered: stats.deadLettered,
    dropped: stats.dropped,
    durationMs: Math.round(stats.durationMs),
    phasesMs: stats.phasesMs ?? { decode: Math.round(stats.decodeMs), commit: Math.round(stats.commitMs) },
    ...latency,
    lag,
    tables,
  };
}
