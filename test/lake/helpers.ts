/** Shared helpers for lake tests: temp table folders and a per-file Lake. */
import { spawn } from 'node:child_process';
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

/** A node process under test: its exit, a SIGKILL, and a wait for a line on its stderr. */
export interface NodeChild {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill: () => void;
  stderrHas: (s: string) => Promise<void>;
}

/** Runs `node script ...args` in `cwd` with `env` added to this process's environment. */
export function spawnNode(script: string, args: string[], cwd: string, env: Record<string, string> = {}): NodeChild {
  const p = spawn(process.execPath, [script, ...args], { cwd, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  const waiters: { s: string; resolve: () => void }[] = [];
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => {
    stderr += d;
    for (const w of waiters) if (stderr.includes(w.s)) w.resolve();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done, kill: () => p.kill('SIGKILL'), stderrHas: (s) => new Promise<void>((resolve) => (stderr.includes(s) ? resolve() : waiters.push({ s, resolve }))) };
}
