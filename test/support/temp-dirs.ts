/** Temporary folders for tests: one fresh folder, or a factory whose folders go away after the file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A fresh empty folder under the OS temp directory (the caller removes it, or leaves it for inspection). */
export function tempDir(prefix = 'pipeline-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A factory of fresh folders, all removed after the test file's last test. Call at the top level of a file. */
export function tempDirs(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = tempDir(prefix);
    made.push(d);
    return d;
  };
}
