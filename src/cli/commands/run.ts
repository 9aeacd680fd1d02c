/**
 * `pipeline run <spec>`: runs the pipeline — one worker thread per stream, micro-batches,
 * exactly-once MERGE into the Delta tables. Logs are JSON lines on stderr; the summary goes
 * to stdout (and to `--summary-json`).
 */
import { writeFileSync } from 'node:fs';
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { PipelineError, UsageError } from '../../errors.js';
import { compilePlan } from '../../planner/compile.js';
import { operatorFor } from '../../operators/index.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../../runtime/logger.js';
import { checkInstanceAggregations, resolveInstance } from '../../runtime/instances.js';
import { runPipeline } from '../../runtime/runner.js';
import { runDeltaSource } from '../../runtime/delta-source-run.js';
import { formatStagedResult, runStaged } from '../../runtime/staged-runner.js';
import { JOB_NAMES, type JobName } from '../../runtime/staged-plan.js';
import { formatSummary, type RunSummary } from '../../runtime/summary.js';
import { loadSpecOrReport } from './plan.js';

const usage = `Usage: pipeline run <spec.yaml> [options]

Consumes the spec's Kafka topic with N parallel streams (or, with source.delta, the rows each
new version of a Delta table adds) and MERGEs every record into its Delta table exactly once.
Resumes from the checkpoint on every later run.

Options:
  --available-now      process everything up to the topic's end at start (with
                       source.delta: until no unread version is left), then exit 0
  --set <path=value>   override a spec value (repeatable), e.g. --set trigger.interval=1s
  --log-level <level>  ${LOG_LEVELS.join(' | ')} (default info; JSON lines on stderr)
  --log-format <f>     json (default) | pretty
  --metrics-port <n>   serve Prometheus /metrics, /healthz and /readyz on port n (0: any free port)
  --metrics-host <h>   address the metrics server listens on (default 0.0.0.0)
  --summary-json <f>   also write the final summary as JSON to <f>
  --reshard            the spec's streams differ from the checkpoint's: carry every
                       partition's committed position into the new stream layout
                       (one process only: refused together with --instance i/K, K > 1)
  --allow-layout-change  a table's mode, mergeKeys, sequenceBy or partitionBy differs from
                       the one it was written with: rewrite it under the spec's layout (one
                       commit per table) instead of refusing to start
  --reset              the checkpoint is new but the tables hold its batches: read the topic
                       again from its earliest offsets into the tables, with batch ids above
                       theirs (append tables receive those records again)
  --instance <i/K>     run as instance i of K processes: only the streams j with
                       j % K == i (also PIPELINE_INSTANCE=i/K, or PIPELINE_INSTANCES=K
                       with HOSTNAME ending in -<i>, as in a Kubernetes StatefulSet)
  --job <name>         mode: staged only: run one job, raw | bronze | gold (default: all
                       three in one process, isolated: a failing job does not stop the
                       others, and the run exits 1 at the end naming it)
  -h, --help           show this help

Without --available-now the run continues until SIGINT/SIGTERM, then finishes the batch in
flight and exits 0.

Exit codes: 0 finished or stopped cleanly, 1 invalid spec or failed run (nothing is lost:
the next run resumes), 2 usage error.`;

