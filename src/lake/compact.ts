/**
 * Small-file compaction (Delta's OPTIMIZE bin-packing). Streaming writes leave many small
 * files; per partition, the files smaller than the target size are packed, in log order,
 * into bins of at most the target size, and each bin is rewritten as one file. The result
 * is one log entry of `remove`s and `add`s, all with `dataChange: false` (readers of the
 * change stream skip it) and `commitInfo.operation = "OPTIMIZE"`. Rows are unchanged.
 *
 * Rewritten files are sorted by the table's clustering (the merge keys an upsert sorts its
 * files by) so merge pruning by min/max stats keeps working; without known keys the rows
 * keep their file order.
 *
 * Concurrency: the commit is put-if-absent. When a writer wins the race, its commits are
 * judged like any write's: if it removed a file this compaction rewrote (or changed the
 * metadata), the new files are deleted and compaction re-plans from the new snapshot, up
 * to `maxAttempts` times, then gives up leaving the table unchanged.
 */
import { LakeError } from '../errors.js';
import { CHECKPOINT_INTERVAL, writeCheckpoint } from './delta-checkpoint.js';
import { commitActions, judgeWinners, removeFor, type PlannedCommit } from './commit.js';
import { Duck, type Conn } from './duck.js';
import { writeDataFiles } from './files.js';
import { listLog, putIfAbsent, readCommit, type AddAction } from './log.js';
import { relativeDataPath, storageFor, tableRoot } from './storage/index.js';
import { SCD2_START } from './merge.js';
import { scanRelation, schemaColumns } from './read.js';
import { applyCommit, fileKey, loadState, refreshState, type LiveFile, type TableState } from './snapshot.js';

/** Target size of compacted files when neither the caller nor `delta.targetFileSize` sets one. */
export const DEFAULT_COMPACT_TARGET_SIZE = 128 * 1024 * 1024;

/** How many log entries (newest first) are searched for the table's merge keys. */
const CLUSTERING_SEARCH_DEPTH = 200;

/** Options of {@link compactTable}. */
export interface CompactOptions {
  /** Bytes. Default: the table's `delta.targetFileSize`, else {@link DEFAULT_COMPACT_TARGET_SIZE}. */
  targetSize?: number;
  /** Sort columns of the rewritten files. Default: {@link tableClustering}. */
  sortBy?: string[];
  /** Plan only: report the bins, write and commit nothing. */
  dryRun?: boolean;
  /** Plans tried when concurrent writers invalidate one (default 3). */
  maxAttempts?: number;
  /** Called after the new files are written and before the commit (progress reports; tests race a writer here). */
  beforeCommit?: (bins: CompactBin[]) => Promise<void>;
  /** DuckDB instance to use; a private one is opened (and closed) when absent. */
  duck?: Duck;
}

/** A set of small files of one partition rewritten together. */
export interface CompactBin {
  partitionValues: Record<string, string | null>;
  /** `add.path` of each input file, in log order. */
  files: string[];
  bytes: number;
}

/** What {@link compactTable} did (or, for a dry run, would do). */
export interface CompactResult {
  status: 'committed' | 'nothing-to-do' | 'dry-run';
  /** The version the plan read. */
  readVersion: number;
  /** The table version after the call (the OPTIMIZE commit when committed). */
  version: number;
  targetSize: number;
  /** Columns the rewritten files are sorted by ([] keeps file order). */
  sortBy: string[];
  bins: CompactBin[];
  filesRemoved: number;
  filesAdded: number;
  bytesRemoved: number;
  bytesAdded: number;
  /** Plans made (1 unless concurrent writers forced a re-plan). */
  attempts: number;
}

interface PlannedBin extends CompactBin {
  live: LiveFile[];
}

/**
 * Packs the small files of each partition into bins. Files at or above the target are
 * left alone, and a bin of one file is dropped (rewriting it alone changes nothing) — unless
 * a file carries a deletion vector: rewriting it folds the DV away (its deleted rows are
 * dropped), so such a file is always compacted.
 */
