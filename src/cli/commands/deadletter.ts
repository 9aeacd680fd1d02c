/**
 * `pipeline deadletter show <spec>`: what is in the pipeline's dead-letter table, counted by
 * table, stage and reason, optionally filtered. Reads only.
 */
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { UsageError } from '../../errors.js';
import { Lake } from '../../lake/index.js';
import { compilePlan } from '../../planner/compile.js';
import { isDuration, parseDuration } from '../../spec/index.js';
import { summariseDeadLetters, type DeadLetterFilter } from '../../runtime/dead-letter-summary.js';
import { loadSpecOrReport } from './plan.js';

const usage = `Usage: pipeline deadletter show <spec.yaml> [options]

Summarises the records in the pipeline's dead-letter table by table, stage and reason (most
frequent first), with the first and last record (partition@offset) of each group.

Options:
  --reason <text>    only reasons containing this text (case-insensitive)
  --stage <stage>    only this stage: decode | route | validate | expectation | sink
  --since <when>     only records with a Kafka timestamp at or after this: an ISO-8601 time,
                     or a duration back from now (e.g. 24h, 7d)
  --format <f>       text | json (default text)
  --set <path=value> override a spec value (repeatable)
  -h, --help         show this help

Exit codes: 0 ok (also when nothing matches), 1 invalid spec, 2 usage error.`;

const STAGES = ['decode', 'route', 'validate', 'expectation', 'sink'];

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
  summary: 'Summarise the dead-letter table by table, stage and reason',
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== 'show') throw new UsageError('PIPE_CLI_USAGE', sub === undefined ? 'missing subcommand: show' : `unknown subcommand '${sub}' (expected show)`);
    const { values, positionals } = parseCommandArgs(rest, {
      reason: { type: 'string' }, stage: { type: 'string' }, since: { type: 'string' }, format: { type: 'string' }, ...setOption,
    });
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
