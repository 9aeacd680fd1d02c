/**
 * The runtime error registry matches the code: every `PIPE_*` code written in src is
 * registered, every registered code is thrown somewhere, and an error takes its retriable flag
 * and default hint from the registry.
 */
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_REGISTRY, isErrorCode } from '../src/error-codes.js';
import { CommitConflictError, LakeError, PipelineError, UsageError } from '../src/errors.js';
import { storageFailure, streamFailure } from '../src/runtime/storage-failure.js';
import { fillUp, mountTmpfs, tmpfsUnavailableReason } from './faults/support/tmpfs.js';

const SRC = join(import.meta.dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** Every quoted `PIPE_<AREA>_<WHAT>` literal in src (outside the registry), with where it is. */
function codesUsedInSrc(): Map<string, string> {
  const used = new Map<string, string>();
  for (const file of sourceFiles(SRC)) {
    if (file.endsWith('error-codes.ts')) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/['"`](PIPE_[A-Z0-9_]+)['"`]/g)) used.set(m[1]!, relative(SRC, file));
  }
  return used;
}

describe('error registry', () => {
  const registered = new Set(ERROR_REGISTRY.map((e) => e.code));

  it('registers every code used in src', () => {
    const unregistered = [...codesUsedInSrc()].filter(([code]) => !registered.has(code as never)).map(([c, f]) => `${c} (${f})`);
    expect(unregistered).toEqual([]);
  });

  it('holds no code that src never uses', () => {
    const used = codesUsedInSrc();
    expect([...registered].filter((c) => !used.has(c))).toEqual([]);
  });

  it('gives every code a message template and a hint, sorted by code', () => {
    for (const e of ERROR_REGISTRY) {
      expect(e.code, e.code).toMatch(/^PIPE_[A-Z]+_[A-Z0-9_]+$/);
      expect(e.message.length, e.code).toBeGreaterThan(5);
      expect(e.hint.length, e.code).toBeGreaterThan(5);
    }
    const codes = ERROR_REGISTRY.map((e) => e.code);
    expect(codes).toEqual([...codes].sort());
  });

  it('decides retriable and the default hint for every error', () => {
    const conflict = new CommitConflictError('version 3 exists');
    expect(conflict.retriable).toBe(true);
    expect(conflict.hint).toMatch(/re-read the table/);
    const usage = new UsageError('PIPE_CLI_USAGE', 'unknown flag --x');
    expect(usage.retriable).toBe(false);
    expect(usage.toLine()).toBe("PIPE_CLI_USAGE unknown flag --x (see the command's --help)");
    expect(new PipelineError('PIPE_SOURCE_TOPIC', 't', { hint: 'specific' }).hint).toBe('specific');
  });

  it('recognises registered codes that crossed a thread boundary as text', () => {
    expect(isErrorCode('PIPE_RUN_STREAM')).toBe(true);
    expect(isErrorCode('PIPE_NOT_A_CODE')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });
});

describe('storage failures', () => {
  it('reads a full disk from the errno of a real failed write', () => {
    // /dev/full fails every write with ENOSPC.
    const fd = openSync('/dev/full', 'w');
    let failure: unknown;
    try {
      writeSync(fd, Buffer.alloc(16));
    } catch (err) {
      failure = err;
    } finally {
      closeSync(fd);
    }
    expect(storageFailure(failure, [])).toBe('PIPE_LAKE_DISK_FULL');
    expect(storageFailure(new Error('wrapped', { cause: failure }), [])).toBe('PIPE_LAKE_DISK_FULL');
    // A coded error caused by the full disk (a Delta commit that could not be written) says so,
    // with the cause's words; one with another cause keeps its code.
    const commit = new LakeError('PIPE_LAKE_COMMIT_WRITE', 'cannot write commit 3 of /lake/t', { cause: failure });
    expect(streamFailure(commit, [])).toMatchObject({ code: 'PIPE_LAKE_DISK_FULL', message: expect.stringMatching(/^cannot write commit 3 of \/lake\/t: ENOSPC: no space left on device/) });
    expect(streamFailure(new LakeError('PIPE_LAKE_COMMIT_WRITE', 'cannot write commit 3', { cause: new Error('socket hang up') }), [])).toMatchObject({ code: 'PIPE_LAKE_COMMIT_WRITE', message: 'cannot write commit 3' });
    expect(streamFailure(new Error('boom'), [])).toEqual({ code: 'PIPE_RUN_STREAM', message: 'boom' });
    // A coded failure of a read keeps its code, whatever its cause.
    expect(streamFailure(new LakeError('PIPE_LAKE_LOG_READ', 'cannot read the log', { cause: failure }), [])).toMatchObject({ code: 'PIPE_LAKE_LOG_READ' });
  });

  it('says nothing of a failure unrelated to the disks, whatever its message', () => {
    expect(storageFailure(new Error('IO Error: No space left on device'), [import.meta.dirname])).toBeUndefined();
  });

  // DuckDB reports a failed write as text without an errno: the disks themselves are probed.
  const noMount = tmpfsUnavailableReason();
  it.skipIf(noMount !== undefined)('probes the disks for a failure without an errno: full, then read-only', () => {
    const fs = mountTmpfs(1);
    try {
      const duckLike = new Error('IO Error: could not write file');
      expect(storageFailure(duckLike, [fs.path])).toBeUndefined();
      fillUp(fs.path);
      expect(storageFailure(duckLike, ['/nonexistent-dir', fs.path])).toBe('PIPE_LAKE_DISK_FULL');
      fs.readOnly();
      expect(storageFailure(duckLike, [fs.path])).toBe('PIPE_LAKE_NOT_WRITABLE');
    } finally {
      fs.unmount();
    }
  });
});
