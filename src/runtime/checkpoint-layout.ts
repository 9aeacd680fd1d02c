/**
 * `<checkpointPath>/metadata.json`: which pipeline, topic and stream layout the checkpoint
 * belongs to. Stream i owns partitions p % streams == i, so a checkpoint written with another
 * `streams` holds positions under the wrong stream directories: running on it would read some
 * partitions twice and skip others. The runner refuses, or re-shards on `--reshard`.
 */
import { existsSync, linkSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { readJsonFile, syncDirectory, writeFileAtomic } from './atomic-file.js';

/** The checkpoint's identity. */
export interface CheckpointMetadata {
  formatVersion: 1;
  pipeline: string;
  topic: string;
  streams: number;
  createdAt: string;
  /** Set by `--reshard`: the previous layouts, newest last. */
  reshards?: { at: string; from: number; to: number; archive: string }[];
}

/** Reads `metadata.json`; undefined for a new checkpoint. */
export function readCheckpointMetadata(root: string): CheckpointMetadata | undefined {
  return readJsonFile<CheckpointMetadata>(join(root, 'metadata.json'));
}

/**
 * Creates `metadata.json` only if it does not exist yet (a whole temp file hard-linked into
 * place, which fails when the name is taken). Instances of one pipeline start at once on a
 * new checkpoint: exactly one of them decides the layout, the others check theirs against it.
 * Returns false when another process created it first.
 */
function createCheckpointMetadata(root: string, meta: CheckpointMetadata): boolean {
  mkdirSync(root, { recursive: true });
  const tmp = join(root, `.metadata.json.${process.pid}.${Math.random().toString(36).slice(2, 8)}.new`);
  writeFileAtomic(tmp, `${JSON.stringify(meta, null, 2)}\n`);
  try {
    linkSync(tmp, join(root, 'metadata.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  syncDirectory(root);
  return true;
}

/** Writes `metadata.json` atomically. */
export function writeCheckpointMetadata(root: string, meta: CheckpointMetadata): void {
  mkdirSync(root, { recursive: true });
  writeFileAtomic(join(root, 'metadata.json'), `${JSON.stringify(meta, null, 2)}\n`);
}

export interface LayoutRequest {
  root: string;
  pipeline: string;
  topic: string;
  streams: number;
}

/**
 * Checks the checkpoint against the spec; creates the metadata on a first run. Returns the
 * previous stream count when it differs (the caller re-shards or refuses).
 */
export function checkLayout(req: LayoutRequest, meta: CheckpointMetadata | undefined): { created: boolean; previousStreams?: number } {
  if (!meta) {
    // Another instance may have created it since the caller read it.
    const now = readCheckpointMetadata(req.root);
    if (now) return checkLayout(req, now);
    if (existsSync(join(req.root, '0', 'offsets'))) {
      throw new CheckpointError('PIPE_CHECKPOINT_METADATA', `checkpoint ${req.root} has stream directories but no metadata.json`, {
        hint: 'restore metadata.json (pipeline, topic, streams), or delete the checkpoint and the tables to start over',
      });
    }
    const fresh: CheckpointMetadata = { formatVersion: 1, pipeline: req.pipeline, topic: req.topic, streams: req.streams, createdAt: new Date().toISOString() };
    if (createCheckpointMetadata(req.root, fresh)) return { created: true };
    return checkLayout(req, readCheckpointMetadata(req.root));
  }
  if (meta.pipeline !== req.pipeline) {
    throw new CheckpointError('PIPE_CHECKPOINT_PIPELINE', `checkpoint ${req.root} belongs to pipeline '${meta.pipeline}', not '${req.pipeline}'`, {
      hint: 'give each pipeline its own checkpoint.path',
    });
  }
  if (meta.topic !== req.topic) {
    throw new CheckpointError('PIPE_CHECKPOINT_TOPIC', `checkpoint ${req.root} holds positions of topic '${meta.topic}', but the spec reads '${req.topic}'`, {
      hint: 'offsets of one topic mean nothing in another: use a new checkpoint.path (and new tables), or restore the topic',
    });
  }
  if (meta.streams !== req.streams) return { created: false, previousStreams: meta.streams };
  return { created: false };
}

/** The refusal when `streams` changed and `--reshard` was not given. */
export function streamsChangedError(root: string, previous: number, requested: number, outputPath: string): CheckpointError {
  return new CheckpointError(
    'PIPE_CHECKPOINT_STREAMS',
    `checkpoint ${root} was written with streams: ${previous}, but the spec now says streams: ${requested}. ` +
      `Stream i owns the partitions p with p % streams == i and keeps their positions in its own checkpoint, ` +
      `so changing the count would re-read some partitions and skip others`,
    {
      hint:
        `either re-run with --reshard (carries every partition's committed position into the new layout; ` +
        `needs every stream's last batch committed), set streams back to ${previous}, ` +
        `or start over by deleting ${root} and the tables under ${outputPath}`,
      details: { previous, requested },
    },
  );
}
