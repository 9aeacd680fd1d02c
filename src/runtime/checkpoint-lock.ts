/**
 * One runner per stream checkpoint: `<checkpointPath>/<stream>/lock`, created exclusively and
 * holding the owner's pid and hostname. A lock whose pid is dead on this host was left by a
 * crash (SIGKILL, OOM) and is taken over; a live or foreign-host owner makes the run refuse.
 * A lock naming this very pid and host that this process did not take was left by an earlier
 * process with the same pid: a restarted container, whose runner is pid 1 every time.
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
  /** `i/K` when the owner runs as one instance of several (`--instance`). */
  instance?: string;
}

/** Lock files this process holds, so its own pid in a lock can be told from a predecessor's. */
const heldHere = new Set<string>();

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

function isStale(path: string, owner: LockOwner | undefined): boolean {
  // An unreadable lock is one whose writer died between create and write.
  if (!owner) return true;
  if (owner.hostname !== hostname()) return false;
  return owner.pid === process.pid ? !heldHere.has(path) : !processAlive(owner.pid);
}

function lockedError(path: string, label: string, owner: LockOwner, instance: string | undefined) {
  const holder = `pid ${owner.pid} on ${owner.hostname} (since ${owner.startedAt})`;
  if (instance !== undefined && owner.instance === instance) {
    return new CheckpointError('PIPE_INSTANCE_DUPLICATE', `instance ${instance} is already running: ${label} is in use by ${holder}`, {
      hint: `each instance number runs once; check the --instance / PIPELINE_INSTANCE of every process (if that process is gone for good, delete ${path})`,
      details: { path, owner },
    });
  }
  return new CheckpointError('PIPE_CHECKPOINT_LOCKED', `${label} is in use by ${owner.instance ? `instance ${owner.instance}, ` : ''}${holder}`, {
    hint: `stop that run first; if it is gone for good (another host crashed), delete ${path}`,
    details: { path, owner },
  });
}

/**
 * Takes the lock of the checkpoint directory `dir`, or throws PIPE_CHECKPOINT_LOCKED naming
 * the owner. Stale takeover is guarded by a second exclusive file so two runners that both
 * see the same stale lock cannot both win. `onTakeover` hears of a stale lock being taken
 * over (a crashed run's), so the restart can say why it is not silent.
 */
export function acquireLock(dir: string, label: string, instance?: string, onTakeover?: (stale: LockOwner | undefined) => void): HeldLock {
  const path = join(dir, 'lock');
  const guard = join(dir, 'lock.takeover');
  const me: LockOwner = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), ...(instance ? { instance } : {}) };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, me)) return held(path);
    const owner = readOwner(path);
    if (!isStale(path, owner)) throw lockedError(path, label, owner!, instance);
    if (!tryCreate(guard, me)) {
      if (isStale(guard, readOwner(guard))) unlinkQuietly(guard);
      continue;
    }
    try {
      const stale = readOwner(path);
      if (isStale(path, stale)) {
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
  heldHere.add(path);
  return {
    path,
    release() {
      if (released) return;
      released = true;
      heldHere.delete(path);
      const owner = readOwner(path);
      if (owner && owner.pid === process.pid && owner.hostname === hostname()) unlinkQuietly(path);
    },
  };
}
