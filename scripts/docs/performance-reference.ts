/**
 * `docs/reference/performance.md`, from the benchmark results in `bench/results/*.json`
 * (written by `npm run bench`): per scenario the machine, commit and date it ran on, its
 * parameters, its figures and its targets. Rendering is generic (arrays of records become
 * tables, records of records become tables keyed by name), so a new scenario or field shows
 * up without touching this file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cell, code, num, page, table } from './markdown.js';
import { repoRoot } from './paths.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Long series (a lag timeline) are summarised, not printed. */
const MAX_ROWS = 20;

function scalar(v: Json): string {
  if (v === null) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return num(v);
  if (typeof v === 'string') return cell(v);
  if (Array.isArray(v) && v.every((x) => !isObj(x) && !Array.isArray(x))) return v.length === 0 ? '—' : v.map(scalar).join(', ');
  return cell(JSON.stringify(v));
}

/** The scalar columns of a list of records, in first-seen order. */
function columns(rows: Obj[]): string[] {
  const cols: string[] = [];
  for (const r of rows) for (const [k, v] of Object.entries(r)) if (!cols.includes(k) && !isObj(v)) cols.push(k);
  return cols;
}

function recordsTable(rows: Obj[], first?: string): string {
  const cols = columns(rows);
  const header = first ? [first, ...cols] : cols;
  return table(header, rows.map((r) => [...(first ? [cell(String(r[first] ?? ''))] : []), ...cols.map((c) => (r[c] === undefined ? '' : scalar(r[c]!)))]));
}

function renderValue(key: string, value: Json): string[] {
  if (Array.isArray(value) && value.length > 0 && value.every(isObj)) {
    if (value.length > MAX_ROWS) return [`**${key}**: ${value.length} points (in the JSON file).`];
    return [`**${key}**`, '', recordsTable(value as Obj[])];
  }
  if (isObj(value) && Object.values(value).length > 0 && Object.values(value).every(isObj)) {
    const rows = Object.entries(value).map(([name, v]) => ({ name, ...(v as Obj) }));
    return [`**${key}**`, '', recordsTable(rows.map(({ name, ...rest }) => ({ '': name, ...rest }) as Obj))];
  }
  if (isObj(value)) return [`**${key}**: ${Object.entries(value).map(([k, v]) => `${k} ${scalar(v)}`).join(' · ')}`];
  return [`**${key}**: ${scalar(value)}`];
}

function scenarioSection(file: string, result: Obj): string {
  const { scenario, machine, parameters, targets, command, ...rest } = result;
  const m = isObj(machine) ? machine : {};
  const lines = [
    `## ${String(scenario ?? file)}`,
    '',
    `Ran ${String(m.date ?? '?').slice(0, 10)} at commit ${code(String(m.commit ?? '?'))} on ${String(m.cores ?? '?')} cores ` +
      `(${cell(String(m.cpu ?? '?'))}, ${String(m.memoryGiB ?? '?')} GiB, Node ${String(m.node ?? '?')}); ` +
      `\`${typeof command === 'string' ? command : `npm run bench -- ${String(scenario ?? file)}`}\`, results in ${code(`bench/results/${file}`)}.`,
    '',
  ];
  if (isObj(parameters)) lines.push(`Parameters: ${Object.entries(parameters).map(([k, v]) => `${k} ${scalar(v)}`).join(' · ')}.`, '');
  for (const [key, value] of Object.entries(rest)) lines.push(...renderValue(key, value), '');
  if (Array.isArray(targets) && targets.length > 0) lines.push('**targets**', '', recordsTable(targets as Obj[]), '');
  return lines.join('\n');
}

/** The page. */
export function performanceReference(root = repoRoot()): string {
  const dir = join(root, 'bench', 'results');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const sections = files.map((f) => scenarioSection(f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Obj));
  return page(
    'Benchmark results',
    'The latest figures of each `npm run bench` scenario, as recorded in `bench/results/*.json`. Scenarios run ' +
      'at different times and commits (each section says which) on a 2-core development machine shared with other ' +
      'work, with the broker on the same machine: compare figures within a section, not across sections. ' +
      'Records/s and wall seconds cover the whole process (start-up and the consumer-group join included). ' +
      'What the figures mean and what limits them: [performance notes](../operations/performance.md).',
    ...sections,
  );
}
