/**
 * `pipeline test <spec> [<case-dir>...]`: runs fixture records through the pipeline
 * in-process (no broker, no network) into a temporary lake and compares the tables with
 * the case's expected rows, under several batch cuttings and stream counts.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { UsageError } from '../../errors.js';
import { Lake } from '../../lake/index.js';
import { compilePlan } from '../../planner/compile.js';
import type { PipelineSpec } from '../../spec/index.js';
import { discoverCases, loadCase, type Row, type TestCase } from '../../runtime/test-case.js';
import { isEmptyDiff, project, renderRowDiff, summarizeDiff, type RowDiff } from '../../runtime/test-compare.js';
import { cuttingLabel, DEAD_LETTER_FILE, defaultCuttings, expectedFor, runCase, type CaseOutcome, type PlanFactory } from '../../runtime/test-runner.js';
import { loadSpecOrReport } from './plan.js';

const usage = `Usage: pipeline test <spec.yaml> [<case-dir>...] [options]

Runs each case's records through the pipeline in-process (same decoder, operators and lake
as \`pipeline run\`; no broker) into a temporary lake and compares the tables with the
expected rows. Every case also runs under several batch cuttings and stream counts; a
table that differs between them fails the case.

Without case dirs, runs every case under <spec dir>/tests/<spec name>/*/.

A case directory holds:
  events.jsonl               one record per line: {"value": <JSON, or a string of raw text>,
                             "key": "...", "partition": 0, "offset": 12,
                             "timestamp": "2026-01-01T00:00:00Z", "headers": {...}}
                             (all but value optional; offsets default to the line's
                             position within its partition)
  expected/<table>.jsonl     expected rows; only the columns they name are compared,
                             order does not matter; tables without a file are not checked
  expected/_dead_letter.jsonl  expected dead-letter rows, e.g.
                             {"partition": 0, "offset": 3, "stage": "decode", "error": "..."}

Options:
  --update           write expected/*.jsonl from the actual tables (keeps each existing
                     file's columns; dead-letter rows by coordinates, stage and error)
  --format <f>       text | json (default text)
  --set <path=value> override a spec value (repeatable)
  -h, --help         show this help

Exit codes: 0 every case matches, 1 a case differs (or the spec is invalid), 2 usage error.`;

/** Dead-letter columns \`--update\` writes: where the record came from and why it failed. */
const DEAD_LETTER_COLUMNS = ['partition', 'offset', 'stage', 'error'];

interface CaseReport {
  name: string;
  dir: string;
  passed: boolean;
  cuttings: string[];
  tables: Record<string, RowDiff>;
  invariance: { table: string; cutting: string; diff: RowDiff }[];
  unknownTables: string[];
  updated?: string[];
}

function report(testCase: TestCase, outcome: CaseOutcome): CaseReport {
  return {
    name: testCase.name,
    dir: testCase.dir,
    passed: Object.keys(outcome.mismatches).length === 0 && outcome.invariance.length === 0 && outcome.unknownTables.length === 0,
    cuttings: outcome.cuttings.map(cuttingLabel),
    tables: outcome.mismatches,
    invariance: outcome.invariance.map((f) => ({ table: f.table, cutting: cuttingLabel(f.cutting), diff: f.diff })),
    unknownTables: outcome.unknownTables,
  };
}

/** Writes the expected files of a case from its actual tables; returns the files written. */
function update(testCase: TestCase, outcome: CaseOutcome, deadLetter: string, tableNames: string[]): string[] {
  const dir = join(testCase.dir, 'expected');
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const table of tableNames) {
    const existing = expectedFor(testCase, table, deadLetter);
    const rows = outcome.tables[table] ?? [];
    if (rows.length === 0 && !existing) continue;
    const kept = existing && existing.length > 0 ? [...new Set(existing.flatMap((r) => Object.keys(r)))] : undefined;
    const columns = kept ?? (table === deadLetter ? DEAD_LETTER_COLUMNS : undefined);
    const out: Row[] = columns ? rows.map((r) => project(r, columns)) : rows;
    const file = join(dir, `${table === deadLetter ? DEAD_LETTER_FILE : table}.jsonl`);
    writeFileSync(file, out.map((r) => `${JSON.stringify(r)}\n`).join(''));
    written.push(file);
  }
  return written;
}

