/**
 * The run event log, `<checkpointPath>/events.jsonl`: one JSON line per run start and end,
 * per committed batch and per lag reading (every few seconds). `pipeline status` and
 * `pipeline report` read it after the fact; it is history for people, never state the
 * runner resumes from (that is the checkpoint). Lines are appended with O_APPEND, so
 * several runner processes sharing a checkpoint (`--instance`) interleave whole lines.
 * At {@link MAX_LOG_BYTES} the file is renamed to `events.1.jsonl` (one generation kept).
 */
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, readSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BatchStats } from './stream-protocol.js';

/** A batch as the log keeps it: the counts of its BatchStats plus lag, latency quantiles and phases. */
export interface BatchEvent extends Pick<BatchStats, 'stream' | 'batchId' | 'replay' | 'records' | 'deadLettered' | 'dropped' | 'durationMs'> {
  type: 'batch';
  atMs: number;
  phasesMs: Record<string, number>;
  /** End-to-end latency of the batch's records (ms), when measured. */
  latencyP50Ms?: number;
  latencyP99Ms?: number;
  /** The stream's lag after the batch. */
  lag?: number;
  tables: Record<string, { status: string; rows: number; inserted: number; updated: number; deleted: number }>;
}

/** Everything in the log. */
export type RunEvent =
  | { type: 'run-started'; atMs: number; pid: number; pipeline: string; topic: string; streams: number[] }
  | BatchEvent
  | { type: 'lag'; atMs: number; total: number; streams: Record<string, number> }
  | { type: 'run-ended'; atMs: number; pid: number; records: number; batches: number; lag: number };

/** Size at which the log rotates. */
export const MAX_LOG_BYTES = 32 * 1024 * 1024;

const FILE = 'events.jsonl';
const PREVIOUS = 'events.1.jsonl';

/** Appends events of one run. Failures to write are reported once and never stop the run. */
export class EventLogWriter {
  private readonly path: string;
  private written = 0;
  private failed = false;

  constructor(private readonly checkpointRoot: string, private readonly onError: (err: Error) => void = () => {}) {
    this.path = join(checkpointRoot, FILE);
    this.written = existsSync(this.path) ? statSync(this.path).size : 0;
  }

  append(event: RunEvent): void {
    if (this.failed) return;
    const line = `${JSON.stringify(event)}\n`;
    try {
      if (this.written + line.length > MAX_LOG_BYTES) {
        renameSync(this.path, join(this.checkpointRoot, PREVIOUS));
        this.written = 0;
      }
      appendFileSync(this.path, line);
      this.written += line.length;
    } catch (err) {
      // History is a convenience: a full disk shows up in the batch commits, not here.
      this.failed = true;
      this.onError(err as Error);
    }
  }
}

/** Every event in the log (previous generation first), oldest first; a torn last line is skipped. */
export function readEventLog(checkpointRoot: string): RunEvent[] {
  const events: RunEvent[] = [];
  for (const name of [PREVIOUS, FILE]) {
    const path = join(checkpointRoot, name);
    if (!existsSync(path)) continue;
    events.push(...parseLines(readFileSync(path, 'utf8').split('\n')));
  }
  return events.sort((a, b) => a.atMs - b.atMs);
}

/** The newest events: the last `maxBytes` of the current log (for status; the first, cut line is dropped). */
export function readRecentEvents(checkpointRoot: string, maxBytes = 1024 * 1024): RunEvent[] {
  const path = join(checkpointRoot, FILE);
  if (!existsSync(path)) return [];
  const size = statSync(path).size;
  const length = Math.min(size, maxBytes);
  const buf = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  const lines = buf.toString('utf8').split('\n');
  if (length < size) lines.shift();
  return parseLines(lines);
}

/** Events of whole lines; a line cut short by a crash mid-append is skipped. */
function parseLines(lines: string[]): RunEvent[] {
  return lines.flatMap((line) => {
    try {
      return line ? [JSON.parse(line) as RunEvent] : [];
    } catch {
      return [];
    }
  });
}