export function planBins(files: LiveFile[], partitionColumns: string[], targetSize: number): PlannedBin[] {
  const groups = new Map<string, LiveFile[]>();
  for (const f of files) {
    if (f.file.size >= targetSize && !f.add.deletionVector) continue;
    const key = JSON.stringify(partitionColumns.map((c) => f.file.partitionValues[c] ?? null));
    const group = groups.get(key) ?? [];
    group.push(f);
    groups.set(key, group);
  }
  const bins: PlannedBin[] = [];
  const close = (live: LiveFile[]) => {
    if (live.length < 2 && !live.some((f) => f.add.deletionVector)) return;
    bins.push({
      partitionValues: live[0]!.file.partitionValues,
      files: live.map((f) => f.add.path),
      bytes: live.reduce((s, f) => s + f.file.size, 0),
      live,
    });
  };
  for (const group of groups.values()) {
    let current: LiveFile[] = [];
    let bytes = 0;
    for (const f of group) {
      if (current.length > 0 && bytes + f.file.size > targetSize) {
        close(current);
        current = [];
        bytes = 0;
      }
      current.push(f);
      bytes += f.file.size;
    }
    close(current);
  }
  return bins;
}

/**
 * The columns the table's files are clustered by: the newest `sortBy` an OPTIMIZE recorded
 * or `mergeKeys` a MERGE recorded in `commitInfo.operationParameters` (scd2 tables add their
 * start column, as the scd2 writer does). Empty when unknown or no longer in the schema.
 */
export async function tableClustering(state: TableState): Promise<string[]> {
  const listing = await listLog(state.path);
  const versions = listing.commits.filter((v) => v <= state.version).reverse().slice(0, CLUSTERING_SEARCH_DEPTH);
  const names = new Set(state.schema.map((f) => f.name));
  for (const v of versions) {
    const info = (await readCommit(state.path, v))?.find((a) => a.commitInfo)?.commitInfo;
    const params = info?.operationParameters as Record<string, unknown> | undefined;
    if (!params) continue;
    let keys: unknown = params.sortBy ?? params.mergeKeys;
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string')) continue;
    if (params.sortBy === undefined && params.mode === 'scd2') keys = [...(keys as string[]), SCD2_START];
    const columns = keys as string[];
    return columns.every((k) => names.has(k)) ? columns : [];
  }
  return [];
}

/** Loads the rows of one bin into temp table `compact_src`, file by file so file order is kept. */
async function loadBin(c: Conn, state: TableState, bin: PlannedBin): Promise<void> {
  await c.run('DROP TABLE IF EXISTS compact_src');
  for (const [i, f] of bin.live.entries()) {
    const rel = await scanRelation(c, state, { files: [f] });
    await c.run(i === 0 ? `CREATE TEMP TABLE compact_src AS SELECT * FROM ${rel}` : `INSERT INTO compact_src SELECT * FROM ${rel}`);
  }
}

async function deleteFiles(tablePath: string, adds: AddAction[]): Promise<void> {
  const store = storageFor(tablePath);
  await Promise.all(adds.map((a) => store.delete(relativeDataPath(a.path)).catch(() => undefined)));
}

function checkSortColumns(state: TableState, sortBy: string[]): void {
  const names = new Set(state.schema.map((f) => f.name));
  const missing = sortBy.filter((k) => !names.has(k));
  if (missing.length > 0) {
    throw new LakeError('PIPE_LAKE_MISSING_COLUMN', `cannot sort ${state.path} by ${missing.join(', ')}: not a column of the table`, {
      hint: `columns are ${[...names].join(', ')}`,
    });
  }
}

/** Rewrites the small files of a table into files near the target size (see the module comment). */
export async function compactTable(tablePath: string, opts: CompactOptions = {}): Promise<CompactResult> {
  const duck = opts.duck ?? (await Duck.create());
  try {
    return await compactWith(duck, tableRoot(tablePath), opts);
  } finally {
    if (!opts.duck) duck.close();
  }
}

