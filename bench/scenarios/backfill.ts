/**
 * backfill: 1,000,000 commerce events on a 64-partition topic; `pipeline run --available-now`
 * of pipelines/commerce-events.yaml with streams = 1, 2, 4, 8, and in the same run the
 * baselines (raw kafkajs count, kafkajs + JSON.parse in 2 threads, the naive monolith).
 * Every pipeline run's gold tables are checked against the reference model: a fast wrong
 * run fails the benchmark.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../../src/dev-broker/broker.js';
import { writeRecordFile } from '../../src/dev-broker/broker.js';
import { generateEvents } from '../../src/dev-broker/events.js';
import { computeReference, commerceReferenceSpec, type ReferenceResult } from '../../src/dev-broker/reference.js';
import { Lake } from '../../src/lake/index.js';
import { barChart } from '../chart.js';
import { cliPath, repoRoot, resultsDir, round, say, timed, writeResult, type TimedRun } from '../lib.js';
import type { ScenarioReport, TargetCheck } from '../main.js';

const TOPIC = 'events_topic';
const SPEC = join(repoRoot, 'pipelines', 'commerce-events.yaml');

export interface BackfillOptions {
  events: number;
  partitions: number;
  streams: number[];
  seed: number;
}

/** Compares the gold tables under `out` (a folder or a bucket location) with the reference; returns problems (empty = exact). */
export async function verifyTables(out: string, ref: ReferenceResult): Promise<string[]> {
  const problems: string[] = [];
  const lake = await Lake.create({ threads: 2 });
  try {
    for (const [table, expected] of Object.entries(ref.tables)) {
      const path = `${out}/${table}`;
      const rows = (await lake.exists(path)) ? await lake.scan(path, { columns: ['id', 'seq'] }) : [];
      const key = (r: Record<string, unknown>) => `${String(r.id)}@${String(r.seq)}`;
      const want = expected.rows.map(key).sort();
      const got = rows.map(key).sort();
      if (want.length !== got.length) {
        problems.push(`${table}: ${got.length} rows, expected ${want.length}`);
        continue;
      }
      for (let i = 0; i < want.length; i++) {
        if (want[i] !== got[i]) {
          problems.push(`${table}: row (id@seq) ${got[i]} where ${want[i]} was expected`);
          break;
        }
      }
    }
    const dlq = `${out}/_dead_letter`;
    const dead = (await lake.exists(dlq)) ? (await lake.scan(dlq, { columns: ['offset'] })).length : 0;
    if (dead !== ref.deadLetter) problems.push(`_dead_letter: ${dead} rows, expected ${ref.deadLetter}`);
  } finally {
    await lake.close();
  }
  return problems;
}

function parseBaseline(run: TimedRun, name: string): Record<string, number> {
  if (run.code !== 0) throw new Error(`baseline ${name} failed (exit ${run.code}): ${run.stderr.slice(-2000)}`);
  return { ...JSON.parse(run.stdout.trim().split('\n').pop()!), wallSeconds: run.wallSeconds, cpuSeconds: run.cpuSeconds, peakRssMB: run.peakRssMB };
}

