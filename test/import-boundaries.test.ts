/**
 * The layering of src holds: cli → spec → planner → runtime → operators → lake, each layer
 * importing only the layers after it; every layer may use the spec front end, but only through
 * `src/spec/index.ts`; `src/errors.ts` (with its code registry) is shared by all. The dev-broker
 * tool sits beside cli: only cli uses it. Imports are read with TypeScript's own scanner, so
 * `import type`, `export … from` and `import()` all count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** Position in the chain; a file may import files of its own layer or of a higher number. */
const RANK: Record<string, number> = { cli: 0, 'dev-broker': 0.5, spec: 1, planner: 2, runtime: 3, operators: 4, lake: 5 };
/** Usable from every layer. */
const SHARED = new Set(['src/errors.ts', 'src/error-codes.ts', 'src/spec/index.ts']);

/**
 * Upward imports that exist today, each to be removed, never added to: the runtime's table
 * impact (`plan --lake`) reads the planner's change classes. The Plan itself, the contract the
 * planner writes and the runtime executes, lives in the runtime (`runtime/plan.ts`).
 */
const KNOWN_UPWARD = new Set(['src/runtime/lake-impact.ts -> src/planner/changes.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(join(dir, d.name)) : /\.ts$/.test(d.name) && !d.name.endsWith('.d.ts') ? [join(dir, d.name)] : [],
  );
}

/** `from -> to` for every relative import in src, both as repository paths. */
function importEdges(): string[] {
  const edges: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), fileName).replace(/\.js$/, '.ts');
      edges.push(`${relative(ROOT, file)} -> ${relative(ROOT, target)}`);
    }
  }
  return edges;
}

/**
 * Files of `layer` that import a value (not only types) from `src/spec/index.ts`. The spec's
 * schema is assembled from the operator registry (spec/index -> schema-definition ->
 * operators/index), so an operator's value import of the spec layer would be an import cycle;
 * type imports are erased and break nothing.
 */
function valueImportsOfSpec(layer: string): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(join(SRC, layer))) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
    for (const st of source.statements) {
      const decl = ts.isImportDeclaration(st) || ts.isExportDeclaration(st) ? st : undefined;
      if (!decl?.moduleSpecifier || !ts.isStringLiteral(decl.moduleSpecifier)) continue;
      const target = resolve(dirname(file), decl.moduleSpecifier.text).replace(/\.js$/, '.ts');
      if (relative(ROOT, target) !== 'src/spec/index.ts' || typeOnly(decl)) continue;
      found.push(relative(ROOT, file));
    }
  }
  return found;
}

/** Whether an import or export declaration carries types only. */
function typeOnly(decl: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(decl)) return decl.isTypeOnly || (!!decl.exportClause && ts.isNamedExports(decl.exportClause) && decl.exportClause.elements.every((e) => e.isTypeOnly));
  const clause = decl.importClause;
  if (!clause) return false;
  if (clause.isTypeOnly) return true;
  const named = clause.namedBindings;
  return !clause.name && !!named && ts.isNamedImports(named) && named.elements.every((e) => e.isTypeOnly);
}

/** The layer a repository path belongs to (`errors` for the shared root files). */
const layerOf = (path: string): string => path.split('/')[1]!.replace(/\.ts$/, '');

/** Why `edge` breaks the layering, or undefined when it does not. */
function violation(edge: string): string | undefined {
  const [from, to] = edge.split(' -> ') as [string, string];
  const a = layerOf(from);
  const b = layerOf(to);
  if (a === b || SHARED.has(to)) return undefined;
  if (b === 'spec') return 'imports the spec layer past its index';
  if (RANK[a] === undefined) return `${a} is not a layer; only errors.ts and error-codes.ts live at the root`;
  if (RANK[b] === undefined) return `imports ${b}, which is not a layer`;
  if (RANK[b]! < RANK[a]!) return `${a} points back up to ${b}`;
  return undefined;
}

describe('import boundaries', () => {
  const edges = importEdges();

  it('reads the imports of every layer', () => {
    const layers = new Set(edges.map((e) => layerOf(e.split(' -> ')[0]!)));
    for (const layer of Object.keys(RANK)) expect(layers, layer).toContain(layer);
  });

  it('imports point one way: cli → spec → planner → runtime → operators → lake', () => {
    const broken = edges.filter((e) => !KNOWN_UPWARD.has(e)).flatMap((e) => {
      const why = violation(e);
      return why ? [`${e}: ${why}`] : [];
    });
    expect(broken).toEqual([]);
  });

  it('lists as known only upward imports that still exist', () => {
    const present = new Set(edges);
    expect([...KNOWN_UPWARD].filter((e) => !present.has(e) || violation(e) === undefined)).toEqual([]);
  });

  it('operators import only types from the spec layer, whose schema is assembled from them', () => {
    expect(valueImportsOfSpec('operators')).toEqual([]);
    expect(valueImportsOfSpec('runtime'), 'the check sees value imports').toContain('src/runtime/runner.ts');
  });

  it('tells the ways a layering breaks apart', () => {
    expect(violation('src/lake/merge.ts -> src/operators/api.ts')).toMatch(/points back up/);
    expect(violation('src/planner/compile.ts -> src/spec/load.ts')).toMatch(/past its index/);
    expect(violation('src/operators/route.ts -> src/dev-broker/broker.ts')).toMatch(/points back up/);
    expect(violation('src/planner/compile.ts -> src/spec/index.ts')).toBeUndefined();
    expect(violation('src/cli/main.ts -> src/lake/index.ts')).toBeUndefined();
    expect(violation('src/lake/log.ts -> src/errors.ts')).toBeUndefined();
  });
});