async function compactWith(duck: Duck, key: string, opts: CompactOptions): Promise<CompactResult> {
  const state = await loadState(duck, key);
  if (!state) throw new LakeError('PIPE_LAKE_NO_TABLE', `no Delta table at ${key}`, { hint: 'check the path; a table has a _delta_log folder' });
  const configured = Number(state.metadata?.configuration?.['delta.targetFileSize']);
  const targetSize = opts.targetSize ?? (Number.isFinite(configured) && configured > 0 ? configured : DEFAULT_COMPACT_TARGET_SIZE);
  if (!(targetSize > 0)) throw new LakeError('PIPE_LAKE_BAD_TARGET_SIZE', `compaction target size must be positive, got ${targetSize}`);
  const sortBy = opts.sortBy ?? (await tableClustering(state));
  checkSortColumns(state, sortBy);
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const partitionColumns = state.metadata?.partitionColumns ?? [];
  let lastReason = '';

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const bins = planBins([...state.files.values()], partitionColumns, targetSize);
    const base = { readVersion: state.version, version: state.version, targetSize, sortBy, attempts: attempt };
    const publicBins = bins.map(({ partitionValues, files, bytes }) => ({ partitionValues, files, bytes }));
    const bytesRemoved = bins.reduce((s, b) => s + b.bytes, 0);
    const filesRemoved = bins.reduce((s, b) => s + b.files.length, 0);
    if (bins.length === 0) return { ...base, status: 'nothing-to-do', bins: [], filesRemoved: 0, filesAdded: 0, bytesRemoved: 0, bytesAdded: 0 };
    if (opts.dryRun) return { ...base, status: 'dry-run', bins: publicBins, filesRemoved, filesAdded: 0, bytesRemoved, bytesAdded: 0 };

    const adds: AddAction[] = [];
    try {
      await duck.with(async (c) => {
        for (const bin of bins) {
          await loadBin(c, state, bin);
          const written = await writeDataFiles(c, {
            tablePath: key, source: 'compact_src', columns: schemaColumns(state), partitionColumns, orderBy: sortBy, targetFileSize: targetSize,
          });
          adds.push(...written.map((a) => ({ ...a, dataChange: false })));
        }
      });
      await opts.beforeCommit?.(publicBins);
    } catch (err) {
      await deleteFiles(key, adds);
      throw err;
    }
    const bytesAdded = adds.reduce((s, a) => s + a.size, 0);
    const plan: PlannedCommit = {
      readVersion: state.version,
      operation: 'OPTIMIZE',
      operationParameters: { predicate: [], targetSize, sortBy, zOrderBy: [] },
      operationMetrics: {
        numRemovedFiles: filesRemoved, numAddedFiles: adds.length, numRemovedBytes: bytesRemoved, numAddedBytes: bytesAdded, numBins: bins.length,
      },
      isBlindAppend: false,
      adds,
      removes: bins.flatMap((b) => b.live.map((f) => ({ ...removeFor(f.add), dataChange: false }))),
      readFiles: new Set(bins.flatMap((b) => b.files.map(fileKey))),
    };

    let target = state.version + 1;
    while (true) {
      const actions = commitActions(plan);
      // A commit that failed may still have landed (a store that timed out after storing it),
      // so its files stay: if it did not land, vacuum removes them as strays.
      const landed = await putIfAbsent(key, target, actions);
      if (landed) {
        applyCommit(state, target, actions, landed);
        await storageFor(key).forget(plan.removes.map((r) => relativeDataPath(r.path))).catch(() => undefined);
        if (target % CHECKPOINT_INTERVAL === 0) {
          // A checkpoint is an optimisation: failing to write one never fails the compaction.
          await writeCheckpoint(duck, state).catch(() => undefined);
        }
        return { ...base, status: 'committed', version: target, bins: publicBins, filesRemoved, filesAdded: adds.length, bytesRemoved, bytesAdded };
      }
      let verdict: ReturnType<typeof judgeWinners>;
      try {
        verdict = judgeWinners(plan, await refreshState(state));
      } catch (err) {
        await deleteFiles(key, adds);
        throw err;
      }
      if (verdict.kind === 'retry') {
        target = state.version + 1;
        continue;
      }
      await deleteFiles(key, adds);
      lastReason = verdict.kind === 'replan' ? verdict.reason : `version ${verdict.version} conflicts`;
      break; // re-plan against the refreshed state
    }
  }
  throw new LakeError(
    'PIPE_LAKE_COMPACT_CONFLICT',
    `compaction of ${key} gave up after ${maxAttempts} attempt(s): ${lastReason}; the table is unchanged`,
    { hint: 'concurrent writers rewrote the same files; run compact again', details: { table: key, attempts: maxAttempts } },
  );
}