export const command: Command = {
  summary: 'Run a pipeline: Kafka to Delta tables, exactly once',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      'available-now': { type: 'boolean' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'summary-json': { type: 'string' },
      reshard: { type: 'boolean' },
      'allow-layout-change': { type: 'boolean' },
      reset: { type: 'boolean' },
      instance: { type: 'string' },
      job: { type: 'string' },
      ...setOption,
    });
    if (positionals.length !== 1) {
      throw new UsageError('PIPE_CLI_USAGE', positionals.length === 0 ? 'missing <spec.yaml>' : `expected one spec file, got ${positionals.length}`);
    }
    const logLevel = (values['log-level'] ?? 'info') as LogLevel;
    if (!LOG_LEVELS.includes(logLevel)) {
      throw new UsageError('PIPE_CLI_USAGE', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);
    }
    const logFormat = (values['log-format'] ?? 'json') as LogFormat;
    if (!LOG_FORMATS.includes(logFormat)) throw new UsageError('PIPE_CLI_USAGE', `--log-format must be one of ${LOG_FORMATS.join(', ')}, got '${logFormat}'`);
    const metrics = metricsOption(values['metrics-port'], values['metrics-host']);
    const instance = resolveInstance({ flag: values.instance, env: process.env });
    const spec = await loadSpecOrReport(positionals[0]!, { set: values.set ?? [], env: process.env });
    if (!spec) return 1;
    const plan = compilePlan(spec);
    checkInstanceAggregations(instance, plan.windows ?? []);
    for (const node of plan.nodes) {
      // Validate warned (PIPE0057); running it would dead-letter every record.
      const reason = operatorFor(node.kind).notRunnable;
      if (reason) throw new PipelineError('PIPE_RUN_FORMAT', reason, { hint: 'use format: json, or validate/plan the spec without running it' });
      // A decoder loads its schema files when it builds its stage: a missing or broken file
      // stops the run here, before any consumer starts.
      if (node.kind.startsWith('decode-')) operatorFor(node.kind).recordStage?.(node, { tables: {} });
    }
    const report = (summary: RunSummary) => {
      if (values['summary-json']) writeFileSync(values['summary-json'], `${JSON.stringify(summary, null, 2)}\n`);
      process.stdout.write(`${formatSummary(summary)}\n`);
    };
    const runOptions = {
      availableNow: values['available-now'] ?? false,
      logLevel,
      logFormat,
      metrics,
      reshard: values.reshard ?? false,
      allowLayoutChange: values['allow-layout-change'] ?? false,
      reset: values.reset ?? false,
      tty: process.stderr.isTTY === true,
      instance,
    };
    const job = values.job as JobName | undefined;
    if (job !== undefined && !JOB_NAMES.includes(job)) throw new UsageError('PIPE_CLI_USAGE', `--job must be one of ${JOB_NAMES.join(', ')}, got '${job}'`);
    if (spec.mode === 'staged' || job !== undefined) {
      const result = await runStaged(plan, { ...runOptions, tty: false }, job);
      if (values['summary-json']) writeFileSync(values['summary-json'], `${JSON.stringify(result, null, 2)}\n`);
      process.stdout.write(`${formatStagedResult(result)}\n`);
      return result.failed.length > 0 ? 1 : 0;
    }
    if (plan.source.delta) {
      // One stream reading versions: nothing to split across instances or re-shard, and the
      // metrics server watches Kafka streams.
      const kafkaOnly = instance.count > 1 ? '--instance' : runOptions.reshard ? '--reshard' : metrics ? '--metrics-port' : undefined;
      if (kafkaOnly) throw new UsageError('PIPE_CLI_USAGE', `${kafkaOnly} applies to Kafka streams; ${plan.pipeline} reads a Delta table with one stream (pipeline status shows its progress)`);
    }
    let summary: RunSummary;
    try {
      summary = plan.source.delta ? await runDeltaSource(plan, runOptions) : await runPipeline(plan, runOptions);
    } catch (err) {
      // A run that stopped on a limit still reports what it committed.
      const failed = (err as { summary?: RunSummary }).summary;
      if (failed) report(failed);
      throw err;
    }
    report(summary);
    return 0;
  },
};

/** `--metrics-port` / `--metrics-host` as run options; undefined without a port. */
function metricsOption(port: string | undefined, host: string | undefined): { port: number; host: string } | undefined {
  if (port === undefined) {
    if (host !== undefined) throw new UsageError('PIPE_CLI_USAGE', '--metrics-host needs --metrics-port');
    return undefined;
  }
  const n = Number(port);
  if (!/^\d+$/.test(port) || n > 65535) throw new UsageError('PIPE_CLI_USAGE', `--metrics-port must be a port number (0-65535), got '${port}'`);
  return { port: n, host: host ?? '0.0.0.0' };
}
