/**
 * staged: the same events run fused (one job) and staged (`--job raw`, then `--job bronze`,
 * then `--job gold`, each `--available-now` in its own process), next to the kafkajs read
 * ceiling measured in the same run (one consumer that only counts records). Reported per job:
 * wall time, records/s, CPU seconds, peak RSS; both runs' tables are checked against the
 * reference model. Small by default (`BENCH_STAGED_EVENTS`, default 100,000).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withCommerceTopic } from '../commerce-topic.js';
import { cliPath, repoRoot, round, say, timed, writeResult, type TimedRun } from '../lib.js';
import type { ScenarioReport } from '../main.js';
import { verifyTables } from './backfill.js';

const TOPIC = 'events_topic';
const SPEC = join(repoRoot, 'pipelines', 'commerce-events.yaml');

/** Knobs; `BENCH_STAGED_EVENTS` overrides the event count. */
export interface StagedOptions {
  events: number;
  partitions: number;
  streams: number;
  seed: number;
}

/** One measured process. */
function figures(label: string, run: TimedRun, records: number): Record<string, unknown> {
  if (run.code !== 0) throw new Error(`${label} failed (exit ${run.code}): ${run.stdout.slice(-1000)}${run.stderr.slice(-2000)}`);
  return { label, records, wallSeconds: run.wallSeconds, recordsPerSecond: Math.round(records / run.wallSeconds), cpuSeconds: run.cpuSeconds, peakRssMB: run.peakRssMB };
}

/** Runs the ceiling, the fused run and the three staged jobs over the same events. */
export async function staged(
  opts: StagedOptions = { events: Number(process.env.BENCH_STAGED_EVENTS) || 100_000, partitions: 16, streams: 2, seed: 42 },
): Promise<ScenarioReport> {
  return withCommerceTopic('staged', { ...opts, topic: TOPIC }, async ({ work, broker, produced, ref }) => {
    const env = { env: { ...process.env, KAFKA_BROKERS: broker.bootstrap } };

    const count = await timed(process.execPath, [join(repoRoot, 'dist', 'bench', 'baselines.js'), 'count', broker.bootstrap, TOPIC, String(produced)]);
    const ceiling = figures('kafkajs read only (ceiling)', count, produced);
    const rows: Record<string, unknown>[] = [ceiling];

    const fusedOut = join(work, 'fused');
    const base = ['run', SPEC, '--available-now', '--log-level', 'warn', '--set', `streams=${opts.streams}`];
    say('fused run');
    rows.push(figures('fused (one job)', await timed(process.execPath, [cliPath, ...base, '--set', `output.path=${fusedOut}`, '--set', `checkpoint.path=${join(fusedOut, '_cp')}`], env), produced));
    const fusedProblems = await verifyTables(fusedOut, ref);

    // The same spec, staged: each job in its own process, one after the other.
    const stagedOut = join(work, 'staged');
    const spec = join(work, 'staged.yaml');
    writeFileSync(spec, `${readFileSync(SPEC, 'utf8')}mode: staged\n`);
    const stagedArgs = ['run', spec, '--available-now', '--log-level', 'warn', '--set', `streams=${opts.streams}`, '--set', `output.path=${stagedOut}`, '--set', `checkpoint.path=${join(stagedOut, '_cp')}`];
    for (const job of ['raw', 'bronze', 'gold']) {
      say(`staged: --job ${job}`);
      rows.push(figures(`staged: ${job}`, await timed(process.execPath, [cliPath, ...stagedArgs, '--job', job], env), produced));
    }
    const stagedProblems = await verifyTables(stagedOut, ref);
    const correct = fusedProblems.length === 0 && stagedProblems.length === 0;
    writeResult('staged', { parameters: { ...opts, topic: TOPIC, spec: 'pipelines/commerce-events.yaml' }, produced, runs: rows, fusedProblems, stagedProblems });
    const raw = rows.find((r) => r.label === 'staged: raw')!;
    const summary = [
      `${produced.toLocaleString('en-US')} events, ${opts.partitions} partitions, streams ${opts.streams}; each line one process, --available-now. Loaded shared machine: compare lines of one run, not runs.`,
      '',
      '| run | records/s | wall s | CPU s | peak RSS MB |',
      '|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.label} | ${(r.recordsPerSecond as number).toLocaleString('en-US')} | ${r.wallSeconds} | ${r.cpuSeconds} | ${r.peakRssMB} |`),
      '',
      `Tables exact: fused ${fusedProblems.length === 0 ? 'yes' : `NO (${fusedProblems.join('; ')})`}, staged ${stagedProblems.length === 0 ? 'yes' : `NO (${stagedProblems.join('; ')})`}.`,
    ];
    const share = round((raw.recordsPerSecond as number) / (ceiling.recordsPerSecond as number));
    return { correct, summary, targets: [{ target: 'raw ≥ 50% of the kafkajs read ceiling', actual: `${Math.round(share * 100)}%`, met: share >= 0.5 }] };
  });
}
