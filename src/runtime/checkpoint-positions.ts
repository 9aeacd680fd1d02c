/**
 * Read-only views of a stream's checkpoint for lag and status: the committed position of
 * every partition and the recent committed batches. Unlike {@link StreamCheckpoint} nothing
 * here creates a directory or a file, so `pipeline status` can look at a checkpoint a live
 * run is writing (files are replaced atomically, so a read sees a whole entry or none).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile } from './atomic-file.js';
import type { CommitEntry, OffsetsEntry } from './stream-checkpoint.js';

/** One committed batch as `status` shows it. */
export interface CommittedBatch {
  batchId: number;
  records: number;
  /** When the batch was planned (its offsets file) and committed, ms since epoch. */
  plannedAtMs: number;
  committedAtMs: number;
}

/** What a stream's checkpoint says about its progress. */
export interface StreamProgress {
  stream: number;
  /** Next offset to read per partition, as committed (a planned but uncommitted batch does not count). */
  positions: Map<number, number>;
  /** Committed batches, oldest first (the checkpoint keeps the newest ones only). */
  recent: CommittedBatch[];
}

function batchIds(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * The committed position of every partition the stream's checkpoint knows: the `until` of
 * its newest committed batch, else the `start` file of a first run that has not committed
 * yet. Partitions the checkpoint has not seen are absent (the caller knows where they start).
 */
export function readCommittedPositions(root: string, stream: number): Map<number, number> {
  const dir = join(root, String(stream));
  const positions = new Map<number, number>();
  const start = readJsonFile<Record<string, number>>(join(dir, 'start'));
  for (const [p, offset] of Object.entries(start ?? {})) positions.set(Number(p), offset);
  const commits = batchIds(join(dir, 'commits'));
  // The newest commit whose offsets file is still there (pruning deletes both, oldest first).
  for (let i = commits.length - 1; i >= 0; i--) {
    const entry = readJsonFile<OffsetsEntry>(join(dir, 'offsets', String(commits[i])));
    if (!entry) continue;
    for (const [p, [, until]] of Object.entries(entry.ranges)) positions.set(Number(p), until);
    break;
  }
  return positions;
}

/** Positions plus up to `limit` newest committed batches of one stream. */
export function readStreamProgress(root: string, stream: number, limit = 20): StreamProgress {
  const dir = join(root, String(stream));
  const recent: CommittedBatch[] = [];
  for (const id of batchIds(join(dir, 'commits')).slice(-limit)) {
    const commit = readJsonFile<CommitEntry>(join(dir, 'commits', String(id)));
    const planned = readJsonFile<OffsetsEntry>(join(dir, 'offsets', String(id)));
    if (!commit || !planned || planned.reshard) continue;
    recent.push({ batchId: id, records: commit.records, plannedAtMs: Date.parse(planned.createdAt), committedAtMs: Date.parse(commit.committedAt) });
  }
  return { stream, positions: readCommittedPositions(root, stream), recent };
}

/**
 * Records per second over the recent batches: records committed after the first of them,
 * divided by the time between its commit and the newest commit (0 with fewer than two).
 */
export function recentThroughput(recent: CommittedBatch[]): number {
  if (recent.length < 2) return 0;
  const span = recent.at(-1)!.committedAtMs - recent[0]!.committedAtMs;
  const records = recent.slice(1).reduce((sum, b) => sum + b.records, 0);
  return span > 0 ? Math.round((records / span) * 1000) : 0;
}
