/**
 * The `_delta_log` on disk: action shapes, file names, reading commits, listing versions,
 * and the put-if-absent commit (temp file + `link`, which fails with EEXIST instead of
 * overwriting or exposing half a file).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { LakeError } from '../errors.js';

/** `protocol` action. */
export interface ProtocolAction { minReaderVersion: number; minWriterVersion: number }
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
}
/** `remove` action. */
export interface RemoveAction {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean | null;
  partitionValues?: Record<string, string | null> | null;
  size?: number | null;
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

/** The log folder of a table. */
export function logDir(tablePath: string): string {
  return path.join(tablePath, '_delta_log');
}

/** `%020d` — the zero-padded version used in log file names. */
export function pad(version: number): string {
  return String(version).padStart(20, '0');
}

/** Path of the JSON commit for a version. */
export function commitFile(tablePath: string, version: number): string {
  return path.join(logDir(tablePath), `${pad(version)}.json`);
}

/** Path of the classic checkpoint for a version. */
export function checkpointFile(tablePath: string, version: number): string {
  return path.join(logDir(tablePath), `${pad(version)}.checkpoint.parquet`);
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

/** Reads a commit; `undefined` when it does not exist (yet). */
export async function readCommit(tablePath: string, version: number): Promise<Action[] | undefined> {
  for (let attempt = 0; ; attempt++) {
    let text: string;
    try {
      text = await fs.readFile(commitFile(tablePath, version), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new LakeError('PIPE_LAKE_LOG_READ', `cannot read commit ${version} of ${tablePath}`, { cause: err, retriable: true });
    }
    try {
      return parseActions(text);
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

/** What a directory listing of the log holds (only the names this reader uses). */
export interface LogListing {
  commits: number[];
  checkpoints: number[];
}

/** Lists the log, ignoring every name that is not `\d{20}.json` or a classic checkpoint. */
export async function listLog(tablePath: string): Promise<LogListing> {
  let names: string[];
  try {
    names = await fs.readdir(logDir(tablePath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { commits: [], checkpoints: [] };
    throw new LakeError('PIPE_LAKE_LOG_READ', `cannot list ${logDir(tablePath)}`, { cause: err, retriable: true });
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

/** `_last_checkpoint` contents, or undefined when absent or unreadable (it is only a hint). */
export async function readLastCheckpoint(tablePath: string): Promise<{ version: number; size?: number } | undefined> {
  try {
    const text = await fs.readFile(path.join(logDir(tablePath), '_last_checkpoint'), 'utf8');
    const v = JSON.parse(text) as { version?: unknown };
    return typeof v.version === 'number' ? (v as { version: number }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes a commit file only if that version does not exist yet. Returns false when
 * another writer holds the version.
 */
export async function putIfAbsent(tablePath: string, version: number, actions: Action[]): Promise<boolean> {
  const dir = logDir(tablePath);
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${pad(version)}.json.${randomUUID()}.tmp`);
  const body = actions.map((a) => JSON.stringify(a)).join('\n') + '\n';
  const handle = await fs.open(tmp, 'wx');
  try {
    await handle.writeFile(body, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(tmp, commitFile(tablePath, version));
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // File systems without hard links: exclusive create still never overwrites a commit
    // (readers retry briefly if they catch it before its content is complete).
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      return exclusiveCreate(commitFile(tablePath, version), body);
    }
    throw new LakeError('PIPE_LAKE_COMMIT_WRITE', `cannot write commit ${version} of ${tablePath}`, { cause: err, retriable: true });
  } finally {
    await fs.unlink(tmp).catch(() => undefined);
  }
}

async function exclusiveCreate(file: string, body: string): Promise<boolean> {
  try {
    await fs.writeFile(file, body, { encoding: 'utf8', flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new LakeError('PIPE_LAKE_COMMIT_WRITE', `cannot write ${file}`, { cause: err, retriable: true });
  }
}

/** Writes a file atomically (temp + rename): used for `_last_checkpoint`. */
export async function writeAtomic(file: string, body: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  await fs.writeFile(tmp, body, 'utf8');
  await fs.rename(tmp, file);
}

/**
 * Turns an `add`/`remove` path into a file-system path: relative paths are URI-decoded
 * exactly once (a `+` stays a `+`), `file:` URIs are resolved.
 */
export function resolveDataPath(tablePath: string, p: string): string {
  if (/^file:/i.test(p)) return decodeURIComponent(new URL(p).pathname);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) throw new LakeError('PIPE_LAKE_REMOTE_PATH', `unsupported data file URI ${p}`);
  return path.join(tablePath, decodeURIComponent(p));
}
