/**
 * backfill-s3: the backfill (commerce events, `pipeline run --available-now` of
 * pipelines/commerce-events.yaml) with the tables on local disk and then in a bucket of a
 * local MinIO server, same events, same streams, one after the other, so the two figures sit
 * side by side. Both runs' gold tables are checked against the reference model.
 * `BENCH_S3_EVENTS` overrides the event count (default 1,000,000).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, writeRecordFile } from '../../src/dev-broker/broker.js';
import { generateEvents } from '../../src/dev-broker/events.js';
import { startMinio } from '../../src/dev-broker/object-store.js';
import { computeReference, commerceReferenceSpec } from '../../src/dev-broker/reference.js';
import { cliPath, repoRoot, round, say, timed, writeResult } from '../lib.js';
import type { ScenarioReport, TargetCheck } from '../main.js';
import { verifyTables } from './backfill.js';

const TOPIC = 'events_topic';
const SPEC = join(repoRoot, 'pipelines', 'commerce-events.yaml');

/** Runs the scenario and returns figures + target checks. */
export async function backfillS3(opts = { events: Number(process.env.BENCH_S3_EVENTS ?? 1_000_000), partitions: 64, streams: 4, seed: 42 }): Promise<ScenarioReport> {
  const work = mkdtempSync(join(tmpdir(), 'bench-backfill-s3-'));
  const broker = await startBroker({ topics: [{ name: TOPIC, partitions: opts.partitions }] });
  const minio = await startMinio(['lake']);
  try {
    const file = join(work, 'events.bin');
    await writeRecordFile(file, generateEvents({ count: opts.events, seed: opts.seed }));
    const ref = computeReference(generateEvents({ count: opts.events, seed: opts.seed }), commerceReferenceSpec());
    const produced = await broker.produceFile(TOPIC, file);
    say(`produced ${produced} records`);

    const runs: Record<string, number | string | boolean>[] = [];
    let correct = true;
    for (const where of ['local disk', 'MinIO bucket'] as const) {
      const out = where === 'local disk' ? join(work, 'lake') : 's3://lake/backfill';
      const tag = where === 'local disk' ? 'local' : 's3';
      const summaryFile = join(work, `summary-${tag}.json`);
      say(`pipeline run --available-now, streams ${opts.streams}, tables on ${where}`);
      // The bucket run's own empty read cache: merges download what they rewrite.
      const env = { ...process.env, KAFKA_BROKERS: broker.bootstrap, ...minio.env, PIPELINE_OBJECT_CACHE: join(work, `cache-${tag}`) };
      const run = await timed(
        process.execPath,
        [cliPath, 'run', SPEC, '--available-now', '--log-level', 'warn', '--summary-json', summaryFile,
          '--set', `streams=${opts.streams}`, '--set', `output.path=${out}`, '--set', `checkpoint.path=${join(work, `checkpoints-${tag}`)}`],
        { env },
      );
      if (run.code !== 0) throw new Error(`pipeline run (${where}) failed: ${run.stderr.slice(-3000)}`);
      const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
      Object.assign(process.env, minio.env, { PIPELINE_OBJECT_CACHE: join(work, 'cache-verify') });
      const problems = await verifyTables(out, ref);
      correct &&= problems.length === 0;
      runs.push({ where, wallSeconds: run.wallSeconds, recordsPerSecond: Math.round(produced / run.wallSeconds), cpuSeconds: run.cpuSeconds, peakRssMB: run.peakRssMB, batches: summary.batches, correct: problems.length === 0 });
      say(`${where}: ${Math.round(produced / run.wallSeconds)} records/s (wall ${run.wallSeconds}s)${problems.length ? ' WRONG: ' + problems.join('; ') : ''}`);
    }
    const [local, bucket] = runs as [Record<string, number>, Record<string, number>];
    const ratio = round(bucket.recordsPerSecond! / local.recordsPerSecond!);
    const targets: TargetCheck[] = [{ target: 'bucket ≥ 50% of local-disk records/s', actual: `${Math.round(ratio * 100)}%`, met: ratio >= 0.5 }];
    writeResult('backfill-s3', { parameters: { ...opts, topic: TOPIC, spec: 'pipelines/commerce-events.yaml' }, produced, runs, bucketToLocal: ratio, targets });
    const summary = [
      `${produced.toLocaleString('en-US')} events, ${opts.partitions} partitions, streams ${opts.streams}; MinIO on loopback (same machine).`,
      '',
      '| tables on | records/s | wall s | CPU s | peak RSS MB | tables exact |',
      '|---|---|---|---|---|---|',
      ...runs.map((r) => `| ${r.where} | ${(r.recordsPerSecond as number).toLocaleString('en-US')} | ${r.wallSeconds} | ${r.cpuSeconds} | ${r.peakRssMB} | ${r.correct ? 'yes' : '**NO**'} |`),
    ];
    return { correct, summary, targets };
  } finally {
    await broker.stop();
    await minio.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}
