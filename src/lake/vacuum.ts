/**
 * Vacuum: deletes data files the table no longer needs. The log is the truth: a file the
 * current snapshot references is never deleted, whatever its age. Two kinds of files go:
 *  - removed files (tombstones) whose `deletionTimestamp` is older than the retention;
 *  - stray files the log never mentions (left by a writer that crashed before its commit,
 *    or tombstones already dropped from checkpoints) whose mtime is older than the retention.
 * The retention protects readers still on older versions and writers whose files are not
 * committed yet, so a retention below {@link VACUUM_MIN_RETENTION_MS} needs `force`.
 *
 * Never touched: `_delta_log`, hidden names (`.` or `_` prefixed, except partition folders
 * such as `_2=x`), nested Delta tables, symbolic links. Folders are never removed, since a
 * concurrent writer may be about to write into an empty partition folder.
 */
import { LakeError } from '../errors.js';
import { Duck } from './duck.js';
import { hiveEscape } from './files.js';
import { dvFilePath } from './deletion-vectors.js';
import { resolveDataPath } from './log.js';
import { loadState, refreshState, type TableState } from './snapshot.js';
import { storageFor, tableRoot, type TableStorage } from './storage/index.js';

/** Shortest retention allowed without `force`. */
export const VACUUM_MIN_RETENTION_MS = 60 * 60 * 1000;

/** Default retention: the protocol's default `delta.deletedFileRetentionDuration` (one week). */
export const DEFAULT_VACUUM_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** Options of {@link vacuumTable}. */
export interface VacuumOptions {
  /** Files younger than this are kept (ms). Default {@link DEFAULT_VACUUM_RETENTION_MS}. */
  retentionMs?: number;
  /** Allow a retention below {@link VACUUM_MIN_RETENTION_MS}. */
  force?: boolean;
  /** List what would be deleted; delete nothing. */
  dryRun?: boolean;
  /** The clock (ms since the epoch); tests pin it. */
  now?: number;
  /** DuckDB instance for reading checkpoints; a private one is opened (and closed) when absent. */
  duck?: Duck;
}

/** A file vacuum deletes (or would delete). */
export interface VacuumFile {
  /** Path relative to the table folder. */
  path: string;
  size: number;
  /** `removed`: a tombstone in the log; `untracked`: a file the log does not mention. */
  reason: 'removed' | 'untracked';
  /** The deletion timestamp (removed) or modification time (untracked), ms. */
  since: number;
}

/** What {@link vacuumTable} did (or, for a dry run, would do). */
export interface VacuumResult {
  /** The snapshot version vacuum kept the files of. */
  version: number;
  dryRun: boolean;
  retentionMs: number;
  files: VacuumFile[];
  filesDeleted: number;
  bytesDeleted: number;
  /** Live files seen on disk and kept. */
  liveFilesKept: number;
  /** Files younger than the retention and kept. */
  recentFilesKept: number;
}

interface DiskFile {
  /** Relative to the table root. */
  rel: string;
  /** As {@link resolveDataPath} maps it, to compare with the log's paths. */
  abs: string;
  size: number;
  mtimeMs: number;
}

/** Whether a name inside the table folder is hidden from vacuum (Delta's convention). */
function isHidden(name: string, partitionColumns: string[]): boolean {
  if (!name.startsWith('_') && !name.startsWith('.')) return false;
  return !partitionColumns.some((c) => name.startsWith(`${hiveEscape(c)}=`));
}

/** Every non-hidden file under the table, except nested tables' files. */
async function listDataFiles(store: TableStorage, partitionColumns: string[]): Promise<DiskFile[]> {
  const hidden = (rel: string) => rel.split('/').some((seg) => seg === '_delta_log' || isHidden(seg, partitionColumns));
  // A folder holding a `_delta_log` is a table inside this table: not ours.
  // Hidden folders are not walked, except a nested table's log, which marks that table.
  const all = await store.listAll((rel) => rel === '_delta_log' || (!rel.endsWith('/_delta_log') && isHidden(rel.slice(rel.lastIndexOf('/') + 1), partitionColumns)));
  const nested = new Set<string>();
  for (const f of all) {
    const i = f.path.indexOf('/_delta_log/');
    if (i > 0) nested.add(f.path.slice(0, i + 1));
  }
  const out: DiskFile[] = [];
  for (const f of all) {
    if (hidden(f.path) || [...nested].some((n) => f.path.startsWith(n))) continue;
    out.push({ rel: f.path, abs: store.localPath(f.path), size: f.size, mtimeMs: f.mtimeMs });
  }
  return out;
}

