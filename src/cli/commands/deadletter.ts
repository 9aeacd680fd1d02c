/**
 * `pipeline deadletter show <spec>`: what is in the pipeline's dead-letter table, counted by
 * table, stage and reason, optionally filtered. Reads only.
 * `pipeline deadletter replay <spec>`: re-runs the selected records through the current spec,
 * exactly once.
 */
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { PipelineError, UsageError } from '../../errors.js';
import { Lake } from '../../lake/index.js';
import { compilePlan } from '../../planner/compile.js';
import { isDuration, parseDuration } from '../../spec/index.js';
import { summariseDeadLetters, type DeadLetterFilter } from '../../runtime/dead-letter-summary.js';
import { replayDeadLetters, REPLAYS_TABLE } from '../../runtime/dead-letter-replay.js';
import { createLogger } from '../../runtime/logger.js';
import { deadLetterLimitPassed } from '../../runtime/runner.js';
import { loadSpecOrReport } from './plan.js';

const usage = `Usage: pipeline deadletter show <spec.yaml> [options]
       pipeline deadletter replay <spec.yaml> [options]

show: summarises the records in the pipeline's dead-letter table by table, stage and reason
(most frequent first), with the first and last record (partition@offset) of each group.

replay: re-runs the selected dead-lettered records (their raw key, value and Kafka headers)
through the current spec into their tables, exactly once: each replayed record is marked in
<output>/${REPLAYS_TABLE} and never replayed again, unless it fails again (it then gets a new
dead-letter row with the new reason; after a further fix, replay it with --retry-failed). Run it while the
pipeline is stopped or running; records of another topic are counted, not replayed.

Options:
  --reason <text>    only reasons containing this text (case-insensitive)
  --table <name>     only records routed to this table (replay only)
  --retry-failed     also records whose last replay failed again (replay only)
  --stage <stage>    only this stage: decode | route | validate | derive | expectation | sink
  --since <when>     only records with a Kafka timestamp at or after this: an ISO-8601 time,
                     or a duration back from now (e.g. 24h, 7d)
  --format <f>       text | json (default text)
  --set <path=value> override a spec value (repeatable)
  -h, --help         show this help

Exit codes: 0 ok (also when nothing matches), 1 invalid spec, a failed replay, or more of the
replayed records failed again than deadLetter.maxRatio / maxRecords allow (they are back in
the dead-letter table), 2 usage error.`;

const STAGES = ['decode', 'route', 'validate', 'derive', 'expectation', 'sink'];

/** `--since`: an ISO time, or a duration (`24h`, `7d`) back from `now`. */
export function parseSince(text: string, now: number): number {
  const days = /^(\d+)d$/.exec(text);
  if (days) return now - Number(days[1]) * 86_400_000;
  if (isDuration(text)) return now - parseDuration(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UsageError('PIPE_CLI_USAGE', `--since must be an ISO-8601 time or a duration such as 24h or 7d, got '${text}'`);
  return ms;
}

export const command: Command = {
  summary: 'Summarise the dead-letter table, or replay its records through the current spec',
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== 'show' && sub !== 'replay') throw new UsageError('PIPE_CLI_USAGE', sub === undefined ? 'missing subcommand: show or replay' : `unknown subcommand '${sub}' (expected show or replay)`);
    const { values, positionals } = parseCommandArgs(rest, {
      reason: { type: 'string' }, stage: { type: 'string' }, since: { type: 'string' }, table: { type: 'string' }, 'retry-failed': { type: 'boolean' }, format: { type: 'string' }, ...setOption,
    });
    if (sub === 'show' && (values.table !== undefined || values['retry-failed'] !== undefined)) throw new UsageError('PIPE_CLI_USAGE', '--table and --retry-failed are options of replay only');
    if (positionals.length !== 1) throw new UsageError('PIPE_CLI_USAGE', positionals.length === 0 ? 'missing <spec.yaml>' : `expected one spec file, got ${positionals.length}`);
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError('PIPE_CLI_USAGE', `--format must be text or json, got '${format}'`);
    if (values.stage !== undefined && !STAGES.includes(values.stage)) throw new UsageError('PIPE_CLI_USAGE', `--stage must be one of ${STAGES.join(', ')}, got '${values.stage}'`);
    const filter: DeadLetterFilter = {
      ...(values.reason !== undefined ? { reason: values.reason } : {}),
      ...(values.stage !== undefined ? { stage: values.stage } : {}),
      ...(values.since !== undefined ? { sinceMs: parseSince(values.since, Date.now()) } : {}),
    };
    const spec = await loadSpecOrReport(positionals[0]!, { set: values.set ?? [], env: process.env });
    if (!spec) return 1;
    const plan = compilePlan(spec);
    if (sub === 'replay') return replay(plan, { ...filter, ...(values.table !== undefined ? { table: values.table } : {}), retryFailed: values['retry-failed'] === true }, format);
    const lake = await Lake.create({ threads: 1 });
    let rows: Record<string, unknown>[] = [];
    try {
      if (await lake.exists(plan.deadLetter.path)) rows = await lake.scan(plan.deadLetter.path);
    } finally {
      lake.close();
    }
    const summary = summariseDeadLetters(rows, filter);
    if (format === 'json') {
      process.stdout.write(`${JSON.stringify({ table: plan.deadLetter.table, records: rows.length, matching: summary.total, groups: summary.groups }, null, 2)}\n`);
      return 0;
    }
    const lines = [`${plan.deadLetter.table}: ${rows.length} records, ${summary.total} matching`];
    for (const g of summary.groups) {
      lines.push(`  ${String(g.count).padStart(7)}  ${g.table || '(before routing)'}  ${g.stage}  ${g.reason}  [p${g.first.partition}@${g.first.offset} .. p${g.last.partition}@${g.last.offset}]`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};

async function replay(plan: ReturnType<typeof compilePlan>, filter: Parameters<typeof replayDeadLetters>[2], format: string): Promise<number> {
  const lake = await Lake.create({ threads: 1 });
  try {
    const r = await replayDeadLetters(lake, plan, filter, createLogger('warn', plan.pipeline));
    // Like a run, a replay whose records mostly fail again does not exit as a success.
    const limit = deadLetterLimitPassed(plan, { records: r.replayed, deadLettered: r.failedAgain }, true);
    const breach = limit
      ? new PipelineError('PIPE_RUN_DEAD_LETTER_LIMIT', `${r.failedAgain} of ${r.replayed} replayed records failed again, ${limit}`, {
        hint: `nothing is lost: they are back in ${plan.deadLetter.table} with their new reasons (\`pipeline deadletter show\`); fix the spec, then replay them with --retry-failed`,
      })
      : undefined;
    if (format === 'json') {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      if (breach) throw breach;
      return 0;
    }
    const lines = [`replayed ${r.replayed} records: ${r.landed} landed, ${r.dropped} dropped, ${r.failedAgain} failed again (back in ${plan.deadLetter.table})`];
    for (const f of r.failures) lines.push(`  ${String(f.count).padStart(7)}  ${f.table || '(before routing)'}  ${f.stage}  ${f.reason}`);
    if (r.recovered > 0) lines.push(`(${r.recovered} of them, or only their marks, from an interrupted replay finished first)`);
    if (r.otherTopic > 0) lines.push(`${r.otherTopic} matching records of another topic were left alone`);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (breach) throw breach;
    return 0;
  } finally {
    lake.close();
  }
}
