/**
 * The `_delta_log`: action shapes, file names, reading commits, listing versions, and the
 * put-if-absent commit, all through the table's storage (a local folder or a bucket).
 */
import { createHash } from 'node:crypto';
import { LakeError } from '../errors.js';
import type { DeletionVectorDescriptor } from './deletion-vectors.js';
import { relativeDataPath, storageFor } from './storage/index.js';

/** `protocol` action. */
export interface ProtocolAction { minReaderVersion: number; minWriterVersion: number; readerFeatures?: string[] | null; writerFeatures?: string[] | null }
/** `metaData` action. */
export interface MetadataAction {
  id: string;
  name?: string | null;
  description?: string | null;
  format: { provider: string; options: Record<string, string> };
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime?: number | null;
}
/** `add` action. `stats` is a JSON string. */
export interface AddAction {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: string | null;
  tags?: Record<string, string> | null;
  /** Rows of the file that are deleted (reader 3 / writer 7 tables). */
  deletionVector?: DeletionVectorDescriptor | null;
}
/** `remove` action. */
export interface RemoveAction {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean | null;
  partitionValues?: Record<string, string | null> | null;
  size?: number | null;
  /** The DV of the logical file `(path, dvId)` this removes. */
  deletionVector?: DeletionVectorDescriptor | null;
  stats?: string | null;
}
/** `txn` action. */
export interface TxnAction { appId: string; version: number; lastUpdated?: number | null }
/** `commitInfo` action (free-form provenance). */
export interface CommitInfoAction {
  timestamp: number;
  operation: string;
  operationParameters?: Record<string, unknown>;
  readVersion?: number;
  isBlindAppend?: boolean;
  operationMetrics?: Record<string, unknown>;
  engineInfo?: string;
  [k: string]: unknown;
}

/** One line of a commit file; unknown actions are kept but ignored. */
export interface Action {
  protocol?: ProtocolAction;
  metaData?: MetadataAction;
  add?: AddAction;
  remove?: RemoveAction;
  txn?: TxnAction;
  commitInfo?: CommitInfoAction;
  [other: string]: unknown;
}

/** The log folder, relative to the table root. */
export const LOG_DIR = '_delta_log';

/** `%020d` — the zero-padded version used in log file names. */
export function pad(version: number): string {
  return String(version).padStart(20, '0');
}

/** The JSON commit of a version, relative to the table root. */
export function commitName(version: number): string {
  return `${LOG_DIR}/${pad(version)}.json`;
}

/** The classic checkpoint of a version, relative to the table root. */
export function checkpointName(version: number): string {
  return `${LOG_DIR}/${pad(version)}.checkpoint.parquet`;
}

/** Parses newline-delimited actions. */
export function parseActions(text: string): Action[] {
  const out: Action[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    out.push(JSON.parse(line) as Action);
  }
  return out;
}

/**
 * A commit's identity: a hash of its bytes. Commit N of a table and commit N of another
 * table written at the same path differ in it, so a cached state can tell that its table was
 * replaced behind it.
 */
export const commitFingerprint = (bytes: string | Buffer): string => createHash('sha1').update(bytes).digest('hex');

/** The bytes of commit `version`, or undefined when it does not exist (yet). */
async function commitBytes(tablePath: string, version: number): Promise<Buffer | undefined> {
  try {
    return await storageFor(tablePath).read(commitName(version));
  } catch (err) {
    if (err instanceof LakeError) throw err;
    throw new LakeError('PIPE_LAKE_LOG_READ', `cannot read commit ${version} of ${tablePath}`, { cause: err });
  }
}

/** The {@link commitFingerprint} of commit `version`, or undefined when it does not exist. */
export async function fingerprintOf(tablePath: string, version: number): Promise<string | undefined> {
  const bytes = await commitBytes(tablePath, version);
  return bytes === undefined ? undefined : commitFingerprint(bytes);
}

