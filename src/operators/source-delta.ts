/**
 * source-delta: a Delta table read as a stream — the data files each version after the last
 * one processed added (src/lake/changes.ts has the rule for rewrites, updates, deletes and
 * deletion vectors). The runtime keeps the position (the last version read) in the job's
 * checkpoint, and every table the job writes carries the job's txn, so a batch replayed after
 * a crash reads the same versions and writes nothing twice. A spec's `source.delta` reads its
 * table with it (runtime/delta-source-run.ts); staged mode's bronze job reads the raw table with
 * it, the gold job each bronze table.
 *
 * Spec field it owns: `source.delta`.
 */
import type { TableChanges } from '../lake/changes.js';
import type { DeltaSourceSpec } from '../spec/index.js';
import type { OperatorDefinition } from './api.js';
import { field, nonEmpty, objectOf } from './schema-builder.js';

/** How a source-delta node reads (its plan props). */
export interface DeltaSourceProps {
  /** Absolute table location. */
  path: string;
  /** What a version that updated or deleted rows does: stop (`fail`) or read its added files in full (`ignore`). */
  removes: 'fail' | 'ignore';
  /** Most versions one batch reads. */
  maxVersionsPerBatch: number;
  /** Most rows one batch reads, cut at a version boundary (a batch holds at least one whole version). */
  maxRowsPerBatch?: number;
}

/** A read of versions `(after, upTo]`: the added files, their rows in order, and each file's row count. */
export interface VersionRead {
  changes: TableChanges;
  rows: Record<string, unknown>[];
  fileRows: number[];
}

/**
 * Cuts a read down to its first versions holding at most `maxRows` rows (never less than its
 * first version with rows, so a batch always moves on). A version is never split: its position
 * in the checkpoint is the version, so a batch ends where a version ends.
 */
export function capRows(read: VersionRead, maxRows: number): VersionRead {
  if (read.rows.length <= maxRows) return read;
  let rows = 0;
  let keepFiles = 0;
  let upTo = read.changes.after;
  const files = read.changes.files;
  for (let i = 0; i < files.length; ) {
    const version = files[i]!.version;
    let j = i;
    let inVersion = 0;
    while (j < files.length && files[j]!.version === version) inVersion += read.fileRows[j++]!;
    if (rows > 0 && rows + inVersion > maxRows) break;
    rows += inVersion;
    keepFiles = j;
    upTo = version;
    i = j;
  }
  const changes: TableChanges = {
    ...read.changes,
    upTo,
    files: files.slice(0, keepFiles),
    skippedRewrites: read.changes.skippedRewrites.filter((v) => v <= upTo),
    ignoredRemoves: read.changes.ignoredRemoves.filter((v) => v <= upTo),
  };
  return { changes, rows: read.rows.slice(0, rows), fileRows: read.fileRows.slice(0, keepFiles) };
}

/** `source.delta`: the table read as a stream. */
const delta = objectOf<DeltaSourceSpec>(
  {
    description: 'A Delta table read as a stream (instead of `kafka`): each batch reads the rows the versions after the last one processed added, in version, file and row order; rewrites without data change (compaction) are skipped. Rows arrive typed and go through derive, where, expectations, routing and tables like decoded records. Read by one stream; its position (the last version read) is kept in the checkpoint and every table write carries the pipeline\'s txn, so a restart neither loses nor repeats rows.',
    examples: [{ path: './lake/analytics' }, { path: 's3://lake/gold/orders', removes: 'ignore', startingVersion: 'latest' }],
  },
  {
    path: field({ description: 'Location of the table to read: a local path (relative to the working directory) or an `s3://bucket/prefix` URI.', examples: ['./lake/analytics'] }, nonEmpty),
    removes: field(
      {
        description: 'A version that updated or deleted rows (a MERGE, copy-on-write or merge-on-read, a delete): `fail` stops the run with PIPE_DELTA_SOURCE_CHANGED; `ignore` reads the files it added in full (unchanged rows of rewritten files come again, so the tables fed must upsert by key) and does not propagate deletions.',
        default: 'fail',
        examples: ['fail', 'ignore'],
      },
      { enum: ['fail', 'ignore'] },
    ),
    startingVersion: field(
      {
        description: 'Where the first run begins: `earliest` (version 0: every row the table holds), `latest` (only versions committed after the first start) or a version number (that version and later ones). Later runs resume from the checkpoint.',
        default: 'earliest',
        examples: ['earliest', 'latest', 12],
      },
      { anyOf: [{ enum: ['earliest', 'latest'] }, { type: 'integer', minimum: 0 }] },
    ),
  },
  ['path'],
);

export const sourceDelta: OperatorDefinition = {
  kind: 'source-delta',
  role: 'source',
  summary: 'Reads the rows each new version of a Delta table added (compaction skipped), remembering the last version read exactly once.',
  spec: { fields: { source: { delta } } },
  ports: { out: 'rows of the added files, in version, file and row order' },
};
