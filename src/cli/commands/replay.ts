/**
 * `pipeline replay <spec> --table T --from-raw`: re-derives one table from the staged
 * pipeline's raw table, idempotently, touching no other table and no checkpoint.
 */
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { UsageError } from '../../errors.js';
import { compilePlan } from '../../planner/compile.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../../runtime/logger.js';
import { replayFromRaw } from '../../runtime/replay.js';
import { loadSpecOrReport } from './plan.js';

const usage = `Usage: pipeline replay <spec.yaml> --table <name> --from-raw [options]

Re-derives one table from the raw table a staged pipeline keeps (<output.path>/_raw/<name>):
every raw record goes through the spec's decode, routing and table rules again, and the
table's records are merged (or appended) with their Kafka coordinates. Only that table is
written; other tables, the dead-letter table and the jobs' checkpoints are left alone.

Idempotent: the table remembers the last raw version a replay wrote (a Delta txn), so a
second replay changes nothing; after deleting the table, a replay rebuilds it from version 0.
Replaying an append table that the gold job also writes appends the replayed records again
(upsert and scd2 tables converge): stop the gold job or replay into a deleted table.

Options:
  --table <name>       the table to re-derive (required)
  --from-raw           read the raw table (required; replay from Kafka offsets or
                       timestamps is not available yet)
  --set <path=value>   override a spec value (repeatable)
  --log-level <level>  ${LOG_LEVELS.join(' | ')} (default warn)
  -h, --help           show this help

Exit codes: 0 replayed (or nothing to do), 1 failed, 2 usage error.`;

export const command: Command = {
  summary: 'Re-derive one table from the raw table of a staged pipeline',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      table: { type: 'string' },
      'from-raw': { type: 'boolean' },
      'from-offsets': { type: 'string' },
      'from-timestamp': { type: 'string' },
      'log-level': { type: 'string' },
      ...setOption,
    });
    if (positionals.length !== 1) throw new UsageError('PIPE_CLI_USAGE', positionals.length === 0 ? 'missing <spec.yaml>' : `expected one spec file, got ${positionals.length}`);
    if (!values.table) throw new UsageError('PIPE_CLI_USAGE', 'missing --table <name>');
    if (values['from-offsets'] !== undefined || values['from-timestamp'] !== undefined) {
      throw new UsageError('PIPE_CLI_USAGE', '--from-offsets and --from-timestamp are not available yet; replay from the raw table with --from-raw');
    }
    if (!values['from-raw']) throw new UsageError('PIPE_CLI_USAGE', 'say where to replay from: --from-raw');
    const logLevel = (values['log-level'] ?? 'warn') as LogLevel;
    if (!LOG_LEVELS.includes(logLevel)) throw new UsageError('PIPE_CLI_USAGE', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);
    const spec = await loadSpecOrReport(positionals[0]!, { set: values.set ?? [], env: process.env });
    if (!spec) return 1;
    const plan = compilePlan(spec);
    const r = await replayFromRaw(plan, values.table, createLogger(logLevel, plan.pipeline));
    const range = r.toVersion === r.fromVersion ? `nothing new in the raw table after version ${r.fromVersion}` : `raw versions ${r.fromVersion + 1}..${r.toVersion}`;
    process.stdout.write(`replayed ${r.table}: ${range}; ${r.rawRecords} raw records, ${r.records} written to ${r.table}, ${r.refused} refused (already dead-lettered by the original run)\n`);
    return 0;
  },
};