/** Reads a commit and its {@link commitFingerprint}; `undefined` when it does not exist (yet). */
export async function readCommitEntry(tablePath: string, version: number): Promise<{ actions: Action[]; fingerprint: string } | undefined> {
  for (let attempt = 0; ; attempt++) {
    const bytes = await commitBytes(tablePath, version);
    if (bytes === undefined) return undefined;
    try {
      return { actions: parseActions(bytes.toString('utf8')), fingerprint: commitFingerprint(bytes) };
    } catch (err) {
      // A commit written without hard links may be caught half-written: look again shortly.
      if (attempt < 3) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      throw new LakeError('PIPE_LAKE_LOG_CORRUPT', `commit ${version} of ${tablePath} is not valid JSON`, { cause: err });
    }
  }
}

/** Reads a commit; `undefined` when it does not exist (yet). */
export async function readCommit(tablePath: string, version: number): Promise<Action[] | undefined> {
  return (await readCommitEntry(tablePath, version))?.actions;
}

/** What a directory listing of the log holds (only the names this reader uses). */
export interface LogListing {
  commits: number[];
  checkpoints: number[];
}

/** Lists the log, ignoring every name that is not `\d{20}.json` or a classic checkpoint. */
export async function listLog(tablePath: string): Promise<LogListing> {
  let names: string[];
  try {
    names = await storageFor(tablePath).list(LOG_DIR);
  } catch (err) {
    if (err instanceof LakeError) throw err;
    throw new LakeError('PIPE_LAKE_LOG_READ', `cannot list the log of ${tablePath}`, { cause: err });
  }
  const commits: number[] = [];
  const checkpoints: number[] = [];
  for (const n of names) {
    let m = /^(\d{20})\.json$/.exec(n);
    if (m) { commits.push(Number(m[1])); continue; }
    m = /^(\d{20})\.checkpoint\.parquet$/.exec(n);
    if (m) checkpoints.push(Number(m[1]));
  }
  commits.sort((a, b) => a - b);
  checkpoints.sort((a, b) => a - b);
  return { commits, checkpoints };
}

/** The `_last_checkpoint` pointer, relative to the table root. */
export const LAST_CHECKPOINT = `${LOG_DIR}/_last_checkpoint`;

/** `_last_checkpoint` contents, or undefined when absent or unreadable (it is only a hint). */
export async function readLastCheckpoint(tablePath: string): Promise<{ version: number; size?: number } | undefined> {
  try {
    const text = (await storageFor(tablePath).read(LAST_CHECKPOINT))?.toString('utf8');
    if (text === undefined) return undefined;
    const v = JSON.parse(text) as { version?: unknown };
    return typeof v.version === 'number' ? (v as { version: number }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes a commit file only if that version does not exist yet (the storage's
 * put-if-absent). Returns its {@link commitFingerprint}, or undefined when another writer
 * holds the version.
 */
export async function putIfAbsent(tablePath: string, version: number, actions: Action[]): Promise<string | undefined> {
  const body = actions.map((a) => JSON.stringify(a)).join('\n') + '\n';
  try {
    return (await storageFor(tablePath).putIfAbsent(commitName(version), body)) ? commitFingerprint(body) : undefined;
  } catch (err) {
    if (err instanceof LakeError) throw err;
    throw new LakeError('PIPE_LAKE_COMMIT_WRITE', `cannot write commit ${version} of ${tablePath}`, { cause: err });
  }
}

/**
 * Turns an `add`/`remove` path into the local path DuckDB reads it at: relative paths are
 * URI-decoded exactly once (a `+` stays a `+`) and mapped by the table's storage (for a
 * bucket, into the local cache: {@link fetchDataFiles} before reading); `file:` URIs are
 * resolved.
 */
export function resolveDataPath(tablePath: string, p: string): string {
  if (/^file:/i.test(p)) return decodeURIComponent(new URL(p).pathname);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) throw new LakeError('PIPE_LAKE_REMOTE_PATH', `unsupported data file URI ${p}`);
  return storageFor(tablePath).localPath(relativeDataPath(p));
}

/** Makes the data files present locally before DuckDB reads them (a no-op for local tables). */
export async function fetchDataFiles(tablePath: string, paths: string[]): Promise<void> {
  await storageFor(tablePath).fetch(paths.filter((p) => !/^[a-z][a-z0-9+.-]*:/i.test(p)).map(relativeDataPath));
}
