/**
 * A size-limited tmpfs the disk-fault scenarios put a pipeline's output on, so they can make
 * it read-only or full mid-run. Needs root (`mount`); {@link canMountTmpfs} says whether this
 * machine allows it, so scenarios skip with a reason instead of failing elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A mounted tmpfs. */
export interface Tmpfs {
  path: string;
  /** `mount -o remount,ro` (retried while files are open for writing). */
  readOnly(): void;
  /** `mount -o remount,rw`, optionally with a new size in MiB. */
  readWrite(sizeMiB?: number): void;
  /** Unmounts and removes the mount point; safe to call twice. */
  unmount(): void;
}

const mount = (args: string[]) => execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Mounts a fresh tmpfs of `sizeMiB`. Throws when mounting is not allowed. */
export function mountTmpfs(sizeMiB: number): Tmpfs {
  const path = mkdtempSync(join(tmpdir(), 'faults-tmpfs-'));
  try {
    mount(['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', path]);
  } catch (err) {
    rmSync(path, { recursive: true, force: true });
    throw err;
  }
  let mounted = true;
  return {
    path,
    readOnly() {
      // The kernel refuses (EBUSY) while a file is open for writing; a running pipeline opens
      // and closes files all the time, so retry until a moment with no writer.
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          mount(['-o', 'remount,ro', path]);
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        }
      }
    },
    readWrite: (size) => mount(['-o', `remount,rw${size ? `,size=${size}m` : ''}`, path]),
    unmount() {
      if (!mounted) return;
      mounted = false;
      execFileSync('umount', [path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Fills every free byte of the file system at `dir` with `<dir>/filler`. */
export function fillUp(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Why tmpfs scenarios cannot run here, or undefined when they can. */
export function tmpfsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `tmpfs mounts need Linux (this is ${process.platform})`;
  try {
    mountTmpfs(1).unmount();
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs (needs root): ${(err as Error).message.split('\n')[0]}`;
  }
}
