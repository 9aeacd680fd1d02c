/**
 * `--reshard`: moves a checkpoint from `from` streams to `to` streams without losing or
 * repeating a record. When every old stream's last batch is committed, the next offset of
 * every partition is known; each new stream gets a synthetic, already-committed batch whose
 * empty ranges `[next, next)` carry those positions. Its batch id is above every id any old
 * stream used, so the tables' txn versions (per `<pipeline>/<stream>` app id) never make a
 * new batch look "already committed". Operator state (watermarks, open append windows) moves
 * to the new streams with the partitions (`carry`, see reshard-state.ts).
 *
 * Steps are driven by a marker file so a crash mid-way is finished by the next run:
 * stage new directories → archive old ones → move new ones in → update metadata.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { readJsonFile, writeFileAtomic } from './atomic-file.js';
import { type CheckpointMetadata, writeCheckpointMetadata } from './checkpoint-layout.js';
import { StreamCheckpoint } from './stream-checkpoint.js';
import type { Logger } from './logger.js';

export interface ReshardRequest {
  root: string;
  pipeline: string;
  topic: string;
  from: number;
  to: number;
  meta: CheckpointMetadata;
  logger: Pick<Logger, 'info'>;
  /** The new streams' operator state from the old streams' committed states (reshard-state.ts); none when absent. */
  carry?: (old: Record<string, unknown>[]) => Record<string, unknown>[];
}

interface ReshardMarker {
  from: number;
  to: number;
  archive: string;
  at: string;
}

const MARKER = 'reshard.json';
const STAGING = '.reshard-staging';

/** Next offset per partition over all old streams; refuses if a batch is uncommitted. */
export function collectPositions(root: string, streams: number): { positions: Map<number, number>; maxBatchId: number } {
  const positions = new Map<number, number>();
  let maxBatchId = -1;
  for (let i = 0; i < streams; i++) {
    if (!existsSync(join(root, String(i)))) continue;
    const state = new StreamCheckpoint(root, i).recover();
    if (state.pending) {
      throw new CheckpointError('PIPE_CHECKPOINT_RESHARD_PENDING', `stream ${i} has batch ${state.pending.batchId} planned but not committed, so its partitions' next offsets are not final`, {
        hint: `run once more with streams: ${streams} (it replays and commits that batch; --available-now is enough), then re-shard`,
      });
    }
    maxBatchId = Math.max(maxBatchId, state.nextBatchId - 1);
    for (const [p, offset] of state.positions) positions.set(p, offset);
  }
  return { positions, maxBatchId };
}

/** Re-shards `root` from `from` to `to` streams (or finishes an interrupted re-shard). */
export function reshardCheckpoint(req: ReshardRequest): void {
  const { root } = req;
  let marker = readJsonFile<ReshardMarker>(join(root, MARKER));
  if (!marker) {
    const { positions, maxBatchId } = collectPositions(root, req.from);
    const base = maxBatchId + 1;
    // Every old batch is committed (collectPositions checked), so each stream's newest commit holds its state.
    const old = Array.from({ length: req.from }, (_, i) => {
      if (!existsSync(join(root, String(i)))) return {};
      const checkpoint = new StreamCheckpoint(root, i);
      return checkpoint.readCommit(checkpoint.recover().nextBatchId - 1)?.state ?? {};
    });
    const states = req.carry?.(old) ?? [];
    rmSync(join(root, STAGING), { recursive: true, force: true });
    for (let j = 0; j < req.to; j++) {
      const staged = new StreamCheckpoint(join(root, STAGING), j);
      const ranges: Record<string, [number, number]> = {};
      for (const [p, offset] of positions) if (p % req.to === j) ranges[String(p)] = [offset, offset];
      staged.writeOffsets({ batchId: base, appId: `${req.pipeline}/${j}`, topic: req.topic, ranges, schema: {}, createdAt: new Date().toISOString(), reshard: true });
      const state = states[j];
      staged.writeCommit({ batchId: base, committedAt: new Date().toISOString(), records: 0, tables: {}, ...(state && Object.keys(state).length > 0 ? { state } : {}) });
    }
    marker = { from: req.from, to: req.to, archive: `_resharded-${Date.now()}-from-${req.from}`, at: new Date().toISOString() };
    writeFileAtomic(join(root, MARKER), JSON.stringify(marker));
    req.logger.info({ from: req.from, to: req.to, partitions: positions.size, firstBatchId: base }, 're-sharding the checkpoint');
  }
  const archive = join(root, marker.archive);
  mkdirSync(archive, { recursive: true });
  for (let i = 0; i < marker.from; i++) {
    const dir = join(root, String(i));
    // A lock file stays with its live owner (this process): move everything else.
    if (existsSync(dir) && existsSync(join(dir, 'offsets'))) moveStreamState(dir, join(archive, String(i)));
  }
  for (let j = 0; j < marker.to; j++) {
    const staged = join(root, STAGING, String(j));
    if (existsSync(staged)) moveStreamState(staged, join(root, String(j)));
  }
  writeCheckpointMetadata(root, {
    ...req.meta,
    streams: marker.to,
    reshards: [...(req.meta.reshards ?? []), { at: marker.at, from: marker.from, to: marker.to, archive: marker.archive }],
  });
  rmSync(join(root, STAGING), { recursive: true, force: true });
  rmSync(join(root, MARKER), { force: true });
}

/** The stream count an interrupted re-shard was moving to, if one is in progress. */
export function reshardTarget(root: string): number | undefined {
  return readJsonFile<ReshardMarker>(join(root, MARKER))?.to;
}

/** Finishes a re-shard a previous run started but did not complete; returns the new metadata. */
export function finishInterruptedReshard(req: Omit<ReshardRequest, 'from' | 'to'>): CheckpointMetadata | undefined {
  const marker = readJsonFile<ReshardMarker>(join(req.root, MARKER));
  if (!marker) return undefined;
  reshardCheckpoint({ ...req, from: marker.from, to: marker.to });
  return readJsonFile<CheckpointMetadata>(join(req.root, 'metadata.json'));
}

/** Moves a stream directory's state entries (not its lock) from `src` to `dst`. */
function moveStreamState(src: string, dst: string): void {
  mkdirSync(dst, { recursive: true });
  for (const name of readdirSync(src)) {
    if (name === 'lock' || name === 'lock.takeover') continue;
    rmSync(join(dst, name), { recursive: true, force: true });
    renameSync(join(src, name), join(dst, name));
  }
}
