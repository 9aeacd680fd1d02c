/**
 * `npm run docs`: regenerates `docs/reference/` from the code. With `--check` it writes
 * nothing and exits 1 listing the pages that differ (the drift test does the same in
 * `npm test`). Every generated page starts with {@link GENERATED_BANNER}; a generated page
 * that is no longer produced (a command or operator removed) is deleted.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliReference } from './cli-reference.js';
import { errorsReference } from './errors-reference.js';
import { GENERATED_BANNER } from './markdown.js';
import { referenceDir } from './paths.js';
import { performanceReference } from './performance-reference.js';
import { diagnosticsReference, metricsReference, operatorReference } from './registry-reference.js';
import { specReference } from './spec-reference.js';

/** Every generated page, by path relative to `docs/reference/`. */
export async function generatedPages(): Promise<Map<string, string>> {
  const pages = new Map<string, string>([
    ['spec.md', specReference()],
    ['diagnostics.md', diagnosticsReference()],
    ['errors.md', errorsReference()],
    ['metrics.md', metricsReference()],
    ['performance.md', performanceReference()],
  ]);
  for (const [name, text] of await cliReference()) pages.set(`cli/${name}`, text);
  for (const [name, text] of operatorReference()) pages.set(`operators/${name}`, text);
  return pages;
}

/** Generated files on disk (recognised by their banner), relative to `dir`. */
export function generatedFilesOnDisk(dir = referenceDir()): string[] {
  if (!existsSync(dir)) return [];
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((name) => {
      const p = join(d, name);
      if (statSync(p).isDirectory()) return walk(p);
      return name.endsWith('.md') && readFileSync(p, 'utf8').startsWith(GENERATED_BANNER) ? [relative(dir, p)] : [];
    });
  return walk(dir).sort();
}

/** Pages whose file is missing, differs, or is generated but no longer produced. */
export async function drift(dir = referenceDir()): Promise<string[]> {
  const pages = await generatedPages();
  const stale: string[] = [];
  for (const [path, text] of pages) {
    const file = join(dir, path);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) stale.push(path);
  }
  for (const path of generatedFilesOnDisk(dir)) if (!pages.has(path)) stale.push(path);
  return stale.sort();
}

/** Writes every page and removes generated pages no longer produced; returns what changed. */
export async function writeReference(dir = referenceDir()): Promise<string[]> {
  const changed = await drift(dir);
  const pages = await generatedPages();
  for (const path of changed) {
    const file = join(dir, path);
    const text = pages.get(path);
    if (text === undefined) {
      rmSync(file);
      continue;
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return changed;
}

async function cli(argv: string[]): Promise<number> {
  if (argv.includes('--check')) {
    const stale = await drift();
    if (stale.length === 0) return 0;
    console.error(`docs/reference is out of date (run \`npm run docs\`):\n${stale.map((p) => `  ${p}`).join('\n')}`);
    return 1;
  }
  const changed = await writeReference();
  console.log(changed.length === 0 ? 'docs/reference is up to date' : `updated ${changed.length} page(s):\n${changed.map((p) => `  ${p}`).join('\n')}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
