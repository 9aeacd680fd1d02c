/**
 * The built tree the CLI tests spawn (`dist/`): where it is, and a check that it is not older
 * than the sources it was built from. Tests that spawn `bin/pipeline.js` call one of these in
 * `beforeAll` so a stale or missing build fails loudly instead of testing old code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The CLI as users run it. */
export const BIN = join(ROOT, 'bin', 'pipeline.js');

/** Throws unless the CLI has been built (`npm test` builds before running the suite). */
export function requireBuild(): void {
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('build first: npx tsc -p tsconfig.build.json');
}

function sourcesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourcesUnder(join(dir, d.name)) : d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') ? [join(dir, d.name)] : [],
  );
}

/** Sources under `src` whose compiled output is missing or older than them. */
export function staleOutputs(): string[] {
  return sourcesUnder('src').filter((src) => {
    const out = join(ROOT, 'dist', src.replace(/\.ts$/, '.js'));
    return !existsSync(out) || statSync(out).mtimeMs < statSync(join(ROOT, src)).mtimeMs;
  });
}

/**
 * Rebuilds when a source moved on since the last build, then insists the build is fresh.
 * Other parts of the tree may fail type checking while being written; tsc still emits, so
 * the build is judged by its output, not its exit status.
 */
export function ensureFreshBuild(): void {
  if (staleOutputs().length > 0) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
  const stale = staleOutputs();
  if (stale.length > 0) throw new Error(`the build is older than ${stale.slice(0, 3).join(', ')}; run npx tsc -p tsconfig.build.json`);
}
