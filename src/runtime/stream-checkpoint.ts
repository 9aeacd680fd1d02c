/**
 * The per-stream write-ahead log (`<checkpointPath>/<stream>/`):
 *
 * - `offsets/<batchId>`: the exact `[from, until)` of every owned partition, plus the column
 *   types validation used — written before any sink runs;
 * - `decisions/<batchId>`: tables whose records were diverted to the dead-letter table after
 *   the lake refused them — written before the dead-letter commit, so a replay decides alike;
 * - `commits/<batchId>`: written after every table committed the batch;
 * - `start`: the resolved starting offsets of a first run (so `latest` means the same after a
 *   crash before the first batch).
 *
 * After a crash the newest `offsets` without a `commits` is replayed over the same ranges.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { readJsonFile, writeFileAtomic } from './atomic-file.js';

/** Offsets `[from, until)` per partition (keys are partition numbers). */
export type PartitionRanges = Record<string, [number, number]>;

/** `offsets/<batchId>`. */
export interface OffsetsEntry {
  batchId: number;
  appId: string;
  topic: string;
  ranges: PartitionRanges;
  /** Known column types per table at planning time; a replay validates against the same. */
  schema: Record<string, Record<string, string>>;
  createdAt: string;
  /** Written by `--reshard`: an empty batch that only carries positions into a new layout. */
  reshard?: boolean;
}

/** `commits/<batchId>`. */
export interface CommitEntry {
  batchId: number;
  committedAt: string;
  records: number;
  tables: Record<string, { status: string; version: number }>;
  /** State of the stateful operators after this batch, by node id (restored on restart). */
  state?: Record<string, unknown>;
}

/** Table -> the lake's error that diverted the table's whole share to the dead-letter table. */
export type DivertedTables = Record<string, string>;

/**
 * `decisions/<batchId>`: what the lake left out of a batch, recorded before the commit that
 * leaves it out, so a replay that finds a table already committed still dead-letters alike.
 */
export interface BatchDecisions {
  diverted: DivertedTables;
  /** Table -> its input rows (file positions) the lake rejected, with the reason. */
  rejected: Record<string, { row: number; reason: string; dropped?: boolean; expectation?: string }[]>;
}

/** What a stream resumes from. */
export interface RecoveredState {
  /** The batch id the next new batch gets. */
  nextBatchId: number;
  /** Next offset per partition known to the checkpoint (empty on a first run). */
  positions: Map<number, number>;
  /** A planned batch whose commit is missing: it must be re-run over exactly these ranges. */
  pending?: OffsetsEntry;
  /** True when the stream has never planned a batch. */
  fresh: boolean;
}

/** How many committed batches' files are kept (older ones are deleted). */
export const RETAINED_BATCHES = 100;

/** One stream's checkpoint directory. */
export class StreamCheckpoint {
  readonly dir: string;

  constructor(root: string, readonly stream: number) {
    this.dir = join(root, String(stream));
    for (const sub of ['offsets', 'commits', 'decisions']) mkdirSync(join(this.dir, sub), { recursive: true });
  }

  private file(kind: 'offsets' | 'commits' | 'decisions', batchId: number): string {
    return join(this.dir, kind, String(batchId));
  }

  /** Batch ids present in `offsets/` or `commits/`, ascending. */
  batchIds(kind: 'offsets' | 'commits' | 'decisions' = 'offsets'): number[] {
    return readdirSync(join(this.dir, kind))
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .sort((a, b) => a - b);
  }

  readOffsets(batchId: number): OffsetsEntry | undefined {
    return readJsonFile<OffsetsEntry>(this.file('offsets', batchId));
  }

  readCommit(batchId: number): CommitEntry | undefined {
    return readJsonFile<CommitEntry>(this.file('commits', batchId));
  }

  readDecisions(batchId: number): BatchDecisions {
    const raw = readJsonFile<BatchDecisions | DivertedTables>(this.file('decisions', batchId));
    if (!raw) return { diverted: {}, rejected: {} };
    // Checkpoints written before rejected rows existed hold the diverted tables alone.
    if (typeof (raw as BatchDecisions).diverted !== 'object') return { diverted: raw as DivertedTables, rejected: {} };
    return raw as BatchDecisions;
  }

  /** The id (`metaData.id`) of the Delta table a Delta-source stream reads, once it has read it. */
  readSourceTable(): string | undefined {
    return readJsonFile<{ id: string }>(join(this.dir, 'source-table'))?.id;
  }

  writeSourceTable(id: string): void {
    writeFileAtomic(join(this.dir, 'source-table'), JSON.stringify({ id }));
  }

  readStart(): Record<string, number> | undefined {
    return readJsonFile<Record<string, number>>(join(this.dir, 'start'));
  }

  writeStart(positions: Map<number, number>): void {
    writeFileAtomic(join(this.dir, 'start'), JSON.stringify(Object.fromEntries(positions)));
  }

  writeOffsets(entry: OffsetsEntry): void {
    writeFileAtomic(this.file('offsets', entry.batchId), JSON.stringify(entry));
  }

  writeDecisions(batchId: number, decisions: BatchDecisions): void {
    writeFileAtomic(this.file('decisions', batchId), JSON.stringify(decisions));
  }

  writeCommit(entry: CommitEntry): void {
    writeFileAtomic(this.file('commits', entry.batchId), JSON.stringify(entry));
  }

  /** Reads the log and says where the stream resumes. */
  recover(): RecoveredState {
    const ids = this.batchIds('offsets');
    const last = ids.at(-1);
    if (last === undefined) {
      const start = this.readStart();
      const positions = new Map<number, number>();
      for (const [p, offset] of Object.entries(start ?? {})) positions.set(Number(p), offset);
      return { nextBatchId: 0, positions, fresh: start === undefined };
    }
    const entry = this.readOffsets(last);
    if (!entry) throw new CheckpointError('PIPE_CHECKPOINT_CORRUPT', `cannot read ${this.file('offsets', last)}`);
    const committed = this.readCommit(last) !== undefined;
    const positions = new Map<number, number>();
    for (const [p, [from, until]] of Object.entries(entry.ranges)) positions.set(Number(p), committed ? until : from);
    if (committed) return { nextBatchId: last + 1, positions, fresh: false };
    return { nextBatchId: last, positions, pending: entry, fresh: false };
  }

  /** Deletes the files of committed batches older than the retained window. */
  prune(latestCommitted: number, keep = RETAINED_BATCHES): void {
    const limit = latestCommitted - keep;
    if (limit < 0) return;
    for (const kind of ['offsets', 'commits', 'decisions'] as const) {
      for (const id of this.batchIds(kind)) {
        if (id > limit) break;
        rmSync(this.file(kind, id), { force: true });
      }
    }
  }
}
