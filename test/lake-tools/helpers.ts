/** Shared helpers for the table-tooling tests: temp folders, log entries, plain DuckDB reads. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/** A fresh empty folder under the OS temp directory. */
export function tempDir(prefix = 'lake-tools-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The actions of one commit file. */
export function readLogEntry(tablePath: string, version: number): Record<string, any>[] {
  const file = path.join(tablePath, '_delta_log', `${String(version).padStart(20, '0')}.json`);
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

/** Every regular file under `dir` (relative, `/`-separated), `_delta_log` excluded. */
export function dataFilesOnDisk(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === '_delta_log') continue;
      const abs = path.join(d, e.name);
      if (e.isDirectory()) walk(abs);
      else out.push(path.relative(dir, abs).split(path.sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** Copies a folder (the golden tables are read-only) and makes the copy writable. */
export function copyWritable(src: string, dst: string): void {
  fs.cpSync(src, dst, { recursive: true });
  const walk = (p: string) => {
    fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o755 : 0o644);
    if (fs.statSync(p).isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
  };
  walk(dst);
}

/** Runs one query on a throwaway DuckDB instance (no lake code involved), rows as JSON values. */
export async function plainDuck(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const c = await instance.connect();
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

/** A DuckDB list literal of file paths. */
export function pathList(paths: string[]): string {
  return `[${paths.map((p) => `'${p.replace(/'/g, "''")}'`).join(', ')}]`;
}

/** Order-independent comparison form of rows. */
export function canonical(rows: Record<string, unknown>[]): string[] {
  return rows.map((r) => JSON.stringify(Object.keys(r).sort().map((k) => [k, r[k]]), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).sort();
}
