/**
 * Tells a full or read-only disk apart from other failures of a stream, so the user reads
 * "free space" or "make it writable" instead of a bare crash. The verdict comes from the
 * failure's errno when it has one (Node's file system calls), and otherwise from the disks
 * themselves: DuckDB reports a failed write as text without an errno, so the places the run
 * writes to are probed with a small write. Nothing is decided by reading an error message.
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PipelineError, type ErrorCode } from '../errors.js';

/** A storage failure the user can fix, with the code that says which. */
export type StorageFailureCode = Extract<ErrorCode, 'PIPE_LAKE_DISK_FULL' | 'PIPE_LAKE_NOT_WRITABLE'>;

const FULL = new Set(['ENOSPC', 'EDQUOT']);
const READ_ONLY = new Set(['EROFS', 'EACCES', 'EPERM']);
/** Enough to need a fresh block on any file system, small enough to be harmless. */
const PROBE_BYTES = 64 * 1024;

function classifyErrno(errno: unknown): StorageFailureCode | undefined {
  if (typeof errno !== 'string') return undefined;
  if (FULL.has(errno)) return 'PIPE_LAKE_DISK_FULL';
  if (READ_ONLY.has(errno)) return 'PIPE_LAKE_NOT_WRITABLE';
  return undefined;
}

/**
 * The errno verdict of `err` or of any error in its cause chain (no probing): for a coded
 * error that wraps a file system call, e.g. a Delta commit that could not be written.
 */
export function errnoOf(err: unknown): StorageFailureCode | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const verdict = classifyErrno((e as NodeJS.ErrnoException).code);
    if (verdict) return verdict;
  }
  return undefined;
}

/** Writes and removes a probe file in `dir`; the errno of a failed write says what is wrong. */
function probe(dir: string): StorageFailureCode | undefined {
  const file = join(dir, `.storage-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'wx');
    writeSync(fd, Buffer.alloc(PROBE_BYTES));
    return undefined;
  } catch (err) {
    return classifyErrno((err as NodeJS.ErrnoException).code);
  } finally {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(file);
    } catch {
      // Never created (read-only, or the directory is gone): nothing to clean up.
    }
  }
}

/**
 * Whether `err` (a failure that is not a PipelineError) was caused by a full or read-only
 * disk under one of `dirs` (local directories the run writes to). Undefined when it was not,
 * or when nothing can be told.
 */
export function storageFailure(err: unknown, dirs: readonly string[]): StorageFailureCode | undefined {
  const direct = errnoOf(err);
  if (direct) return direct;
  for (const dir of dirs) {
    const verdict = probe(dir);
    if (verdict) return verdict;
  }
  return undefined;
}

/** What to do about a full or read-only disk; either way the batch was not committed half-way. */
const STORAGE_HINTS = {
  PIPE_LAKE_DISK_FULL: 'free space where output.path and checkpoint.path live, then run again: nothing was committed half-way, the batch is replayed',
  PIPE_LAKE_NOT_WRITABLE: 'make output.path and checkpoint.path writable and run again: nothing was committed half-way, the batch is replayed',
} as const;

/**
 * Coded errors that wrap a write to the run's storage: only these can be a full or read-only
 * disk (a coded read failure with EACCES is not "make it writable").
 */
const STORAGE_WRITES: ReadonlySet<ErrorCode> = new Set(['PIPE_LAKE_COMMIT_WRITE']);

/**
 * The code, message and hint a stream reports for the failure that stopped it. A coded error
 * keeps its code unless it wraps a storage write that a full or read-only disk failed (its
 * cause chain says so: a Delta commit that could not be written); then the message adds the cause's own words
 * (`ENOSPC: no space left on device`). An uncoded failure is classified by errno, else by
 * probing `dirs`.
 */
export function streamFailure(err: unknown, dirs: readonly string[]): { code: ErrorCode; message: string; hint?: string } {
  const e = err instanceof Error ? err : new Error(String(err));
  const coded = err instanceof PipelineError ? err : undefined;
  const storage = coded ? (STORAGE_WRITES.has(coded.code) ? errnoOf(coded) : undefined) : storageFailure(err, dirs);
  if (!storage) return { code: coded?.code ?? 'PIPE_RUN_STREAM', message: e.message, ...(coded?.hint ? { hint: coded.hint } : {}) };
  const cause = coded && coded.cause instanceof Error ? `: ${coded.cause.message}` : '';
  return { code: storage, message: `${e.message}${cause}`, hint: STORAGE_HINTS[storage] };
}
