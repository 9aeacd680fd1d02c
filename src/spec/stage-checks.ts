/**
 * Checks of `mode` and `stages` (staged mode): settings that would be silently unused, and
 * table names that would collide with the directories staged mode writes under `output.path`.
 */
import type { Code } from './codes.js';
import type { SpecPath } from './yaml-tree.js';

type Reporter = (code: Code, path: SpecPath, params: Record<string, string | number>, hint?: string) => void;

/** Directories staged mode writes next to the tables (runtime/staged-plan.ts names them). */
const STAGED_DIRS = ['_raw', '_bronze'];

/** Reports stage settings a fused spec ignores, and tables named like staged mode's directories. */
export function checkStages(data: unknown, keyAt: Reporter): void {
  if (data === null || typeof data !== 'object') return;
  const spec = data as Record<string, unknown>;
  const staged = spec.mode === 'staged';
  if (!staged && spec.stages !== undefined) {
    keyAt('PIPE0073', ['stages'], { mode: String(spec.mode ?? 'fused') }, 'set `mode: staged` to run raw, bronze and gold as separate jobs, or remove `stages`');
  }
  if (!staged) return;
  const tables = spec.tables !== null && typeof spec.tables === 'object' ? Object.keys(spec.tables as object) : [];
  for (const name of tables) {
    if (STAGED_DIRS.includes(name.toLowerCase())) keyAt('PIPE0074', ['tables', name], { table: name }, `rename the table: staged mode keeps its raw and bronze tables under \`<output.path>/${name.toLowerCase()}/\``);
  }
  const deadLetter = (spec.deadLetter as Record<string, unknown> | undefined)?.table;
  if (typeof deadLetter === 'string' && STAGED_DIRS.includes(deadLetter.toLowerCase())) {
    keyAt('PIPE0074', ['deadLetter', 'table'], { table: deadLetter }, 'rename the dead-letter table (the default `_dead_letter` is fine)');
  }
}
