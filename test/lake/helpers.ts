/** Shared helpers for lake tests: temp table folders and a per-file Lake. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh empty folder under the OS temp directory. */
export function tempDir(prefix = 'lake-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Lines of a commit file parsed as actions. */
export function readLogEntry(tablePath: string, version: number): Record<string, any>[] {
  const file = path.join(tablePath, '_delta_log', `${String(version).padStart(20, '0')}.json`);
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

/** Sorts rows by a key for order-independent comparison. */
export function sortBy<T extends object>(rows: T[], ...keys: string[]): T[] {
  return [...rows].sort((a, b) => {
    for (const k of keys) {
      const x = (a as Record<string, any>)[k];
      const y = (b as Record<string, any>)[k];
      if (x === y) continue;
      if (x === null || x === undefined) return -1;
      if (y === null || y === undefined) return 1;
      return x < y ? -1 : 1;
    }
    return 0;
  });
}
