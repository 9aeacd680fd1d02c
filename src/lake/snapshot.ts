/**
 * Log replay: the state of a table at a version, built from the newest checkpoint at or
 * below it plus the JSON commits after it, and kept in memory so the next batch only
 * probes `<v+1>.json` instead of listing or re-reading the log.
 */
import { LakeError } from '../errors.js';
import type { Duck } from './duck.js';
import {
  fingerprintOf, listLog, readCommitEntry, type Action, type AddAction, type MetadataAction, type ProtocolAction, type RemoveAction, type TxnAction,
} from './log.js';
import { readCheckpointActions } from './delta-checkpoint.js';
import { dvId } from './deletion-vectors.js';
import type { DataFile, DeltaField, TableSnapshot } from './types.js';

/** A live file: its `add` action as logged, and the parsed form handed to callers. */
export interface LiveFile {
  add: AddAction;
  file: DataFile;
}

/** Everything replay yields for one version. Mutated in place by {@link applyCommit}. */
export interface TableState {
  path: string;
  version: number;
  protocol?: ProtocolAction;
  metadata?: MetadataAction;
  schema: DeltaField[];
  /** Keyed by the decoded path, so differently-encoded spellings of one file coincide. */
  files: Map<string, LiveFile>;
  /** Keyed by {@link logicalFileKey}: one path may be removed once per deletion vector it had. */
  tombstones: Map<string, RemoveAction>;
  txns: Map<string, TxnAction>;
  /** The {@link commitFingerprint} of commit `version`, when this state read or wrote it. */
  head?: string;
}

/** The highest reader/writer protocol versions this implementation handles. */
export const SUPPORTED_READER = 3;
export const SUPPORTED_WRITER = 7;
/** Table features this implementation handles (reader 3 / writer 7 tables list theirs). */
export const SUPPORTED_READER_FEATURES = new Set(['deletionVectors']);
export const SUPPORTED_WRITER_FEATURES = new Set(['deletionVectors', 'appendOnly', 'invariants']);

/** The logical file a DV table reconciles by: the path plus the DV's id (PROTOCOL "Action Reconciliation"). */
export function logicalFileKey(p: string, dv: AddAction['deletionVector']): string {
  const id = dvId(dv);
  return id === undefined ? fileKey(p) : `${fileKey(p)}\u0000${id}`;
}

