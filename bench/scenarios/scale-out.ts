/**
 * scale-out: the same backfill run as one process (K = 1) and as two `--instance i/2`
 * processes started together (K = 2), with the same total streams, so the only difference is
 * how streams are spread over processes. Reported per run: wall time until the last process
 * exits, CPU seconds of all processes together and per 1M records, summed peak RSS. Every
 * run's tables are checked against the reference model. On one machine K = 2 cannot add
 * cores; the figure that carries over to a cluster is CPU seconds per 1M records.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { withCommerceTopic } from '../commerce-topic.js';
import { cliPath, repoRoot, round, say, timed, writeResult } from '../lib.js';
import type { ScenarioReport } from '../main.js';
import { verifyTables } from './backfill.js';

const TOPIC = 'events_topic';
const SPEC = join(repoRoot, 'pipelines', 'commerce-events.yaml');

/** Knobs; `BENCH_SCALE_OUT_EVENTS` overrides the event count. */
export interface ScaleOutOptions {
  events: number;
  partitions: number;
  streams: number;
  instances: number[];
  seed: number;
}

/** Runs K = 1 and K = 2 over the same events and returns figures (tables checked). */
export async function scaleOut(
  opts: ScaleOutOptions = { events: Number(process.env.BENCH_SCALE_OUT_EVENTS) || 200_000, partitions: 64, streams: 2, instances: [1, 2], seed: 42 },
): Promise<ScenarioReport> {
  return withCommerceTopic('scale-out', { ...opts, topic: TOPIC }, async ({ work, broker, produced, ref }) => {
    const runs: Record<string, unknown>[] = [];
    let correct = true;
    for (const k of opts.instances) {
      const out = join(work, `lake-k${k}`);
      say(`pipeline run --available-now, streams ${opts.streams}, ${k} process(es)`);
      const started = performance.now();
      const procs = await Promise.all(
        Array.from({ length: k }, (_, i) => {
          const summaryFile = join(work, `summary-k${k}-${i}.json`);
          const args = [cliPath, 'run', SPEC, '--available-now', '--log-level', 'warn', '--summary-json', summaryFile,
            '--set', `streams=${opts.streams}`, '--set', `output.path=${out}`, '--set', `checkpoint.path=${join(out, '_checkpoints')}`];
          if (k > 1) args.push('--instance', `${i}/${k}`);
          return timed(process.execPath, args, { env: { ...process.env, KAFKA_BROKERS: broker.bootstrap } }).then((run) => ({ run, summaryFile }));
        }),
      );
      const wallSeconds = round((performance.now() - started) / 1000);
      for (const { run } of procs) if (run.code !== 0) throw new Error(`pipeline run (K = ${k}) failed: ${run.stderr.slice(-3000)}`);
      const records = procs.reduce((n, { summaryFile }) => n + JSON.parse(readFileSync(summaryFile, 'utf8')).records, 0);
      const cpuSeconds = round(procs.reduce((n, { run }) => n + run.cpuSeconds, 0));
      const problems = records === produced ? await verifyTables(out, ref) : [`${records} records consumed, ${produced} produced`];
      correct &&= problems.length === 0;
      runs.push({
        instances: k,
        streams: opts.streams,
        wallSeconds,
        recordsPerSecond: Math.round(produced / wallSeconds),
        cpuSeconds,
        cpuSecondsPer1MRecords: round((cpuSeconds / produced) * 1_000_000),
        perProcess: procs.map(({ run }) => ({ wallSeconds: run.wallSeconds, cpuSeconds: run.cpuSeconds, peakRssMB: run.peakRssMB })),
        peakRssMBTotal: procs.reduce((n, { run }) => n + run.peakRssMB, 0),
        correct: problems.length === 0,
        problems,
      });
      say(`K = ${k}: wall ${wallSeconds}s, cpu ${cpuSeconds}s${problems.length ? ' WRONG: ' + problems.join('; ') : ''}`);
      rmSync(out, { recursive: true, force: true });
    }
    writeResult('scale-out', { parameters: { ...opts, topic: TOPIC, spec: 'pipelines/commerce-events.yaml' }, produced, runs });
    const summary = [
      `${produced.toLocaleString('en-US')} events, ${opts.partitions} partitions, streams ${opts.streams} in total.`,
      '',
      '| processes (K) | records/s | wall s | CPU s (all processes) | CPU s per 1M records | peak RSS MB (sum) | tables exact |',
      '|---|---|---|---|---|---|---|',
      ...runs.map((r) => `| ${r.instances} | ${(r.recordsPerSecond as number).toLocaleString('en-US')} | ${r.wallSeconds} | ${r.cpuSeconds} | ${r.cpuSecondsPer1MRecords} | ${r.peakRssMBTotal} | ${r.correct ? 'yes' : '**NO**'} |`),
    ];
    return { correct, summary, targets: [] };
  });
}
