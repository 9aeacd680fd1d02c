/**
 * `pipeline replay <spec> --table T (--from-offsets <file> | --from-timestamp <ts> | --from-raw)`:
 * re-derives one table from the topic (or a staged pipeline's raw table), idempotently,
 * touching no other table and no checkpoint.
 */
import { readFileSync } from 'node:fs';
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { PipelineError, UsageError } from '../../errors.js';
import { compilePlan } from '../../planner/compile.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../../runtime/logger.js';
import { replayFromRaw } from '../../runtime/replay.js';
import { replayFromKafka, type KafkaReplayResult, type ReplayStart } from '../../runtime/replay-kafka.js';
import { loadSpecOrReport } from './plan.js';

const usage = `Usage: pipeline replay <spec.yaml> --table <name> (--from-offsets <file> | --from-timestamp <ts> | --from-raw) [options]

Re-derives one table: records go through the spec's decode, derive, where, expectations,
routing and table rules again, and the table's records are merged (or appended) with their
Kafka coordinates. Only that table is written, and the dead-letter table for the records it
refuses under the current spec (a record already there with the same stage and reason gets no
second row); other tables, windows and the pipeline's checkpoints are left alone, so it may
run beside the pipeline.

From Kafka (--from-offsets, --from-timestamp), with a consumer of its own (group
<groupIdPrefix>-replay-<table>; no offsets are committed), up to each partition's
high-water mark at replay start. The table remembers per partition how far replays got (a
Delta txn), so a replay run twice writes nothing the second time, and a replay stopped
half-way resumes.
Upsert and scd2 tables converge whatever overlaps; an append table must not hold records the
pipeline wrote (delete it first: it is rebuilt), and its replay ends at the pipeline's
committed offsets (later records are the pipeline's to write).

From the raw table of a staged pipeline (--from-raw): every raw version; the table remembers
the last raw version a replay wrote, so a second replay changes nothing. Replaying an append
table that the gold job also writes appends the replayed records again (upsert and scd2
tables converge): stop the gold job or replay into a deleted table.

Options:
  --table <name>         the table to re-derive (required)
  --from-offsets <file>  JSON: partition -> first offset, or partition -> [from, to]
                         (to exclusive), e.g. {"0": 0, "1": [1200, 5000]}; partitions
                         not named are not replayed
  --from-timestamp <ts>  ISO-8601 time (e.g. 2026-03-01T00:00:00Z): every partition from
                         its first record at or after it
  --from-raw             read the staged pipeline's raw table
  --set <path=value>     override a spec value (repeatable)
  --log-level <level>    ${LOG_LEVELS.join(' | ')} (default warn)
  -h, --help             show this help

Exit codes: 0 replayed (or nothing to do), 1 failed, 2 usage error.`;

export const command: Command = {
  summary: 'Re-derive one table from Kafka offsets, a timestamp, or a staged pipeline\'s raw table',
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
    const sources = (['from-offsets', 'from-timestamp', 'from-raw'] as const).filter((k) => values[k] !== undefined && values[k] !== false);
    if (sources.length !== 1) throw new UsageError('PIPE_CLI_USAGE', sources.length === 0 ? 'say where to replay from: --from-offsets <file>, --from-timestamp <ts> or --from-raw' : `give one of --${sources.join(', --')}`);
    const start = kafkaStart(values['from-offsets'], values['from-timestamp']);
    const logLevel = (values['log-level'] ?? 'warn') as LogLevel;
    if (!LOG_LEVELS.includes(logLevel)) throw new UsageError('PIPE_CLI_USAGE', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);
    const spec = await loadSpecOrReport(positionals[0]!, { set: values.set ?? [], env: process.env });
    if (!spec) return 1;
    const plan = compilePlan(spec);
    if (start) {
      process.stdout.write(`${formatKafkaReplay(await replayFromKafka(plan, values.table, start, createLogger(logLevel, plan.pipeline)), plan.deadLetter.table)}\n`);
      return 0;
    }
    const r = await replayFromRaw(plan, values.table, createLogger(logLevel, plan.pipeline));
    const range = r.toVersion === r.fromVersion ? `nothing new in the raw table after version ${r.fromVersion}` : `raw versions ${r.fromVersion + 1}..${r.toVersion}`;
    process.stdout.write(`replayed ${r.table}: ${range}; ${r.rawRecords} raw records, ${r.records} written to ${r.table}, ${refusedText(r, plan.deadLetter.table)}\n`);
    return 0;
  },
};

/** Where a Kafka replay starts, from the flags (undefined for --from-raw). */
function kafkaStart(file: string | undefined, timestamp: string | undefined): ReplayStart | undefined {
  if (timestamp !== undefined) {
    // A bare date or a time without a zone would be read in local time: require the zone.
    const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(timestamp) ? Date.parse(timestamp) : Number.NaN;
    if (Number.isNaN(ms)) throw new UsageError('PIPE_CLI_USAGE', `--from-timestamp must be an ISO-8601 time with a zone, e.g. 2026-03-01T00:00:00Z, got '${timestamp}'`);
    return { timestampMs: ms };
  }
  if (file === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PipelineError('PIPE_REPLAY_OFFSETS_FILE', `the offsets file ${file}: ${(err as Error).message}`, { hint: 'write a JSON object of partition -> offset, or partition -> [from, to], e.g. {"0": 0, "1": [100, 200]}' });
  }
  const bad = (problem: string) => new PipelineError('PIPE_REPLAY_OFFSETS_FILE', `the offsets file ${file}: ${problem}`, { hint: 'write a JSON object of partition -> offset, or partition -> [from, to] (to exclusive), e.g. {"0": 0, "1": [100, 200]}' });
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('not a JSON object');
  const offset = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const offsets: Record<string, number | [number, number]> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!/^\d+$/.test(key)) throw bad(`'${key}' is not a partition number`);
    if (offset(value)) offsets[key] = value as number;
    else if (Array.isArray(value) && value.length === 2 && offset(value[0]) && offset(value[1]) && value[0] <= value[1]) offsets[key] = [value[0], value[1]];
    else throw bad(`partition ${key}: ${JSON.stringify(value)} is neither an offset nor [from, to] with from <= to`);
  }
  if (Object.keys(offsets).length === 0) throw bad('names no partition');
  return { offsets };
}

/** What became of the records the table refused. */
function refusedText(r: { refused: number; deadLettered: number }, deadLetter: string): string {
  if (r.refused === 0) return '0 refused';
  const held = r.refused - r.deadLettered;
  return `${r.refused} refused (in ${deadLetter}: ${r.deadLettered} new rows${held > 0 ? `, ${held} already there with the same reason` : ''})`;
}

/** One line per replayed partition range, then the totals. */
function formatKafkaReplay(r: KafkaReplayResult, deadLetter: string): string {
  const ranges = Object.entries(r.ranges).map(([p, [from, to]]) => (from >= to ? `${p}: nothing left` : `${p}: ${from}..${to - 1}`));
  return `replayed ${r.table} from topic ${r.topic} (partition: offsets ${ranges.join(', ')}); ${r.records} records read, ${r.written} written to ${r.table}, ${refusedText(r, deadLetter)}`;
}