function renderText(reports: CaseReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${r.passed ? 'PASS' : 'FAIL'} ${r.name}  (${r.cuttings.length} cuttings)`);
    for (const t of r.unknownTables) lines.push(`  expected/${t}.jsonl: '${t}' is not a table of the spec`);
    for (const [table, diff] of Object.entries(r.tables)) {
      lines.push(`  table ${table}: ${summarizeDiff(diff)}`, ...renderRowDiff(diff));
    }
    for (const f of r.invariance) {
      lines.push(`  batch invariance: table ${f.table} differs under "${f.cutting}" from "${r.cuttings[0]}": ${summarizeDiff(f.diff)}`, ...renderRowDiff(f.diff));
    }
    for (const file of r.updated ?? []) lines.push(`  wrote ${file}`);
  }
  const failed = reports.filter((r) => !r.passed).length;
  lines.push(`${reports.length} case${reports.length === 1 ? '' : 's'}: ${reports.length - failed} passed, ${failed} failed`);
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  summary: 'Run fixture records through the pipeline in-process and compare the tables',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      update: { type: 'boolean' },
      format: { type: 'string' },
      ...setOption,
    });
    if (positionals.length === 0) throw new UsageError('PIPE_CLI_USAGE', 'missing <spec.yaml>');
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError('PIPE_CLI_USAGE', `--format must be text or json, got '${format}'`);
    const [specFile, ...given] = positionals as [string, ...string[]];
    const spec = await loadSpecOrReport(specFile, { set: values.set ?? [], env: process.env });
    if (!spec) return 1;
    const casesRoot = join(dirname(specFile), 'tests', basename(specFile, extname(specFile)));
    const dirs = given.length > 0 ? given : discoverCases(casesRoot);
    if (dirs.length === 0) throw new UsageError('PIPE_TEST_NO_CASES', `no test cases under ${casesRoot}`, { hint: 'create <case>/events.jsonl and <case>/expected/<table>.jsonl there, or name case directories' });
    for (const d of dirs) if (!existsSync(d)) throw new UsageError('PIPE_CLI_USAGE', `case directory not found: ${d}`);
    let cases: TestCase[];
    try {
      cases = dirs.map(loadCase);
    } catch (err) {
      // A case file's mistake is named with its line; the command's usage would only hide it.
      if (!(err instanceof UsageError) || err.code !== 'PIPE_TEST_CASE') throw err;
      process.stderr.write(`pipeline test: error ${err.toLine()}\n`);
      return 2;
    }

    const planFor: PlanFactory = (streams, root) => {
      const local: PipelineSpec = { ...spec, streams, output: { path: join(root, 'lake') }, checkpoint: { path: join(root, 'checkpoints') } };
      // Relative source paths (a Delta source table) resolve against the spec's folder, the same
      // for every cutting: the dead-letter table's `topic` names it.
      return compilePlan(local, { cwd: dirname(specFile) });
    };
    const reference = planFor(spec.streams, dirname(specFile));
    const tableNames = [...reference.sinks.map((s) => s.table), ...(reference.windows ?? []).map((w) => w.name), reference.deadLetter.table];
    const cuttings = defaultCuttings(reference);
    const lake = await Lake.create({ threads: 1 });
    const reports: CaseReport[] = [];
    try {
      for (const testCase of cases) {
        const outcome = await runCase(lake, planFor, testCase, cuttings);
        const r = report(testCase, outcome);
        if (values.update) {
          r.updated = update(testCase, outcome, reference.deadLetter.table, tableNames);
          // The expected rows now are the actual ones: what is left to fail is invariance.
          r.tables = {};
          r.passed = r.invariance.length === 0 && r.unknownTables.length === 0;
        }
        reports.push(r);
      }
    } finally {
      lake.close();
    }
    process.stdout.write(format === 'json' ? `${JSON.stringify({ cases: reports, passed: reports.filter((r) => r.passed).length, failed: reports.filter((r) => !r.passed).length }, null, 2)}\n` : renderText(reports));
    return reports.every((r) => r.passed && Object.values(r.tables).every(isEmptyDiff)) ? 0 : 1;
  },
};
