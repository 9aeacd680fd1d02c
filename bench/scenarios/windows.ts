/**
 * windows: windowed-aggregation throughput next to the plain backfill. The same commerce
 * events are run twice with `pipeline run --available-now`: pipelines/commerce-events.yaml
 * as it is, and with an aggregation added (per-minute sliding windows over orders and
 * payments, grouped by type: count, max, avg). The window table is checked: its counts over
 * tumbling-equivalent windows must add up to the rows the two tables received, less the late
 * ones (stored under `lateData: keep`, never counted). A third run (`append`) has the same
 * aggregations with `outputMode: append`, written by the window emitter once every stream has
 * closed them: every window it wrote must equal the update table's row (the newest stay open).
 * `BENCH_WINDOWS_EVENTS` sets the event count (default 200,000).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, writeRecordFile } from '../../src/dev-broker/broker.js';
import { generateEvents } from '../../src/dev-broker/events.js';
import { Lake } from '../../src/lake/index.js';
import { cliPath, repoRoot, round, say, timed, writeResult } from '../lib.js';
import type { ScenarioReport } from '../main.js';

const TOPIC = 'events_topic';

/** The example spec with a windowed aggregation appended (tumbling 1m and sliding 1m/30s). */
function windowedSpec(): string {
  const base = readFileSync(join(repoRoot, 'pipelines', 'commerce-events.yaml'), 'utf8');
  return base.replace(/\ndeadLetter:/, `
aggregations:
  per_minute:
    from: [orders, payments]
    window: { type: tumbling, size: 1m }
    groupBy: [event_type]
    measures: { events: "count(*)", max_seq: "max(seq)", avg_seq: "avg(seq)" }
  sliding:
    from: [orders, payments]
    window: { type: sliding, size: 1m, slide: 30s }
    groupBy: [event_type]
    measures: { events: "count(*)" }
deadLetter:`);
}

/** Runs the scenario: plain and windowed runs over the same events. */
export async function windows(opts = { events: Number(process.env.BENCH_WINDOWS_EVENTS ?? 200_000), partitions: 16, streams: 2, seed: 42 }): Promise<ScenarioReport> {
  const work = mkdtempSync(join(tmpdir(), 'bench-windows-'));
  const broker = await startBroker({ topics: [{ name: TOPIC, partitions: opts.partitions }] });
  try {
    const file = join(work, 'events.bin');
    await writeRecordFile(file, generateEvents({ count: opts.events, seed: opts.seed }));
    const produced = await broker.produceFile(TOPIC, file);
    say(`produced ${produced} records`);
    const windowed = join(work, 'windowed.yaml');
    writeFileSync(windowed, windowedSpec());
    const appended = join(work, 'append.yaml');
    writeFileSync(appended, windowedSpec().replace(/(\n    measures: [^\n]*)/g, '$1\n    outputMode: append'));
    const runs: Record<string, Record<string, unknown>> = {};
    let correct = true;
    let updateRows = new Map<string, number>();
    for (const [name, spec] of [['plain', join(repoRoot, 'pipelines', 'commerce-events.yaml')], ['windowed', windowed], ['append', appended]] as const) {
      const out = join(work, `lake-${name}`);
      const summaryFile = join(work, `summary-${name}.json`);
      say(`pipeline run --available-now (${name})`);
      const run = await timed(process.execPath, [cliPath, 'run', spec, '--available-now', '--log-level', 'warn', '--summary-json', summaryFile,
        '--set', `streams=${opts.streams}`, '--set', `output.path=${out}`, '--set', `checkpoint.path=${join(out, '_checkpoints')}`,
        // A consumer group per run: joining the group the previous run just left cost a rebalance delay (~5 s), not windowing.
        '--set', `source.kafka.groupIdPrefix=bench-windows-${name}`],
      { env: { ...process.env, KAFKA_BROKERS: broker.bootstrap } });
      if (run.code !== 0) throw new Error(`pipeline run (${name}) failed: ${run.stderr.slice(-3000)}`);
      const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
      const entry: Record<string, unknown> = { wallSeconds: run.wallSeconds, recordsPerSecond: Math.round(produced / run.wallSeconds), cpuSeconds: run.cpuSeconds, peakRssMB: run.peakRssMB, batches: summary.batches, late: summary.late ?? 0 };
      if (name !== 'plain') {
        const lake = await Lake.create({ threads: 2 });
        try {
          const rows = await lake.scan(join(out, 'per_minute'), { columns: ['window_start', 'event_type', 'events'] });
          const counted = rows.reduce((n, r) => n + Number(r.events), 0);
          const routed = (summary.tables.orders?.rowsIn ?? 0) + (summary.tables.payments?.rowsIn ?? 0);
          entry.windowRows = rows.length;
          entry.windowCounts = { counted, routed };
          const keyed = new Map(rows.map((r) => [`${String(r.window_start)}|${String(r.event_type)}`, Number(r.events)]));
          if (name === 'windowed') {
            updateRows = keyed;
            // Late records are stored (lateData: keep) but never counted.
            correct &&= counted <= routed && counted >= routed - (summary.late ?? 0);
          } else {
            // Every window append wrote is final: it equals the update table's row.
            correct &&= rows.length > 0 && [...keyed].every(([k, n]) => updateRows.get(k) === n);
          }
        } finally {
          lake.close();
        }
      }
      runs[name] = entry;
      say(`${name}: ${entry.recordsPerSecond} records/s (wall ${run.wallSeconds}s)`);
    }
    const ratio = round((runs.windowed!.recordsPerSecond as number) / (runs.plain!.recordsPerSecond as number));
    writeResult('windows', { parameters: { ...opts, topic: TOPIC }, produced, runs, windowedToPlain: ratio });
    const summary = [
      `${produced.toLocaleString('en-US')} events, ${opts.partitions} partitions, streams ${opts.streams}; windowed adds a tumbling and a sliding aggregation over orders and payments.`,
      '',
      '| run | records/s | wall s | CPU s | peak RSS MB |',
      '|---|---|---|---|---|',
      ...Object.entries(runs).map(([n, r]) => `| ${n} | ${(r.recordsPerSecond as number).toLocaleString('en-US')} | ${r.wallSeconds} | ${r.cpuSeconds} | ${r.peakRssMB} |`),
      '',
      `windowed / plain: ${ratio}x; window counts ${JSON.stringify(runs.windowed!.windowCounts)}; append (windows written once closed) ${round((runs.append!.recordsPerSecond as number) / (runs.plain!.recordsPerSecond as number))}x plain, counts ${JSON.stringify(runs.append!.windowCounts)}.`,
    ];
    return { correct, summary, targets: [{ target: 'windowed ≥ 0.7x plain', actual: `${ratio}x`, met: ratio >= 0.7 }] };
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
