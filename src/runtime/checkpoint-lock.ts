/**
 * One runner per stream checkpoint: `<checkpointPath>/<stream>/lock`, created exclusively and
 * holding the owner's pid and hostname. A lock whose pid is dead on this host was left by a
 * crash (SIGKILL, OOM) and is taken over; a live or foreign-host owner makes the run refuse.
 */
import { hostname } from 'node:os';
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from '../errors.js';

/** Who holds a lock. */
export interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
}

/** A held lock; `release` is idempotent. */
export interface HeldLock {
  path: string;
  release(): void;
}

/** Whether `pid` is a running process on this host. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryCreate(path: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify(owner));
  } finally {
    closeSync(fd);
  }
  return true;
}

function readOwner(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

function isStale(owner: LockOwner | undefined): boolean {
  // An unreadable lock is one whose writer died between create and write.
  if (!owner) return true;
  return owner.hostname === hostname() && owner.pid !== process.pid && !processAlive(owner.pid);
}

/**
 * Takes the lock of the checkpoint directory `dir`, or throws PIPE_CHECKPOINT_LOCKED naming
 * the owner. Stale takeover is guarded by a second exclusive file so two runners that both
 * see the same stale lock cannot both win. `onTakeover` hears of a stale lock being taken
 * over (a crashed run's), so the restart can say why it is not silent.
 */
export function acquireLock(dir: string, label: string, onTakeover?: (stale: LockOwner | undefined) => void): HeldLock {
  const path = join(dir, 'lock');
  const guard = join(dir, 'lock.takeover');
  const me: LockOwner = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, me)) return held(path);
    const owner = readOwner(path);
    if (!isStale(owner)) {
      throw new CheckpointError(
        'PIPE_CHECKPOINT_LOCKED',
        `${label} is in use by pid ${owner!.pid} on ${owner!.hostname} (since ${owner!.startedAt})`,
        {
          hint: `stop that run first; if it is gone for good (another host crashed), delete ${path}`,
          details: { path, owner },
        },
      );
    }
    if (!tryCreate(guard, me)) {
      if (isStale(readOwner(guard))) unlinkQuietly(guard);
      continue;
    }
    try {
      const stale = readOwner(path);
      if (isStale(stale)) {
        onTakeover?.(stale);
        unlinkQuietly(path);
      }
    } finally {
      unlinkQuietly(guard);
    }
  }
  throw new CheckpointError('PIPE_CHECKPOINT_LOCKED', `${label}: could not take over the stale lock ${path}`, {
    hint: 'another runner is starting on the same checkpoint; retry',
  });
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: someone else cleaned it up.
  }
}

function held(path: string): HeldLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      const owner = readOwner(path);
      if (owner && owner.pid === process.pid && owner.hostname === hostname()) unlinkQuietly(path);
    },
  };
}
