/**
 * `pipeline demo`: the whole product in one command on an embedded default. Starts the local
 * test broker with a 50-partition `events_topic`, produces realistic commerce events (ten
 * event types, repeated keys, a few malformed), runs `pipelines/commerce-events.yaml` with
 * `--available-now` exactly as a user would, checks the gold tables against the reference
 * model, and prints a summary with a query to try.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '../main.js';
import { parseCommandArgs } from '../args.js';
import { PipelineError, UsageError } from '../../errors.js';
import { startBroker, writeRecordFile } from '../../dev-broker/broker.js';
import { generateEvents } from '../../dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../dev-broker/reference.js';
import { Lake } from '../../lake/index.js';

const root = resolve(fileURLToPath(import.meta.url), '../../../../..');
const SPEC = join(root, 'pipelines', 'commerce-events.yaml');
const MARKER = '.pipeline-demo';

const usage = `Usage: pipeline demo [options]

Runs pipelines/commerce-events.yaml end to end on a local test broker and prints a summary.

Options:
  --events <n>      commerce events to produce (default 300000)
  --partitions <n>  partitions of events_topic (default 50)
  --streams <n>     parallel streams (default: the spec's, 4)
  --out <dir>       where the demo's Delta tables go (default ./demo-lake; replaced on every run)
  --seed <n>        event generator seed (default 1)`;

function positiveInt(v: string | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError('PIPE_CLI_USAGE', `--${flag} must be a positive integer, got '${v}'`);
  return n;
}

/** Clears the demo's output dir, refusing to delete a directory the demo did not create. */
function prepareOut(out: string): void {
  if (existsSync(out)) {
    if (!existsSync(join(out, MARKER))) {
      throw new PipelineError('PIPE_DEMO_OUT_EXISTS', `${out} exists and was not created by the demo; refusing to replace it`, { hint: 'pass --out <new dir>' });
    }
    rmSync(out, { recursive: true, force: true });
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, MARKER), 'created by `pipeline demo`; replaced on every demo run\n');
}

function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolveExit, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'pipeline.js'), ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => resolveExit(code ?? 1));
  });
}

export const command: Command = {
  summary: 'Run the commerce-events pipeline end to end on a local broker with sample events',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      events: { type: 'string' },
      partitions: { type: 'string' },
      streams: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
    });
    if (positionals.length) throw new UsageError('PIPE_CLI_USAGE', `unexpected argument '${positionals[0]}'`);
    const events = positiveInt(values.events, 'events', 300_000);
    const partitions = positiveInt(values.partitions, 'partitions', 50);
    const seed = positiveInt(values.seed, 'seed', 1);
    const out = resolve(values.out ?? 'demo-lake');
    prepareOut(out);

    const work = mkdtempSync(join(tmpdir(), 'pipeline-demo-'));
    console.error(`demo: starting the local test broker (events_topic, ${partitions} partitions)`);
    const broker = await startBroker({ topics: [{ name: 'events_topic', partitions }] });
    try {
      const file = join(work, 'events.bin');
      let t = Date.now();
      await writeRecordFile(file, generateEvents({ count: events, seed }));
      const produced = await broker.produceFile('events_topic', file);
      console.error(`demo: produced ${produced.toLocaleString('en-US')} commerce events in ${((Date.now() - t) / 1000).toFixed(1)} s`);

      const summaryFile = join(work, 'summary.json');
      const args = ['run', SPEC, '--available-now', '--log-level', 'warn', '--summary-json', summaryFile,
        '--set', `output.path=${out}`, '--set', `checkpoint.path=${join(out, '_checkpoints')}`];
      if (values.streams) args.push('--set', `streams=${positiveInt(values.streams, 'streams', 4)}`);
      console.error(`demo: pipeline run ${relative(process.cwd(), SPEC)} --available-now`);
      t = Date.now();
      const code = await runChild(args, { ...process.env, KAFKA_BROKERS: broker.bootstrap });
      const wall = (Date.now() - t) / 1000;
      if (code !== 0) throw new PipelineError('PIPE_DEMO_RUN_FAILED', `pipeline run exited with code ${code} (see the error above)`);
      const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));

      const ref = computeReference(generateEvents({ count: events, seed }), commerceReferenceSpec());
      const lake = await Lake.create({ threads: 2 });
      const lines: string[] = [];
      let exact = true;
      try {
        lines.push('', `pipeline commerce-events: ${produced.toLocaleString('en-US')} events → ${Object.keys(ref.tables).length} gold tables + dead letter`, '');
        lines.push(`  ${'table'.padEnd(14)} ${'rows'.padStart(9)}  ${'expected'.padStart(9)}`);
        for (const [table, expected] of Object.entries(ref.tables).sort(([a], [b]) => a.localeCompare(b))) {
          const snap = await lake.snapshot(join(out, table));
          const rows = snap.files.reduce((a, f) => a + (f.stats?.numRecords ?? 0), 0);
          exact &&= rows === expected.rows.length;
          lines.push(`  ${table.padEnd(14)} ${rows.toLocaleString('en-US').padStart(9)}  ${expected.rows.length.toLocaleString('en-US').padStart(9)}  (${expected.mode})`);
        }
        const dlq = await lake.snapshot(join(out, '_dead_letter'));
        const dead = dlq.files.reduce((a, f) => a + (f.stats?.numRecords ?? 0), 0);
        exact &&= dead === ref.deadLetter;
        lines.push(`  ${'_dead_letter'.padEnd(14)} ${dead.toLocaleString('en-US').padStart(9)}  ${ref.deadLetter.toLocaleString('en-US').padStart(9)}  (${ref.malformed} malformed, ${ref.unmatched} unmatched event types)`);
        lines.push('');
        lines.push(`  throughput   ${Math.round(produced / wall).toLocaleString('en-US')} records/s end to end (${wall.toFixed(1)} s wall, ${summary.batches} batches, ${summary.streams.length} streams)`);
        lines.push(`  exactly once ${exact ? 'yes: every table matches the reference model of the produced events' : 'NO: row counts differ from the reference model'}`);
        lines.push(`  tables       ${relative(process.cwd(), out) || '.'}/<table>  (Delta Lake: _delta_log/ + Parquet)`);
        const top = await lake.scan(join(out, 'orders'), { columns: ['status'] });
        const byStatus = new Map<string, number>();
        for (const r of top) byStatus.set(String(r.status), (byStatus.get(String(r.status)) ?? 0) + 1);
        lines.push('');
        lines.push('  try it (DuckDB with the delta extension):');
        lines.push(`    SELECT status, count(*) FROM delta_scan('${relative(process.cwd(), join(out, 'orders'))}') GROUP BY status ORDER BY 2 DESC;`);
        lines.push(`  or without extensions: pipeline table head ${relative(process.cwd(), join(out, 'orders'))} -n 5`);
        lines.push(`  orders by status: ${[...byStatus].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${s} ${n}`).join(', ')}`);
      } finally {
        await lake.close();
      }
      console.log(lines.join('\n'));
      return exact ? 0 : 1;
    } finally {
      await broker.stop();
      rmSync(work, { recursive: true, force: true });
    }
  },
};
