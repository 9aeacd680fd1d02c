/**
 * Messages between the main thread and stream workers, and the per-batch statistics they
 * carry. Everything here is structured-clone friendly.
 */
import type { ExpectationCount } from '../lake/types.js';
import type { OperatorCount } from '../operators/api.js';
import type { MessagePort } from 'node:worker_threads';
import type { ErrorCode } from '../errors.js';
import type { Plan } from './plan.js';
import type { LatencySample } from './latency.js';
import type { RuntimeSettings } from './settings.js';
import type { LogFormat, LogLevel } from './logger.js';

/** What a stream worker is started with. */
export interface StreamWorkerData {
  plan: Plan;
  streamIndex: number;
  streamCount: number;
  /** Owned partitions, ascending. */
  partitions: number[];
  /** Log start / end offsets per owned partition at run start (`[partition, offset]`). */
  low: [number, number][];
  high: [number, number][];
  availableNow: boolean;
  logLevel: LogLevel;
  logFormat?: LogFormat;
  /** Post log lines to the main thread (a progress block owns the terminal) instead of stderr. */
  logToParent?: boolean;
  failpointCounter: SharedArrayBuffer;
  lockPort: MessagePort;
  /** Tuning resolved once by the runner (settings.ts). */
  settings: RuntimeSettings;
}

/** One table's outcome in a batch. */
export interface TableBatchStats {
  status: 'committed' | 'already-committed' | 'empty' | 'diverted';
  rowsIn: number;
  inserted: number;
  updated: number;
  deleted: number;
  /** Per expectation of the table: records evaluated and failed in this batch. */
  expectations?: ExpectationCount[];
}

/** Records of one table, stage and reason that went to the dead-letter table. */
export interface DeadLetterCount {
  /** The table the records were routed to; empty before routing (decode, route). */
  table: string;
  stage: string;
  reason: string;
  count: number;
}

/** What a finished batch reports. */
export interface BatchStats {
  stream: number;
  batchId: number;
  replay: boolean;
  records: number;
  deadLettered: number;
  /** The dead-lettered records by table, stage and reason. */
  deadLetters: DeadLetterCount[];
  dropped: number;
  /** Records behind their partition's watermark in this batch (dropped, dead-lettered or kept per `lateData`). */
  late?: number;
  /** Records of this batch whose event time was missing or unreadable (never late; in no window). */
  noEventTime?: number;
  /** The stream's event-time watermark after the batch (ms since the epoch), when known. */
  watermarkMs?: number;
  tables: Record<string, TableBatchStats>;
  /** Each load-time operator's records (derive, filter, expect nodes), by table then plan order. */
  operators?: OperatorCount[];
  durationMs: number;
  /** Time spent decoding, and committing tables. */
  decodeMs: number;
  commitMs: number;
  /** Record timestamp → checkpoint commit, per record (first runs only, not replays). */
  latency?: LatencySample;
  /** Operator state committed with the batch, by node id (e.g. `watermark`). */
  state?: Record<string, unknown>;
  /** Finer phases of the batch in ms (e.g. `{decode, transform, merge, checkpoint}`), when measured. */
  phasesMs?: Record<string, number>;
  /** Table commits retried after a concurrent writer took the version, and re-planned after a conflict. */
  commitRetries?: number;
  commitConflicts?: number;
}

/** Worker -> main. */
export type WorkerMessage =
  | { type: 'started'; stream: number; partitions: number[]; replayBatchId?: number; nextBatchId: number; lost: number }
  | { type: 'batch'; stats: BatchStats }
  /** Records deleted unread while running, skipped under failOnDataLoss: false. */
  | { type: 'lost'; stream: number; records: number }
  | { type: 'log'; text: string }
  | { type: 'done'; stream: number; reason: 'caught-up' | 'stopped' | 'idle' }
  | { type: 'fatal'; stream: number; error: { code: ErrorCode; message: string; hint?: string; stack?: string } };

/** Main -> worker. */
export type MainMessage = { type: 'stop' };
