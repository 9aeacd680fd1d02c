/**
 * `pipeline status <spec>`: per stream the owned partitions, committed offsets, lag, last
 * batch and recent throughput, read from the checkpoint and the broker without disturbing a
 * running pipeline. Exit 1 when a limit under the spec's `alerts` is exceeded, so a cron job
 * or a CI check can page on it.
 */
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { UsageError } from '../../errors.js';
import { compilePlan } from '../../planner/compile.js';
import { createKafka, fetchTopicOffsetsOrExplain } from '../../runtime/kafka-client.js';
import { createLogger } from '../../runtime/logger.js';
import { buildStatus, formatStatus } from '../../runtime/status.js';
import { deltaSourceStatus, formatDeltaSourceStatus } from '../../runtime/delta-source-run.js';
import { loadSpecOrReport } from './plan.js';

const usage = `Usage: pipeline status <spec.yaml> [options]

Shows where a pipeline stands: per stream its partitions, committed offsets, lag (records in
the topic not yet in the tables), last batch and recent records/s. Reads the checkpoint and
the broker's end offsets only; a running pipeline is not disturbed. For a Delta source
(source.delta): the next version to read against the table's newest version.

Options:
  --format text|json   output format (default text)
  --set <path=value>   override a spec value (repeatable)
  -h, --help           show this help

Exit codes: 0 healthy, 1 a limit under the spec's alerts (maxLag, maxLagSeconds) is exceeded,
or the spec is invalid or the broker unreachable, 2 usage error.`;

export const command: Command = {
  summary: 'Show lag, committed offsets and throughput of a pipeline (running or not)',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { format: { type: 'string', default: 'text' }, ...setOption });
    if (values.format !== 'text' && values.format !== 'json') throw new UsageError('PIPE_CLI_USAGE', `--format must be text or json, got '${values.format}'`);
    if (positionals.length !== 1) throw new UsageError('PIPE_CLI_USAGE', positionals.length === 0 ? 'missing <spec.yaml>' : `expected one spec file, got ${positionals.length}`);
    const spec = await loadSpecOrReport(positionals[0]!, { set: values.set ?? [], env: process.env });
    if (!spec) return 1;
    const plan = compilePlan(spec);
    if (plan.source.delta) {
      // A table source has versions, not partitions: how far the checkpoint is behind the table.
      const status = await deltaSourceStatus(plan);
      process.stdout.write(`${values.format === 'json' ? JSON.stringify(status, null, 2) : formatDeltaSourceStatus(status)}\n`);
      return 0;
    }
    const logger = createLogger('error', plan.pipeline);
    const kafkaSpec = plan.source.kafka!;
    const kafka = createKafka(kafkaSpec, logger, `${kafkaSpec.clientId ?? plan.pipeline}-status`, 2);
    const offsets = await fetchTopicOffsetsOrExplain(kafka, kafkaSpec);
    const status = buildStatus(plan, offsets, spec.alerts);
    process.stdout.write(`${values.format === 'json' ? JSON.stringify(status, null, 2) : formatStatus(status)}\n`);
    return status.alerts.length > 0 ? 1 : 0;
  },
};
