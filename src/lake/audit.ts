/**
 * Read-only health checks of a table's log and files, for audits (`pipeline verify`): every
 * JSON commit between the oldest kept one and the newest is present, the latest snapshot
 * loads, and every live data file exists. Nothing here writes or repairs.
 */
import type { Lake } from './lake.js';
import { listLog, readCommit, type TxnAction } from './log.js';
import { relativeDataPath, storageFor, tableRoot } from './storage/index.js';

/** What an audit found in one table. */
export interface TableAudit {
  path: string;
  /** False when there is no log at all. */
  exists: boolean;
  /** Latest version, -1 when unreadable or absent. */
  version: number;
  /** Versions missing between the oldest kept commit (or checkpoint) and the newest. */
  missingCommits: number[];
  /** Live data files of the latest version. */
  files: number;
  /** Live data files (as the log names them) that are not in storage. */
  missingFiles: string[];
  /** Newest txn version per appId. */
  txns: Record<string, number>;
  /** Why the latest snapshot could not be read, if it could not. */
  error?: string;
}

/** Versions in `[first, last]` not in `have`. */
function gaps(have: Set<number>, first: number, last: number): number[] {
  const out: number[] = [];
  for (let v = first; v <= last; v++) if (!have.has(v)) out.push(v);
  return out;
}

/** Audits the table at `tablePath` through `lake` (which caches nothing it did not read). */
export async function auditTable(lake: Lake, tablePath: string): Promise<TableAudit> {
  const key = tableRoot(tablePath);
  const listing = await listLog(key);
  const audit: TableAudit = { path: tablePath, exists: false, version: -1, files: 0, missingCommits: [], missingFiles: [], txns: {} };
  if (listing.commits.length === 0 && listing.checkpoints.length === 0) return audit;
  audit.exists = true;
  const newest = Math.max(listing.commits.at(-1) ?? -1, listing.checkpoints.at(-1) ?? -1);
  // Commits older than the newest checkpoint may be cleaned up; after it, every one is needed.
  const base = listing.checkpoints.at(-1);
  const first = base !== undefined ? base + 1 : 0;
  audit.missingCommits = gaps(new Set(listing.commits), first, newest);
  try {
    const snapshot = await lake.snapshot(tablePath);
    audit.version = snapshot.version;
    audit.txns = snapshot.txns;
    audit.files = snapshot.files.length;
    const store = storageFor(key);
    for (const f of snapshot.files) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(f.path)) continue; // absolute URIs live elsewhere; not ours to probe
      if (!(await store.exists(relativeDataPath(f.path)))) audit.missingFiles.push(f.path);
    }
  } catch (err) {
    audit.error = (err as Error).message;
  }
  return audit;
}

/** The txn actions of commit `version`, or undefined when its commit file is gone. */
export async function commitTxns(tablePath: string, version: number): Promise<TxnAction[] | undefined> {
  const actions = await readCommit(tableRoot(tablePath), version);
  return actions?.flatMap((a) => (a.txn ? [a.txn] : []));
}
