/**
 * Starts one `delta_readers.py serve` for the whole interop suite: one Python process and one
 * Spark session (its JVM warms up while the first tables are written) answer every file's
 * reads, instead of a Spark start per call. Its port reaches the tests as `inject('readersPort')`.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

/** The venv's Python (test/interop/setup.sh) and the readers' script. */
export const PYTHON = fileURLToPath(new URL('../../.cache/venv/bin/python', import.meta.url));
export const SCRIPT = fileURLToPath(new URL('./delta_readers.py', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    readersPort: number;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // stdin stays open: the server exits when it closes, so it never outlives this process.
  const server = spawn(PYTHON, [SCRIPT, 'serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.once('exit', (code) => reject(new Error(`delta_readers.py serve exited (${code}); run test/interop/setup.sh`)));
    createInterface({ input: server.stdout }).once('line', (line) => resolve(Number(line)));
  });
  project.provide('readersPort', port);
  return async () => {
    server.stdin.end();
    await exited;
  };
}
