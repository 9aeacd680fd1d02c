/**
 * Measures `pipeline run --available-now` end to end: generated commerce events on a
 * many-partition topic of the test broker, the commerce spec with each requested stream count,
 * wall time and records/s from the run's own summary (startup included).
 *
 *   node dist/bench/probe-run.js [--events 1000000] [--partitions 64] [--streams 1,4]
 *                                [--batch 100000] [--decode-threads 1] [--cpu-prof DIR]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker, writeRecordFile } from '../src/dev-broker/broker.js';
import { generateEvents } from '../src/dev-broker/events.js';
import { cliPath, timed } from './lib.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '64' },
    streams: { type: 'string', default: '1,4' },
    batch: { type: 'string', default: '100000' },
    interval: { type: 'string', default: '5s' },
    'decode-threads': { type: 'string' },
    'cpu-prof': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const count = Number(values.events);
const partitions = Number(values.partitions);
const types = ['orders', 'users', 'payments', 'inventory', 'products', 'shipments', 'refunds', 'reviews', 'analytics'];

function spec(dir: string, bootstrap: string, topic: string, streams: number): string {
  const file = join(dir, `spec-${streams}.yaml`);
  writeFileSync(
    file,
    [
      'apiVersion: pipeline/v1',
      `name: probe-${streams}`,
      `source: { kafka: { brokers: ["${bootstrap}"], topic: ${topic}, startingOffsets: earliest }, format: json }`,
      `streams: ${streams}`,
      `trigger: { interval: ${values.interval}, maxRecordsPerBatch: ${values.batch} }`,
      'routing:',
      '  field: event_type',
      `  routes: { ${types.map((t) => `${t}: ${t}`).join(', ')} }`,
      '  unmatched: dead_letter',
      'tables:',
      ...types.map((t) => (t === 'analytics' ? `  ${t}: { mode: append }` : `  ${t}: { mergeKeys: [id], sequenceBy: seq }`)),
      `output: { path: ${join(dir, `lake-${streams}`)} }`,
      `checkpoint: { path: ${join(dir, `lake-${streams}`, '_checkpoints')} }`,
      '',
    ].join('\n'),
  );
  return file;
}

/** `PROBE_LOG_LEVEL=info`: one line per runner log entry (time, stream, batch, message, timings). */
function timeline(stderr: string): string {
  const lines: string[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{') || line.includes('kafkajs')) continue;
    const j = JSON.parse(line) as Record<string, unknown>;
    lines.push(`${String(j.time).slice(11)} s${j.stream ?? '-'} b${j.batchId ?? '-'} ${j.msg} ${j.records ?? ''} decode=${j.decodeMs ?? ''} commit=${j.commitMs ?? ''} ${j.table ?? ''} ${j.rows ?? ''} ${j.ms ?? ''}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'probe-run-'));
  const broker = await startBroker({ topics: [{ name: 'events', partitions }] });
  try {
    const file = join(dir, 'events.bin');
    let t = Date.now();
    await writeRecordFile(file, generateEvents({ count, seed: 1 }));
    const produced = await broker.produceFile('events', file);
    console.log(`produced ${produced} events on ${partitions} partitions in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    for (const streams of values.streams.split(',').map(Number)) {
      const summaryFile = join(dir, `summary-${streams}.json`);
      const env = { ...process.env };
      if (values['decode-threads'] !== undefined) env.PIPELINE_DECODE_THREADS = values['decode-threads'];
      const nodeArgs = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] : [];
      t = Date.now();
      const run = await timed(process.execPath, [...nodeArgs, cliPath, 'run', spec(dir, broker.bootstrap, 'events', streams), '--available-now', '--log-level', process.env.PROBE_LOG_LEVEL ?? 'warn', '--summary-json', summaryFile], { env });
      if (process.env.PROBE_LOG_LEVEL) console.log(timeline(run.stderr));
      if (run.code !== 0) {
        console.log(`streams ${streams}: failed (exit ${run.code})\n${run.stderr.slice(-3000)}`);
        continue;
      }
      const s = JSON.parse(readFileSync(summaryFile, 'utf8'));
      console.log(
        `streams ${streams}: ${s.records} records, ${s.batches} batches, wall ${(s.wallTimeMs / 1000).toFixed(1)} s (process ${run.wallSeconds.toFixed(1)} s, cpu ${run.cpuSeconds.toFixed(1)} s, peak RSS ${run.peakRssMB} MB), ` +
          `${s.recordsPerSecond.toLocaleString('en-US')} records/s; decode ${s.metrics.pipeline_decode_duration_seconds.toFixed(1)} s, commit ${s.metrics.pipeline_commit_duration_seconds.toFixed(1)} s (summed over streams)`,
      );
    }
  } finally {
    await broker.stop();
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

await main();
