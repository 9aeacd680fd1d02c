/**
 * Optimistic concurrency: what a planned write commits, and whether the commits that won
 * the race since the write's read version invalidate its plan. A blind append conflicts
 * only with a schema/protocol change; a merge also conflicts with winners that removed a
 * file it rewrites or added a file that holds one of its keys (a file it read but left alone
 * held none of its keys, so losing it changes nothing), and any write is settled by a winner
 * carrying its own txn appId at its version or later.
 */
import { randomUUID } from 'node:crypto';
import type { Action, AddAction, MetadataAction, ProtocolAction, RemoveAction, TxnAction } from './log.js';
import { mayHoldKeys, type KeyFilter } from './prune.js';
import { fileKey, toDataFile, type LiveFile } from './snapshot.js';
import type { TxnMark } from './types.js';

/** Identifies this writer in `commitInfo.engineInfo`. */
export const ENGINE_INFO = 'pipeline-lake/0.1.0';

/** A planned write, ready to be committed at any version after `readVersion`. */
export interface PlannedCommit {
  readVersion: number;
  operation: string;
  operationParameters: Record<string, unknown>;
  operationMetrics: Record<string, unknown>;
  isBlindAppend: boolean;
  /** Protocol + metadata of a new table, or new metadata from schema evolution. */
  protocol?: ProtocolAction;
  metadata?: MetadataAction;
  adds: AddAction[];
  removes: RemoveAction[];
  txn?: TxnMark;
  /** More txn actions of the commit (see WriteOptions.marks). */
  marks?: TxnMark[];
  /** Decoded paths of the files whose rows the plan copies (the files it rewrites). */
  readFiles: Set<string>;
  /** The batch's keys, to test winners' added files (merges only). */
  keyFilter?: KeyFilter;
}

/** The log entry of a planned write. */
export function commitActions(plan: PlannedCommit, now = Date.now()): Action[] {
  const actions: Action[] = [];
  actions.push({
    commitInfo: {
      timestamp: now,
      operation: plan.operation,
      operationParameters: plan.operationParameters,
      readVersion: plan.readVersion,
      isBlindAppend: plan.isBlindAppend,
      operationMetrics: plan.operationMetrics,
      engineInfo: ENGINE_INFO,
    },
  });
  if (plan.protocol) actions.push({ protocol: plan.protocol });
  if (plan.metadata) actions.push({ metaData: plan.metadata });
  for (const mark of [...(plan.txn ? [plan.txn] : []), ...(plan.marks ?? [])]) {
    const txn: TxnAction = { appId: mark.appId, version: mark.version, lastUpdated: now };
    actions.push({ txn });
  }
  for (const r of plan.removes) actions.push({ remove: { ...r, deletionTimestamp: now } });
  for (const a of plan.adds) actions.push({ add: a });
  return actions;
}

/** The `remove` action for a live file being rewritten. */
export function removeFor(add: AddAction): RemoveAction {
  return {
    path: add.path,
    deletionTimestamp: Date.now(),
    dataChange: true,
    extendedFileMetadata: true,
    partitionValues: add.partitionValues ?? {},
    size: add.size,
    // The logical file is (path, DV): the remove names the DV the file has.
    ...(add.deletionVector ? { deletionVector: add.deletionVector, ...(add.stats ? { stats: add.stats } : {}) } : {}),
  };
}

/** Metadata of a new table. */
export function newMetadata(schemaString: string, partitionColumns: string[], opts: { name?: string; description?: string; configuration?: Record<string, string> }): MetadataAction {
  return {
    id: randomUUID(),
    ...(opts.name ? { name: opts.name } : {}),
    ...(opts.description ? { description: opts.description } : {}),
    format: { provider: 'parquet', options: {} },
    schemaString,
    partitionColumns,
    configuration: opts.configuration ?? {},
    createdTime: Date.now(),
  };
}

/** Why winners invalidate a plan: `retry` (commit again at the next version) or `replan`. */
export type ConflictVerdict = { kind: 'retry' } | { kind: 'replan'; reason: string } | { kind: 'already-committed'; version: number };

/**
 * Checks the commits that landed after the plan's read version. `holdsKeys` confirms that a
 * file another writer added, whose key range overlaps the batch, really holds one of its
 * keys (see {@link overlappingAdds}); by default an overlap counts as a conflict.
 */
export function judgeWinners(
  plan: PlannedCommit,
  winners: { version: number; actions: Action[] }[],
  holdsKeys: (file: LiveFile) => boolean = () => true,
): ConflictVerdict {
  for (const w of winners) {
    for (const a of w.actions) {
      if (plan.txn && a.txn && a.txn.appId === plan.txn.appId && Number(a.txn.version) >= plan.txn.version) {
        return { kind: 'already-committed', version: w.version };
      }
    }
  }
  for (const w of winners) {
    for (const a of w.actions) {
      if (a.protocol || a.metaData) return { kind: 'replan', reason: `version ${w.version} changed the table metadata` };
      if (plan.readVersion < 0) return { kind: 'replan', reason: `table created concurrently at version ${w.version}` };
      if (a.remove && plan.readFiles.has(fileKey(a.remove.path))) {
        return { kind: 'replan', reason: `version ${w.version} removed ${a.remove.path}, which this write rewrites` };
      }
      if (a.add && plan.keyFilter && a.add.dataChange !== false) {
        const file = { add: a.add, file: toDataFile(a.add) };
        if (mayHoldKeys(file, plan.keyFilter) && holdsKeys(file)) {
          return { kind: 'replan', reason: `version ${w.version} added ${a.add.path}, which holds keys of this batch` };
        }
      }
    }
  }
  return { kind: 'retry' };
}

/** Data-changing files the winners added whose key range overlaps the plan's batch. */
export function overlappingAdds(plan: PlannedCommit, winners: { version: number; actions: Action[] }[]): LiveFile[] {
  const out: LiveFile[] = [];
  if (!plan.keyFilter) return out;
  for (const w of winners) {
    for (const a of w.actions) {
      if (!a.add || a.add.dataChange === false) continue;
      const file = { add: a.add, file: toDataFile(a.add) };
      if (mayHoldKeys(file, plan.keyFilter)) out.push(file);
    }
  }
  return out;
}
