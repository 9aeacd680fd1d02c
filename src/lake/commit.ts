/**
 * Optimistic concurrency: what a planned write commits, and whether the commits that won
 * the race since the write's read version invalidate its plan. A blind append conflicts
 * only with a schema/protocol change; a merge also conflicts with winners that removed a
 * file it read or added a file that may hold one of its keys, and any write conflicts with
 * a winner carrying its own txn appId.
 */
import { randomUUID } from 'node:crypto';
import type { Action, AddAction, MetadataAction, RemoveAction, TxnAction } from './log.js';
import { mayHoldKeys, type KeyFilter } from './prune.js';
import { fileKey, toDataFile } from './snapshot.js';
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
  protocol?: { minReaderVersion: number; minWriterVersion: number };
  metadata?: MetadataAction;
  adds: AddAction[];
  removes: RemoveAction[];
  txn?: TxnMark;
  /** Decoded paths of files the plan read (merge candidates). */
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
  if (plan.txn) {
    const txn: TxnAction = { appId: plan.txn.appId, version: plan.txn.version, lastUpdated: now };
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

/** Checks the commits that landed after the plan's read version. */
export function judgeWinners(plan: PlannedCommit, winners: { version: number; actions: Action[] }[]): ConflictVerdict {
  let verdict: ConflictVerdict = { kind: 'retry' };
  for (const w of winners) {
    for (const a of w.actions) {
      if (plan.txn && a.txn && a.txn.appId === plan.txn.appId && Number(a.txn.version) >= plan.txn.version) {
        return { kind: 'already-committed', version: w.version };
      }
      if (verdict.kind !== 'retry') continue;
      if (a.protocol || a.metaData) verdict = { kind: 'replan', reason: `version ${w.version} changed the table metadata` };
      else if (plan.readVersion < 0) verdict = { kind: 'replan', reason: `table created concurrently at version ${w.version}` };
      else if (a.remove && plan.readFiles.has(fileKey(a.remove.path))) {
        verdict = { kind: 'replan', reason: `version ${w.version} removed ${a.remove.path}, which this write read` };
      } else if (a.add && plan.keyFilter && a.add.dataChange !== false) {
        if (mayHoldKeys({ add: a.add, file: toDataFile(a.add) }, plan.keyFilter)) {
          verdict = { kind: 'replan', reason: `version ${w.version} added ${a.add.path}, which may hold keys of this batch` };
        }
      }
    }
  }
  return verdict;
}
