/**
 * avro-backfill: the same orders on two topics, once as JSON and once as Confluent-framed Avro
 * (writer schema pipelines/schemas/order.avsc from a file), each backfilled with
 * `pipeline run --available-now` into one upserted orders table. Both runs' tables must hold
 * the same rows (order id, amount, time): a fast wrong run fails the benchmark.
 *
 * Size: `BENCH_ORDERS` (default 200,000 orders), `BENCH_STREAMS` (default 2), 8 partitions.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, writeRecordFile } from '../../src/dev-broker/broker.js';
import { Lake } from '../../src/lake/index.js';
import { cliPath, repoRoot, say, timed, writeResult } from '../lib.js';
import type { ScenarioReport } from '../main.js';
import { orderValues } from './decode.js';

const FORMATS = ['json', 'avro'] as const;

function specFor(format: (typeof FORMATS)[number], bootstrap: string, streams: number, out: string): string {
  const source = format === 'avro'
    ? `  format: avro\n  wireFormat: confluent\n  schema: { file: ${join(repoRoot, 'pipelines', 'schemas', 'order.avsc')} }\n`
    : '  format: json\n';
  return `apiVersion: pipeline/v1
name: bench-${format}
source:
  kafka: { brokers: ["${bootstrap}"], topic: orders_${format} }
${source}streams: ${streams}
trigger: { interval: 1s, maxRecordsPerBatch: 50000 }
routing:
  field: event_type
  routes: { order_placed: orders }
tables:
  orders:
    mergeKeys: [order_id]
    sequenceBy: version
    columns: { amount: "DECIMAL(18,2)", placed_at: TIMESTAMPTZ }
output: { path: ${out} }
`;
}

/** The orders table's rows as sorted text, to compare the two runs. */
async function rowsOf(out: string): Promise<string[]> {
  const lake = await Lake.create({ threads: 2 });
  try {
    const rows = await lake.scan(join(out, 'orders'), { columns: ['order_id', 'amount', 'placed_at'] });
    return rows.map((r) => `${String(r.order_id)}|${String(r.amount)}|${r.placed_at instanceof Date ? r.placed_at.toISOString() : String(r.placed_at)}`).sort();
  } finally {
    lake.close();
  }
}

/** Runs the scenario. */
export async function avroBackfill(): Promise<ScenarioReport> {
  const orders = Number(process.env.BENCH_ORDERS ?? 200_000);
  const streams = Number(process.env.BENCH_STREAMS ?? 2);
  const partitions = 8;
  const work = mkdtempSync(join(tmpdir(), 'bench-avro-backfill-'));
  const broker = await startBroker({ topics: FORMATS.map((f) => ({ name: `orders_${f}`, partitions })) });
  try {
    const values = orderValues(orders);
    const runs: Record<string, Record<string, number | boolean>> = {};
    const tables: Record<string, string[]> = {};
    for (const format of FORMATS) {
      const file = join(work, `${format}.bin`);
      await writeRecordFile(file, values[format].map((value, i) => ({ key: `o${i}`, value, timestamp: 1_767_225_600_000 + i })));
      const produced = await broker.produceFile(`orders_${format}`, file);
      const bytes = values[format].reduce((a, v) => a + v.length, 0);
      const out = join(work, `lake-${format}`);
      const spec = join(work, `${format}.yaml`);
      writeFileSync(spec, specFor(format, broker.bootstrap, streams, out));
      say(`${format}: pipeline run --available-now over ${produced} records (${Math.round(bytes / produced)} bytes each), streams ${streams}`);
      const summaryFile = join(work, `summary-${format}.json`);
      const run = await timed(process.execPath, [cliPath, 'run', spec, '--available-now', '--log-level', 'warn', '--summary-json', summaryFile]);
      if (run.code !== 0) throw new Error(`pipeline run (${format}) failed: ${run.stderr.slice(-3000)}`);
      const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
      tables[format] = await rowsOf(out);
      runs[format] = {
        records: produced,
        averageBytes: Math.round(bytes / produced),
        wallSeconds: run.wallSeconds,
        recordsPerSecond: Math.round(produced / run.wallSeconds),
        cpuSeconds: run.cpuSeconds,
        cpuSecondsPerMillion: Math.round((run.cpuSeconds / produced) * 1e6 * 10) / 10,
        peakRssMB: run.peakRssMB,
        deadLettered: summary.deadLettered,
        rows: tables[format]!.length,
      };
      say(`${format}: ${runs[format]!.recordsPerSecond} records/s (wall ${run.wallSeconds}s, cpu ${run.cpuSeconds}s)`);
    }
    const same = tables.json!.length === orders && tables.json!.every((r, i) => r === tables.avro![i]);
    writeResult('avro-backfill', { parameters: { orders, partitions, streams }, runs, sameRows: same });
    const summary = [
      '| input | records/s | wall s | cpu s per 1M records | bytes/record | peak RSS MB | rows |',
      '|---|---|---|---|---|---|---|',
      ...FORMATS.map((f) => { const r = runs[f]!; return `| ${f} | ${r.recordsPerSecond} | ${r.wallSeconds} | ${r.cpuSecondsPerMillion} | ${r.averageBytes} | ${r.peakRssMB} | ${r.rows} |`; }),
      '',
      same ? 'Both runs wrote the same rows.' : 'The runs wrote different rows.',
    ];
    return { correct: same, summary, targets: [] };
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
