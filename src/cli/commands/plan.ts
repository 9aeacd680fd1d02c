/**
 * `pipeline plan <spec>`: loads the spec, compiles the operator DAG and prints it. The output
 * is stable run after run (no timestamps, no absolute paths, secrets redacted), so it can be
 * committed, diffed in review, or piped into `dot -Tsvg`.
 */
import { existsSync, statSync } from 'node:fs';
import type { Command } from '../main.js';
import { withSqlChecks } from '../../planner/check-sql.js';
import { parseCommandArgs, setOption } from '../args.js';
import { UsageError } from '../../errors.js';
import { formatDiagnostics, loadSpecFile, redactSpec, type LoadedSpec, type LoadOptions, type PipelineSpec } from '../../spec/index.js';
import { compilePlan } from '../../planner/compile.js';
import { withSchemaColumns } from '../../planner/schema-columns.js';
import { isPlanFormat, PLAN_FORMATS, renderPlan } from '../../planner/render.js';
import { Lake } from '../../lake/index.js';
import { probeTopicOffsets } from '../../runtime/kafka-client.js';
import { lakeImpact, renderLakeImpact } from '../../runtime/lake-impact.js';

const usage = `Usage: pipeline plan <spec.yaml> [options]

Prints the operator DAG the spec compiles to: source, decode, route, one sink per table
and the dead-letter sink, with typed edges.

Options:
  --format <f>       ${PLAN_FORMATS.join(' | ')} (default text)
  --lake             also show the live tables (version, rows, files) and the
                     checkpoints' committed positions (text and json only)
  --partitions <n>   topic partition count: also list the partitions each stream owns
  --set <path=value> override a spec value (repeatable), e.g. --set streams=8
  -h, --help         show this help

Exit codes: 0 printed, 1 invalid spec (diagnostics on stderr), 2 usage error or missing file.`;

/**
 * Loads a spec for a command: a missing file is a usage error (exit 2); diagnostics go to
 * stderr; returns undefined when the spec has errors (the caller exits 1).
 */
export async function loadSpecOrReport(file: string, opts: LoadOptions): Promise<PipelineSpec | undefined> {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new UsageError('PIPE_CLI_NO_SPEC', `spec file not found: ${file}`);
  }
  const spec = reportLoaded(await withSqlChecks(loadSpecFile(file, opts)));
  return spec && withSchemaColumns(spec);
}

/** Prints a loaded spec's diagnostics (errors and warnings) to stderr; returns the spec if valid. */
export function reportLoaded(loaded: LoadedSpec): PipelineSpec | undefined {
  if (loaded.diagnostics.length > 0) process.stderr.write(ensureNewline(formatDiagnostics(loaded.diagnostics, 'text')));
  return loaded.spec;
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** Parses `--partitions`: a positive integer, else a usage error. */
export function parsePartitions(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError('PIPE_CLI_USAGE', `--partitions must be a positive integer, got '${value}'`);
  }
  return n;
}

export const command: Command = {
  summary: 'Print the operator DAG a spec compiles to (text, json, mermaid, dot)',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      format: { type: 'string' },
      partitions: { type: 'string' },
      lake: { type: 'boolean' },
      ...setOption,
    });
    if (positionals.length !== 1) {
      throw new UsageError('PIPE_CLI_USAGE', positionals.length === 0 ? 'missing <spec.yaml>' : `expected one spec file, got ${positionals.length}`);
    }
    const format = values.format ?? 'text';
    if (!isPlanFormat(format)) {
      throw new UsageError('PIPE_CLI_USAGE', `--format must be one of ${PLAN_FORMATS.join(', ')}, got '${format}'`);
    }
    if (values.lake && format !== 'text' && format !== 'json') throw new UsageError('PIPE_CLI_USAGE', `--lake works with --format text or json, got '${format}'`);
    const partitions = parsePartitions(values.partitions);
    const spec = await loadSpecOrReport(positionals[0]!, { set: values.set ?? [], env: process.env });
    if (!spec) return 1;
    // Renders never read secrets, and compiling the redacted spec makes sure they cannot.
    const plan = compilePlan(redactSpec(spec), { partitions });
    if (!values.lake) {
      process.stdout.write(renderPlan(plan, format));
      return 0;
    }
    const lake = await Lake.create({ threads: 1 });
    try {
      const live = compilePlan(spec);
      const topic = live.source.kafka ? await probeTopicOffsets(live.source.kafka, `${live.source.kafka.clientId ?? live.pipeline}-plan`) : undefined;
      const impact = await lakeImpact(lake, live, [], undefined, topic);
      process.stdout.write(format === 'json'
        ? `${JSON.stringify({ ...JSON.parse(renderPlan(plan, format)), lake: impact }, null, 2)}\n`
        : `${renderPlan(plan, format)}\n${renderLakeImpact(impact, false)}`);
    } finally {
      lake.close();
    }
    return 0;
  },
};
