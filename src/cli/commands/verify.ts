/**
 * `pipeline verify <spec>`: audits what a pipeline left behind — checkpoints, every table's
 * Delta log and files, the event log's counts — and lists each discrepancy. Reads only.
 */
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { UsageError } from '../../errors.js';
import { Lake } from '../../lake/index.js';
import { compilePlan } from '../../planner/compile.js';
import { verifyPipeline, type VerifyReport } from '../../runtime/verify.js';
import { probeTopicOffsets } from '../../runtime/kafka-client.js';
import { loadSpecOrReport } from './plan.js';

const usage = `Usage: pipeline verify <spec.yaml> [options]

Audits a pipeline's checkpoints and tables (read-only), after an incident or on a schedule:
- per stream, the committed offset ranges of every partition follow each other with no gap
  or overlap, and every batch a table committed is in that table's log with the stream's
  txn (appId <pipeline>/<stream>); the last committed batch is in every table it touched;
  a table rebuilt by \`pipeline replay\` from Kafka holds a batch when the replays read all of
  its offsets (their txns record where they began and how far they got);
- per table, no commit is missing from the log and every live data file exists;
- where the event log (<checkpoint>/events.jsonl) holds a batch's counts:
  records in = rows written + dead-lettered + dropped;
- when the broker answers, every committed position lies within the topic: not past its
  end, and not before the oldest offset retention kept (records lost unread).

Options:
  --offline          do not contact the broker
  --format <f>       text | json (default text)
  --set <path=value> override a spec value (repeatable)
  -h, --help         show this help

Exit codes: 0 consistent, 1 discrepancies found (each listed) or invalid spec, 2 usage error.`;

function renderText(r: VerifyReport): string {
  const lines: string[] = [];
  const width = Math.max(...r.streams.map((s) => `stream ${s.stream}`.length), ...r.tables.map((t) => `table ${t.table}`.length));
  for (const s of r.streams) {
    const where = Object.entries(s.positions).map(([p, o]) => `p${p}@${o}`).join(' ');
    const batches = s.lastCommitted === undefined ? 'no committed batch' : `batches ${s.firstBatch}..${s.lastCommitted} committed${where ? `, next ${where}` : ''}, ${s.batchesCounted} counted`;
    lines.push(`${`stream ${s.stream}`.padEnd(width)}  ${s.ok ? 'ok  ' : 'FAIL'}  ${batches}`);
  }
  for (const t of r.tables) {
    const txns = Object.entries(t.txns).sort(([a], [b]) => a.localeCompare(b)).map(([app, v]) => `${app}=${v}`).join(' ');
    lines.push(`${`table ${t.table}`.padEnd(width)}  ${t.ok ? 'ok  ' : 'FAIL'}  ${t.exists ? `version ${t.version}, ${t.files} files${txns ? `, txn ${txns}` : ''}` : 'not written yet'}`);
  }
  lines.push(r.broker.reachable ? 'broker: committed positions checked against the topic' : `broker: not checked (${r.broker.reason})`);
  if (r.discrepancies.length > 0) {
    lines.push('', `${r.discrepancies.length} discrepanc${r.discrepancies.length === 1 ? 'y' : 'ies'}:`);
    for (const d of r.discrepancies) lines.push(`  ${d.kind}: ${d.message}`);
  } else {
    lines.push('', 'consistent');
  }
  return `${lines.join('\n')}\n`;
}

export const command: Command = {
  summary: 'Audit checkpoints and tables: offsets contiguous, every batch in its tables',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { format: { type: 'string' }, offline: { type: 'boolean' }, ...setOption });
    if (positionals.length !== 1) throw new UsageError('PIPE_CLI_USAGE', positionals.length === 0 ? 'missing <spec.yaml>' : `expected one spec file, got ${positionals.length}`);
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError('PIPE_CLI_USAGE', `--format must be text or json, got '${format}'`);
    const spec = await loadSpecOrReport(positionals[0]!, { set: values.set ?? [], env: process.env });
    if (!spec) return 1;
    const plan = compilePlan(spec);
    const lake = await Lake.create({ threads: 1 });
    let report: VerifyReport;
    try {
      const topic = values.offline || !plan.source.kafka ? undefined : await probeTopicOffsets(plan.source.kafka, `${plan.source.kafka.clientId ?? plan.pipeline}-verify`);
      report = await verifyPipeline(plan, lake, topic);
    } finally {
      lake.close();
    }
    process.stdout.write(format === 'json' ? `${JSON.stringify({ ...report, consistent: report.discrepancies.length === 0 }, null, 2)}\n` : renderText(report));
    return report.discrepancies.length === 0 ? 0 : 1;
  },
};