/** Live data files and the deletion-vector files their DVs are stored in. */
function liveSet(state: TableState): Set<string> {
  const live = new Set<string>();
  for (const f of state.files.values()) {
    live.add(resolveDataPath(state.path, f.add.path));
    const dv = f.add.deletionVector;
    if (dv?.storageType === 'u') live.add(resolveDataPath(state.path, dvFilePath(dv.pathOrInlineDv)));
  }
  return live;
}

/** A retention as the CLI spells it: the largest unit that divides it (`7d`, `90m`, `0s`). */
export function formatRetention(ms: number): string {
  if (ms === 0) return '0s';
  for (const [unit, size] of [['d', 864e5], ['h', 36e5], ['m', 6e4], ['s', 1e3]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Parses `delta.deletedFileRetentionDuration` (or another interval property: `interval 7 days`), or undefined. */
export function configuredRetentionMs(configuration: Record<string, string> | undefined, key = 'delta.deletedFileRetentionDuration'): number | undefined {
  const m = /^\s*interval\s+(\d+)\s+(second|minute|hour|day|week)s?\s*$/i.exec(configuration?.[key] ?? '');
  if (!m) return undefined;
  const unit = { second: 1e3, minute: 6e4, hour: 36e5, day: 864e5, week: 6048e5 }[m[2]!.toLowerCase() as 'second'];
  return Number(m[1]) * unit;
}

/** Deletes the files the table no longer needs (see the module comment). */
export async function vacuumTable(tablePath: string, opts: VacuumOptions = {}): Promise<VacuumResult> {
  const key = tableRoot(tablePath);
  const store = storageFor(key);
  const duck = opts.duck ?? (await Duck.create());
  try {
    const state = await loadState(duck, key);
    if (!state) throw new LakeError('PIPE_LAKE_NO_TABLE', `no Delta table at ${tablePath}`, { hint: 'check the path; a table has a _delta_log folder' });
    const retentionMs = opts.retentionMs ?? configuredRetentionMs(state.metadata?.configuration) ?? DEFAULT_VACUUM_RETENTION_MS;
    if (!(retentionMs >= 0)) throw new LakeError('PIPE_LAKE_VACUUM_RETENTION', `vacuum retention must be >= 0, got ${retentionMs}`);
    if (retentionMs < VACUUM_MIN_RETENTION_MS && !opts.force) {
      throw new LakeError(
        'PIPE_LAKE_VACUUM_RETENTION',
        `refusing to vacuum ${tablePath} with a retention of ${formatRetention(retentionMs)} (below the ${formatRetention(VACUUM_MIN_RETENTION_MS)} safety minimum): readers of older versions and writers still committing may need those files`,
        { hint: 'use a longer retention, or pass --force when no reader or writer is using the table' },
      );
    }
    const now = opts.now ?? Date.now();
    const cutoff = now - retentionMs;
    const partitionColumns = state.metadata?.partitionColumns ?? [];
    const tombstones = new Map([...state.tombstones.values()].map((r) => [resolveDataPath(key, r.path), r]));
    let live = liveSet(state);
    const disk = await listDataFiles(store, partitionColumns);
    const files: (VacuumFile & { abs: string })[] = [];
    let liveFilesKept = 0;
    let recentFilesKept = 0;
    for (const f of disk) {
      if (live.has(f.abs)) {
        liveFilesKept++;
        continue;
      }
      const tomb = tombstones.get(f.abs);
      const since = tomb ? Number(tomb.deletionTimestamp ?? 0) : f.mtimeMs;
      if (since > cutoff) {
        recentFilesKept++;
        continue;
      }
      files.push({ abs: f.abs, path: f.rel, size: f.size, reason: tomb ? 'removed' : 'untracked', since: Math.floor(since) });
    }
    // A writer may have committed between the snapshot and the listing: re-read the log and
    // spare anything that became live (a commit's files are written before the commit).
    await refreshState(state);
    live = liveSet(state);
    const doomed = files.filter((f) => !live.has(f.abs));
    liveFilesKept += files.length - doomed.length;
    let filesDeleted = 0;
    let bytesDeleted = 0;
    if (!opts.dryRun) {
      for (const f of doomed) {
        try {
          // A file already gone (another vacuum got there first) is not an error.
          await store.delete(f.path);
        } catch (err) {
          throw new LakeError('PIPE_LAKE_VACUUM_DELETE', `cannot delete ${f.path} of ${key}`, { cause: err, details: { deletedSoFar: filesDeleted } });
        }
        filesDeleted++;
        bytesDeleted += f.size;
      }
    }
    return {
      version: state.version,
      dryRun: opts.dryRun ?? false,
      retentionMs,
      files: doomed.map(({ abs: _abs, ...rest }) => rest),
      filesDeleted,
      bytesDeleted,
      liveFilesKept,
      recentFilesKept,
    };
  } finally {
    if (!opts.duck) duck.close();
  }
}