/** The key a path is reconciled under. */
export function fileKey(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

/** The state before version 0. */
export function emptyState(tablePath: string): TableState {
  return { path: tablePath, version: -1, schema: [], files: new Map(), tombstones: new Map(), txns: new Map() };
}

/** Parses the stats JSON of an `add`; unparsable stats are ignored (they are optional). */
export function toDataFile(add: AddAction): DataFile {
  let stats: DataFile['stats'];
  if (typeof add.stats === 'string' && add.stats !== '') {
    try {
      stats = JSON.parse(add.stats) as DataFile['stats'];
    } catch {
      stats = undefined;
    }
  }
  return {
    path: add.path,
    partitionValues: add.partitionValues ?? {},
    size: Number(add.size),
    modificationTime: Number(add.modificationTime),
    dataChange: add.dataChange,
    ...(stats ? { stats } : {}),
    ...(add.deletionVector ? { deletedRows: Number(add.deletionVector.cardinality) } : {}),
  };
}

/**
 * Applies the actions of one version (commit or checkpoint) to the state. Files are logical
 * files `(path, dvId)`: one version may remove `(F, old DV)` and add `(F, new DV)` in either
 * line order (a version never adds and removes the same logical file), so removes are applied
 * first, and a remove ends the live file only when its DV is the one the file has.
 */
export function applyActions(state: TableState, actions: Action[]): void {
  for (const a of actions) {
    if (a.protocol) state.protocol = a.protocol;
    if (a.metaData) {
      state.metadata = a.metaData;
      state.schema = parseSchema(a.metaData.schemaString, state.path);
    }
    if (a.txn) state.txns.set(a.txn.appId, a.txn);
    if (a.remove) {
      const key = fileKey(a.remove.path);
      const live = state.files.get(key);
      if (live && dvId(live.add.deletionVector) === dvId(a.remove.deletionVector)) state.files.delete(key);
      state.tombstones.set(logicalFileKey(a.remove.path, a.remove.deletionVector), a.remove);
    }
  }
  for (const a of actions) {
    if (a.add) {
      state.tombstones.delete(logicalFileKey(a.add.path, a.add.deletionVector));
      state.files.set(fileKey(a.add.path), { add: a.add, file: toDataFile(a.add) });
    }
  }
}

/** Applies commit `version` (must be state.version + 1). */
export function applyCommit(state: TableState, version: number, actions: Action[], fingerprint?: string): void {
  if (version !== state.version + 1) throw new LakeError('PIPE_LAKE_LOG_GAP', `log of ${state.path} skips from ${state.version} to ${version}`);
  // Refuse before applying, so a cached state never advances into a protocol it cannot handle.
  for (const a of actions) if (a.protocol) checkProtocol({ ...state, protocol: a.protocol });
  applyActions(state, actions);
  state.version = version;
  state.head = fingerprint;
}

function parseSchema(schemaString: string, tablePath: string): DeltaField[] {
  try {
    const s = JSON.parse(schemaString) as { fields?: DeltaField[] };
    return (s.fields ?? []).map((f) => ({ name: f.name, type: f.type, nullable: f.nullable ?? true, metadata: f.metadata ?? {} }));
  } catch (err) {
    throw new LakeError('PIPE_LAKE_SCHEMA_CORRUPT', `schemaString of ${tablePath} is not valid JSON`, { cause: err });
  }
}

function checkProtocol(state: TableState): void {
  const p = state.protocol;
  if (p && (p.minReaderVersion > SUPPORTED_READER || p.minWriterVersion > SUPPORTED_WRITER)) {
    throw new LakeError(
      'PIPE_LAKE_PROTOCOL',
      `${state.path} needs Delta reader ${p.minReaderVersion}/writer ${p.minWriterVersion}; this lake supports ${SUPPORTED_READER}/${SUPPORTED_WRITER}`,
    );
  }
  // Reader 3 / writer 7 tables name their features; one this lake lacks means it cannot read (or write) the table correctly.
  const missing = [
    ...(p && p.minReaderVersion >= 3 ? (p.readerFeatures ?? []).filter((f) => !SUPPORTED_READER_FEATURES.has(f)) : []),
    ...(p && p.minWriterVersion >= 7 ? (p.writerFeatures ?? []).filter((f) => !SUPPORTED_WRITER_FEATURES.has(f)) : []),
  ];
  if (missing.length > 0) {
    throw new LakeError('PIPE_LAKE_PROTOCOL', `${state.path} uses Delta table features this lake does not support: ${[...new Set(missing)].join(', ')}`);
  }
}

/**
 * Loads the state at `version` (latest when undefined) from the newest usable checkpoint
 * at or below it plus the JSON commits after it. Returns undefined when the table has no
 * log at all.
 */
export async function loadState(duck: Duck, tablePath: string, version?: number): Promise<TableState | undefined> {
  const listing = await listLog(tablePath);
  if (listing.commits.length === 0 && listing.checkpoints.length === 0) return undefined;
  const latest = Math.max(listing.commits.at(-1) ?? -1, listing.checkpoints.at(-1) ?? -1);
  const target = version ?? latest;
  if (target > latest || target < 0) {
    throw new LakeError('PIPE_LAKE_NO_VERSION', `${tablePath} has no version ${target} (latest is ${latest})`);
  }
  const commits = new Set(listing.commits);
  // Newest checkpoint first; an unreadable one falls back to the next older one.
  const candidates = listing.checkpoints.filter((c) => c <= target).reverse();
  let state: TableState | undefined;
  for (const cp of candidates) {
    try {
      const actions = await readCheckpointActions(duck, tablePath, cp);
      state = emptyState(tablePath);
      applyActions(state, actions);
      state.version = cp;
      break;
    } catch {
      state = undefined;
    }
  }
  if (!state) {
    if (!commits.has(0)) throw new LakeError('PIPE_LAKE_LOG_GAP', `${tablePath} has no readable checkpoint and no commit 0`);
    state = emptyState(tablePath);
  }
  // Read from a checkpoint alone, the state still knows which commit it stands on.
  if (state.version === target && target >= 0) state.head = await fingerprintOf(tablePath, target);
  for (let v = state.version + 1; v <= target; v++) {
    const entry = await readCommitEntry(tablePath, v);
    if (!entry) throw new LakeError('PIPE_LAKE_LOG_GAP', `${tablePath} is missing commit ${v}`);
    applyCommit(state, v, entry.actions, entry.fingerprint);
  }
  checkProtocol(state);
  if (!state.metadata || !state.protocol) {
    throw new LakeError('PIPE_LAKE_LOG_CORRUPT', `${tablePath} at version ${state.version} has no ${state.metadata ? 'protocol' : 'metaData'}`);
  }
  return state;
}

/**
 * Brings a state up to the newest version by probing `<v+1>.json` until it is absent.
 * Returns the actions of every version applied, so a writer can check them for conflicts.
 */
export async function refreshState(state: TableState): Promise<{ version: number; actions: Action[] }[]> {
  const applied: { version: number; actions: Action[] }[] = [];
  while (true) {
    const next = state.version + 1;
    const entry = await readCommitEntry(state.path, next);
    if (!entry) return applied;
    applyCommit(state, next, entry.actions, entry.fingerprint);
    applied.push({ version: next, actions: entry.actions });
  }
}

/** The public snapshot view of a state. */
export function toSnapshot(state: TableState): TableSnapshot {
  const md = state.metadata!;
  const txns: Record<string, number> = {};
  for (const [k, t] of state.txns) txns[k] = Number(t.version);
  return {
    path: state.path,
    version: state.version,
    tableId: md.id,
    schema: state.schema,
    partitionColumns: [...(md.partitionColumns ?? [])],
    configuration: { ...(md.configuration ?? {}) },
    files: [...state.files.values()].map((f) => f.file),
    txns,
    minReaderVersion: state.protocol!.minReaderVersion,
    minWriterVersion: state.protocol!.minWriterVersion,
  };
}
