/**
 * Where the repository is, from this file's location: the generators run from `scripts/docs`
 * under vitest and from `dist/scripts/docs` when compiled.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file holding `package.json` and `src/`. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src')))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** The folder generated reference pages are written to. */
export function referenceDir(): string {
  return join(repoRoot(), 'docs', 'reference');
}