/** Runs the scenario and returns figures + target checks. */
export async function backfill(opts: BackfillOptions = { events: 1_000_000, partitions: 64, streams: [1, 2, 4, 8], seed: 42 }): Promise<ScenarioReport> {
  const work = mkdtempSync(join(tmpdir(), 'bench-backfill-'));
  const broker = await startBroker({ topics: [{ name: TOPIC, partitions: opts.partitions }] });
  try {
    say(`generating ${opts.events.toLocaleString('en-US')} events`);
    const file = join(work, 'events.bin');
    await writeRecordFile(file, generateEvents({ count: opts.events, seed: opts.seed }));
    const ref = computeReference(generateEvents({ count: opts.events, seed: opts.seed }), commerceReferenceSpec());
    const t0 = performance.now();
    const produced = await broker.produceFile(TOPIC, file);
    const produceSeconds = (performance.now() - t0) / 1000;
    say(`produced ${produced} records in ${produceSeconds.toFixed(1)} s`);

    const baselineScript = join(repoRoot, 'dist', 'bench', 'baselines.js');
    const baselines: Record<string, Record<string, number>> = {};
    for (const [name, extra] of [['count', undefined], ['parse', '2'], ['monolith', join(work, 'monolith')]] as const) {
      say(`baseline ${name}`);
      const args = [baselineScript, name, broker.bootstrap, TOPIC, String(produced)];
      if (extra) args.push(extra);
      baselines[name] = parseBaseline(await timed(process.execPath, args), name);
      say(`baseline ${name}: ${Math.round(baselines[name]!.recordsPerSecond!)} records/s`);
    }

    const runs: Record<string, unknown>[] = [];
    let correct = true;
    for (const streams of opts.streams) {
      const out = join(work, `lake-s${streams}`);
      const summaryFile = join(work, `summary-s${streams}.json`);
      say(`pipeline run --available-now, streams: ${streams}`);
      const run = await timed(
        process.execPath,
        [cliPath, 'run', SPEC, '--available-now', '--log-level', 'warn', '--summary-json', summaryFile,
          '--set', `streams=${streams}`, '--set', `output.path=${out}`, '--set', `checkpoint.path=${join(out, '_checkpoints')}`],
        { env: { ...process.env, KAFKA_BROKERS: broker.bootstrap } },
      );
      if (run.code !== 0) throw new Error(`pipeline run (streams ${streams}) failed: ${run.stderr.slice(-3000)}`);
      const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
      const problems = await verifyTables(out, ref);
      correct &&= problems.length === 0;
      const recordsPerSecond = produced / run.wallSeconds;
      runs.push({
        streams,
        wallSeconds: run.wallSeconds,
        recordsPerSecond: Math.round(recordsPerSecond),
        runnerRecordsPerSecond: Math.round(summary.recordsPerSecond),
        cpuSeconds: run.cpuSeconds,
        peakRssMB: run.peakRssMB,
        batches: summary.batches,
        deadLettered: summary.deadLettered,
        tables: Object.fromEntries(Object.entries(ref.tables).map(([t, e]) => [t, e.rows.length])),
        correct: problems.length === 0,
        problems,
      });
      say(`streams ${streams}: ${Math.round(recordsPerSecond)} records/s (wall ${run.wallSeconds}s, cpu ${run.cpuSeconds}s, rss ${run.peakRssMB} MB)${problems.length ? ' WRONG: ' + problems.join('; ') : ''}`);
      rmSync(out, { recursive: true, force: true });
    }

    const rate = (s: number) => (runs.find((r) => r.streams === s)?.recordsPerSecond as number) ?? NaN;
    const best = runs.reduce((a, r) => ((r.recordsPerSecond as number) > (a.recordsPerSecond as number) ? r : a));
    const bestRate = best.recordsPerSecond as number;
    const parseCeiling = baselines.parse!.recordsPerSecond!;
    const monolith = baselines.monolith!.recordsPerSecond!;
    const peakRss = Math.max(...runs.map((r) => r.peakRssMB as number));
    const targets: TargetCheck[] = [
      { target: 'best streams ≥ 100,000 records/s', actual: `${bestRate.toLocaleString('en-US')} (streams ${best.streams})`, met: bestRate >= 100_000 },
      { target: 'best ≥ 70% of read+parse ceiling', actual: `${Math.round((bestRate / parseCeiling) * 100)}% of ${Math.round(parseCeiling).toLocaleString('en-US')}`, met: bestRate >= 0.7 * parseCeiling },
      { target: '≥ 6x naive monolith', actual: `${round(bestRate / monolith)}x (${Math.round(monolith).toLocaleString('en-US')}/s)`, met: bestRate >= 6 * monolith },
      { target: 'streams 4 ≥ 1.5x streams 1', actual: `${round(rate(4) / rate(1))}x`, met: rate(4) >= 1.5 * rate(1) },
      { target: 'peak RSS ≤ 1 GB', actual: `${peakRss} MB`, met: peakRss <= 1024 },
    ];
    // The typed-batch targets: CPU per million records of the best run, memory with streams 2.
    const bestCpu = ((best.cpuSeconds as number) / produced) * 1e6;
    targets.push({ target: '≤ 15 CPU seconds per 1M records (best run)', actual: `${round(bestCpu)} (streams ${best.streams})`, met: bestCpu <= 15 });
    const rss2 = runs.find((r) => r.streams === 2)?.peakRssMB as number | undefined;
    if (rss2 !== undefined) targets.push({ target: 'peak RSS ≤ 600 MB with streams 2', actual: `${rss2} MB`, met: rss2 <= 600 });
    const figures = {
      parameters: { ...opts, topic: TOPIC, spec: 'pipelines/commerce-events.yaml' },
      produced,
      produceSeconds: round(produceSeconds),
      reference: { tables: Object.fromEntries(Object.entries(ref.tables).map(([t, e]) => [t, e.rows.length])), deadLetter: ref.deadLetter },
      baselines,
      runs,
      ratios: {
        bestToParseCeiling: round(bestRate / parseCeiling),
        bestToRawCount: round(bestRate / baselines.count!.recordsPerSecond!),
        bestToMonolith: round(bestRate / monolith),
        streams4ToStreams1: round(rate(4) / rate(1)),
      },
      targets,
    };
    writeResult('backfill', figures);
    writeFileSync(
      join(resultsDir, 'backfill.svg'),
      barChart(
        `backfill: ${opts.events.toLocaleString('en-US')} events, ${opts.partitions} partitions, 10 tables`,
        'records/s (wall) by streams setting',
        runs.map((r) => ({ label: `streams ${r.streams}`, value: r.recordsPerSecond as number })),
        [
          { label: 'kafkajs read only', value: baselines.count!.recordsPerSecond!, color: '#888' },
          { label: 'read + JSON.parse', value: parseCeiling, color: '#d98b00' },
          { label: 'naive monolith', value: monolith, color: '#c0392b' },
        ],
      ),
    );
    const summary = [
      `${produced.toLocaleString('en-US')} events, ${opts.partitions} partitions; reference: ${Object.values(ref.tables).reduce((a, t) => a + t.rows.length, 0).toLocaleString('en-US')} gold rows, ${ref.deadLetter} dead-lettered.`,
      '',
      '| run | records/s | wall s | CPU s | peak RSS MB | tables exact |',
      '|---|---|---|---|---|---|',
      ...(['count', 'parse', 'monolith'] as const).map((b) => `| baseline ${b} | ${Math.round(baselines[b]!.recordsPerSecond!).toLocaleString('en-US')} | ${baselines[b]!.wallSeconds} | ${baselines[b]!.cpuSeconds} | ${baselines[b]!.peakRssMB} | ${b === 'monolith' ? 'n/a' : '-'} |`),
      ...runs.map((r) => `| pipeline streams ${r.streams} | ${(r.recordsPerSecond as number).toLocaleString('en-US')} | ${r.wallSeconds} | ${r.cpuSeconds} | ${r.peakRssMB} | ${r.correct ? 'yes' : '**NO**'} |`),
      '',
      'records/s and wall s are the whole process: start-up and the consumer-group join (the broker holds a new group 3 s) included.',
      '',
      `Chart: bench/results/backfill.svg`,
    ];
    return { correct, summary, targets };
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
