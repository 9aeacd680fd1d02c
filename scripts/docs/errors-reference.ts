/**
 * `docs/reference/errors.md`, from the runtime error-code registry (`src/error-codes.ts`):
 * every code with its message template, hint and whether retrying can help, grouped by area,
 * with the source files that raise it (found by a scan of `src/` for the quoted code).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ERROR_REGISTRY } from '../../src/error-codes.js';
import { cell, code, page, table } from './markdown.js';
import { repoRoot } from './paths.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Source files (relative to the repository) quoting each code, the registry itself excluded. */
export function raisedIn(root = repoRoot()): Map<string, string[]> {
  const where = new Map<string, string[]>();
  for (const file of sourceFiles(join(root, 'src'))) {
    const rel = relative(root, file);
    if (rel === join('src', 'error-codes.ts')) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/'(PIPE_[A-Z][A-Z0-9_]*)'/g)) {
      const files = where.get(m[1]!) ?? [];
      if (!files.includes(rel)) files.push(rel);
      where.set(m[1]!, files);
    }
  }
  return where;
}

/** The area of a code: `PIPE_LAKE_CONFLICT` -> `LAKE`. */
const areaOf = (c: string) => c.split('_')[1]!;

/** The page. */
export function errorsReference(): string {
  const where = raisedIn();
  const areas = [...new Set(ERROR_REGISTRY.map((e) => areaOf(e.code)))].sort();
  const sections = [
    'A failure a user can cause ends a command with one line, `pipeline <command>: error CODE message (hint)`, ' +
      'and exit 1 (2 for usage errors). Nothing is lost when a run stops: the next run resumes from the checkpoint. ' +
      '*Retriable* means the same action can succeed later without anyone changing anything (a conflict, an ' +
      'unavailable store); the others need the cause fixed first. In a message, `<name>` is filled in where the ' +
      'error is raised. The registry is `src/error-codes.ts`; spec problems have their own codes: ' +
      '[diagnostics](diagnostics.md).',
  ];
  for (const area of areas) {
    sections.push(`## ${area}`);
    sections.push(
      table(
        ['code', 'message', 'hint', 'retriable', 'raised in'],
        ERROR_REGISTRY.filter((e) => areaOf(e.code) === area).map((e) => [
          code(e.code),
          cell(e.message),
          cell(e.hint),
          e.retriable ? 'yes' : 'no',
          (where.get(e.code) ?? []).map((f) => code(f)).join(', '),
        ]),
      ),
    );
  }
  return page('Runtime error codes', ...sections);
}
