/**
 * `pipeline report <spec> --out report.html`: the run event log as one self-contained HTML
 * page — throughput, lag, latency, dead letters and batch phases over time, and per table
 * the rows written and the files it holds now. Reads only; a running pipeline is not disturbed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { PipelineError, UsageError } from '../../errors.js';
import { Lake } from '../../lake/index.js';
import { compilePlan } from '../../planner/compile.js';
import { readEventLog } from '../../runtime/event-log.js';
import { buildReportData } from '../../runtime/report-data.js';
import { renderReport, type TableFiles } from '../../runtime/report-html.js';
import { loadSpecOrReport } from './plan.js';

const usage = `Usage: pipeline report <spec.yaml> --out <report.html> [options]

Renders the pipeline's run history (the event log under checkpoint.path) as one HTML page
with charts: throughput, lag, end-to-end latency, dead letters and batch phases over time,
and per table the rows written and the files it holds now. The page has no scripts and
loads nothing, so it can be mailed or attached as it is.

Options:
  --out <file>         where to write the page (required)
  --set <path=value>   override a spec value (repeatable)
  -h, --help           show this help

Exit codes: 0 written, 1 invalid spec or unwritable output, 2 usage error.`;

export const command: Command = {
  summary: 'Render the run history as a self-contained HTML page with charts',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { out: { type: 'string' }, ...setOption });
    if (positionals.length !== 1) throw new UsageError('PIPE_CLI_USAGE', positionals.length === 0 ? 'missing <spec.yaml>' : `expected one spec file, got ${positionals.length}`);
    if (!values.out) throw new UsageError('PIPE_CLI_USAGE', 'missing --out <report.html>');
    const spec = await loadSpecOrReport(positionals[0]!, { set: values.set ?? [], env: process.env });
    if (!spec) return 1;
    const plan = compilePlan(spec);
    const data = buildReportData(readEventLog(plan.checkpointPath));
    const tables = await tableFiles(plan.outputPath, [...Object.keys(spec.tables), plan.deadLetter.table]);
    try {
      writeFileSync(values.out, renderReport(plan.pipeline, data, tables));
    } catch (err) {
      throw new PipelineError('PIPE_REPORT_WRITE', `cannot write ${values.out}: ${(err as Error).message}`, { cause: err, hint: 'choose a writable --out path' });
    }
    process.stdout.write(`wrote ${values.out}: ${data.batches} batches, ${data.records} records, ${data.runs.length} runs\n`);
    return 0;
  },
};

/** Current files per table; a table not written yet is left out. */
async function tableFiles(outputPath: string, names: string[]): Promise<Record<string, TableFiles | undefined>> {
  const lake = await Lake.create({ threads: 1 });
  try {
    const out: Record<string, TableFiles | undefined> = {};
    for (const name of names) {
      const path = join(outputPath, name);
      if (!(await lake.exists(path))) continue;
      const snap = await lake.snapshot(path);
      out[name] = { files: snap.files.length, bytes: snap.files.reduce((n, f) => n + f.size, 0), version: snap.version };
    }
    return out;
  } finally {
    lake.close();
  }
}
