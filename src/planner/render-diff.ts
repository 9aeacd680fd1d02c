/**
 * Renders a change list for `pipeline diff`: text for reviewers, JSON for tools. Values were
 * already masked by `diffSpecs`; nothing here adds paths or timestamps.
 */
import { allSafe, IMPACTS, type SpecChange } from './changes.js';

/** Formats accepted by `pipeline diff --format`. */
export const DIFF_FORMATS = ['text', 'json'] as const;
/** A diff render format name. */
export type DiffFormat = (typeof DIFF_FORMATS)[number];

/** `{"changes": [{path, before, after, impact, message}]}`, two-space indented. */
export function renderDiffJson(changes: SpecChange[]): string {
  return JSON.stringify({ changes }, null, 2) + '\n';
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '(none)';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/**
 * One block per change (`impact  path: before -> after`, then the message), then a summary
 * line that says whether approval is needed.
 */
export function renderDiffText(changes: SpecChange[]): string {
  if (changes.length === 0) return 'no changes\n';
  const width = Math.max(...changes.map((c) => c.impact.length));
  const lines: string[] = [];
  for (const c of changes) {
    lines.push(`${c.impact.padEnd(width)}  ${c.path}: ${formatValue(c.before)} -> ${formatValue(c.after)}`);
    lines.push(`${' '.repeat(width)}  ${c.message}`);
  }
  const counts = IMPACTS.map((impact) => [impact, changes.filter((c) => c.impact === impact).length] as const)
    .filter(([, n]) => n > 0)
    .map(([impact, n]) => `${n} ${impact}`);
  const verdict = allSafe(changes)
    ? 'every change is safe'
    : 'not every change is safe: review and approve before deploying';
  lines.push('', `${changes.length} change${changes.length === 1 ? '' : 's'} (${counts.join(', ')}): ${verdict}`);
  return lines.join('\n') + '\n';
}
