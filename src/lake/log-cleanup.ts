/**
 * Expired log cleanup (PROTOCOL "Metadata Cleanup"): a table that commits every few seconds
 * for months gathers millions of JSON commits. Commits and checkpoints older than
 * `delta.logRetentionDuration` (default 30 days) are deleted, but only below the newest
 * checkpoint, so the table always opens from a checkpoint plus the commits after it. Time
 * travel to a deleted version is no longer possible, as the retention promises.
 */
import { checkpointName, commitName, LOG_DIR, listLog } from './log.js';
import { storageFor } from './storage/index.js';
import { configuredRetentionMs } from './vacuum.js';

/** Delta's default `delta.logRetentionDuration`: 30 days. */
export const DEFAULT_LOG_RETENTION_MS = 30 * 24 * 3600 * 1000;

/** The table property that turns cleanup on after each checkpoint (Delta's own name). */
export const ENABLE_LOG_CLEANUP = 'delta.enableExpiredLogCleanup';

/** What {@link cleanupExpiredLog} deleted (log file names). */
export interface LogCleanupResult {
  deleted: string[];
}

/**
 * Deletes the JSON commits and checkpoints below the newest checkpoint whose files are older
 * than the retention (the table's `delta.logRetentionDuration`, or `retentionMs`).
 */
export async function cleanupExpiredLog(
  tablePath: string, configuration: Record<string, string> | undefined, opts: { now?: number; retentionMs?: number } = {},
): Promise<LogCleanupResult> {
  const listing = await listLog(tablePath);
  const newest = listing.checkpoints.at(-1);
  if (newest === undefined) return { deleted: [] };
  const retention = opts.retentionMs ?? configuredRetentionMs(configuration, 'delta.logRetentionDuration') ?? DEFAULT_LOG_RETENTION_MS;
  const cutoff = (opts.now ?? Date.now()) - retention;
  const store = storageFor(tablePath);
  // Only the log folder is walked; its files' ages come from the listing.
  const files = await store.listAll((rel) => rel !== LOG_DIR);
  const age = new Map(files.filter((f) => f.path.startsWith(`${LOG_DIR}/`)).map((f) => [f.path, f.mtimeMs]));
  const candidates = [
    ...listing.commits.filter((v) => v < newest).map(commitName),
    ...listing.checkpoints.filter((v) => v < newest).map(checkpointName),
  ];
  const deleted: string[] = [];
  for (const rel of candidates) {
    const mtime = age.get(rel);
    if (mtime === undefined || mtime > cutoff) continue;
    await store.delete(rel);
    deleted.push(rel);
  }
  return { deleted };
}
