/**
 * Rendering spec diagnostics for people (text), machines (json) and CI (GitHub Actions
 * workflow commands). Diagnostics are plain values; this file only orders and prints them.
 */
import type { Diagnostic } from './types.js';

/** Output formats understood by `formatDiagnostics` and `pipeline validate --format`. */
export type DiagnosticFormat = 'text' | 'json' | 'github';

/** The formats, for argument checking. */
export const diagnosticFormats: readonly DiagnosticFormat[] = ['text', 'json', 'github'];

/**
 * Orders diagnostics by line, column, then code, keeping files in the order they first
 * appear (the order they were given), so output is stable run after run.
 */
export function sortDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  const fileOrder = new Map<string, number>();
  for (const d of diags) if (!fileOrder.has(d.file)) fileOrder.set(d.file, fileOrder.size);
  return [...diags].sort(
    (a, b) =>
      fileOrder.get(a.file)! - fileOrder.get(b.file)! ||
      a.line - b.line ||
      a.col - b.col ||
      (a.code < b.code ? -1 : a.code > b.code ? 1 : 0),
  );
}

/** True when any diagnostic is an error (warnings alone keep a spec valid). */
export function hasErrors(diags: Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

// GitHub workflow commands: data escapes %, CR, LF; properties additionally `:` and `,`.
function escapeGithubData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function escapeGithubProperty(s: string): string {
  return escapeGithubData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function formatText(d: Diagnostic): string {
  const head = `${d.file}:${d.line}:${d.col}: ${d.severity} ${d.code} ${d.message}`;
  return d.hint ? `${head}\n    hint: ${d.hint}` : head;
}

function formatGithub(d: Diagnostic): string {
  const props = `file=${escapeGithubProperty(d.file)},line=${d.line},col=${d.col},title=${escapeGithubProperty(d.code)}`;
  const body = d.hint ? `${d.message}\nhint: ${d.hint}` : d.message;
  return `::${d.severity} ${props}::${escapeGithubData(body)}`;
}

/**
 * Renders diagnostics, one per line (text adds an indented `hint:` line).
 * - text: `file:line:col: error|warning CODE message`
 * - json: `{"valid": bool, "diagnostics": [...]}` (valid = no error diagnostics)
 * - github: `::error file=F,line=L,col=C,title=CODE::message` (hint after an encoded newline)
 * Returns an empty string for text/github when there is nothing to report.
 */
export function formatDiagnostics(diags: Diagnostic[], format: DiagnosticFormat): string {
  const sorted = sortDiagnostics(diags);
  switch (format) {
    case 'json':
      return JSON.stringify({ valid: !hasErrors(sorted), diagnostics: sorted }, null, 2);
    case 'github':
      return sorted.map(formatGithub).join('\n');
    case 'text':
      return sorted.map(formatText).join('\n');
  }
}
