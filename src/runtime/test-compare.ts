/**
 * Compares the rows a `pipeline test` case left in a table with the rows it expects.
 * Order does not matter; only the columns an expected row names are compared, so a case
 * states what it is about and nothing else. Rows that differ only in some columns are
 * paired by the table's merge keys and shown as changed columns.
 */
import type { Row } from './test-case.js';

/** One column of a paired row that differs. */
export interface ColumnChange {
  column: string;
  expected: unknown;
  actual: unknown;
}

/** How a table's actual rows differ from its expected rows. */
export interface RowDiff {
  missing: Row[];
  unexpected: Row[];
  changed: { key: Row; columns: ColumnChange[] }[];
}

/** Whether a diff holds no difference. */
export function isEmptyDiff(d: RowDiff): boolean {
  return d.missing.length === 0 && d.unexpected.length === 0 && d.changed.length === 0;
}

const NUMERIC = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;

/**
 * Equality of an expected value and a stored one. Exact JSON equality, plus the forms a
 * table may legitimately store differently from how a person writes them: numbers kept as
 * text (DECIMAL, integers beyond 2^53) and timestamps with another precision or zone form.
 */
export function valuesEqual(expected: unknown, actual: unknown): boolean {
  if (JSON.stringify(expected) === JSON.stringify(actual)) return true;
  const numeric = (v: unknown) => typeof v === 'number' || (typeof v === 'string' && NUMERIC.test(v));
  if (numeric(expected) && numeric(actual) && (typeof expected === 'number' || typeof actual === 'number')) return Number(expected) === Number(actual);
  // Two texts: only a decimal's trailing zeros may differ ("12.50" is "12.5"; "007" is not "7").
  const trim = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (numeric(expected) && numeric(actual)) return trim(String(expected)) === trim(String(actual));
  if (typeof expected === 'string' && typeof actual === 'string' && TIMESTAMP.test(expected) && TIMESTAMP.test(actual)) {
    const a = Date.parse(expected);
    return Number.isFinite(a) && a === Date.parse(actual);
  }
  if (expected && actual && typeof expected === 'object' && typeof actual === 'object') {
    if (Array.isArray(expected) !== Array.isArray(actual)) return false;
    const ek = Object.keys(expected);
    if (ek.length !== Object.keys(actual).length) return false;
    return ek.every((k) => k in actual && valuesEqual((expected as Row)[k], (actual as Row)[k]));
  }
  return false;
}

function matches(expected: Row, actual: Row): boolean {
  return Object.keys(expected).every((c) => valuesEqual(expected[c], actual[c]));
}

/** `row` reduced to `columns` (in that order), for display. */
export function project(row: Row, columns: string[]): Row {
  const out: Row = {};
  for (const c of columns) if (c in row) out[c] = row[c];
  return out;
}

/**
 * Diffs `actual` against `expected`. Exact matches are taken first (as a multiset); the rest
 * are paired by `keys` when the expected row names all of them, else reported missing.
 */
export function diffRows(expected: Row[], actual: Row[], keys: string[]): RowDiff {
  const used = new Array<boolean>(actual.length).fill(false);
  const rest: Row[] = [];
  for (const e of expected) {
    const i = actual.findIndex((a, j) => !used[j] && matches(e, a));
    if (i >= 0) used[i] = true;
    else rest.push(e);
  }
  const diff: RowDiff = { missing: [], unexpected: [], changed: [] };
  for (const e of rest) {
    const keyed = keys.length > 0 && keys.every((k) => k in e);
    const i = keyed ? actual.findIndex((a, j) => !used[j] && keys.every((k) => valuesEqual(e[k], a[k]))) : -1;
    if (i < 0) {
      diff.missing.push(e);
      continue;
    }
    used[i] = true;
    const a = actual[i]!;
    const columns = Object.keys(e).filter((c) => !valuesEqual(e[c], a[c])).map((c) => ({ column: c, expected: e[c], actual: c in a ? a[c] : undefined }));
    diff.changed.push({ key: project(e, keys), columns });
  }
  const shown = [...new Set(expected.flatMap((r) => Object.keys(r)))];
  for (let j = 0; j < actual.length; j++) if (!used[j]) diff.unexpected.push(shown.length > 0 ? project(actual[j]!, shown) : actual[j]!);
  return diff;
}

const show = (v: unknown) => (v === undefined ? '(no such column)' : JSON.stringify(v));

/** The diff as indented lines: `- missing`, `+ unexpected`, `~ key: column expected X, got Y`. */
export function renderRowDiff(d: RowDiff, indent = '    '): string[] {
  const lines: string[] = [];
  for (const r of d.missing) lines.push(`${indent}- ${JSON.stringify(r)}   (missing)`);
  for (const r of d.unexpected) lines.push(`${indent}+ ${JSON.stringify(r)}   (unexpected)`);
  for (const c of d.changed) {
    const key = Object.entries(c.key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
    lines.push(`${indent}~ ${key}: ${c.columns.map((x) => `${x.column} expected ${show(x.expected)}, got ${show(x.actual)}`).join('; ')}`);
  }
  return lines;
}

/** One-line count of a diff: `1 missing, 2 unexpected, 1 changed`. */
export function summarizeDiff(d: RowDiff): string {
  return [[d.missing.length, 'missing'], [d.unexpected.length, 'unexpected'], [d.changed.length, 'changed']]
    .filter(([n]) => (n as number) > 0)
    .map(([n, w]) => `${n} ${w}`)
    .join(', ');
}
