/**
 * latency: end-to-end latency (Kafka record timestamp → the Delta commit that made it visible
 * in its table) of `pipeline run` on commerce-events.yaml with `trigger.interval:
 * 250ms` and streams 2 (`BENCH_LATENCY_STREAMS`), at 10,000 and 25,000 records/s offered (`BENCH_LATENCY_RATES`), each
 * for `BENCH_LATENCY_SECONDS` (default 30). Per rate: p50/p99/max, how long after the load
 * stops lag returns to 0, the runner's CPU seconds, and where a batch's time goes (median and
 * p90 per phase over the batches committed under load).
 */
import { startBroker } from '../../src/dev-broker/broker.js';
import { round, say, writeResult } from '../lib.js';
import type { ScenarioReport, TargetCheck } from '../main.js';
import { measureSteady, STEADY_TOPIC } from './steady.js';

/** p99 targets per offered rate (records/s → ms). */
const P99_TARGET_MS: Record<number, number> = { 10_000: 500, 25_000: 1_000 };

/** The phases of a batch in the order a record lives through them (see docs/operations/observability.md). */
export const PHASES = ['wait', 'queue', 'decode', 'lockWait', 'load', 'merge', 'files', 'log', 'deltaCheckpoint', 'windows', 'deadLetter', 'quality', 'commit', 'checkpoint'];

/** Runs the latency scenario on the test broker. */
export async function latency(): Promise<ScenarioReport> {
  const rates = (process.env.BENCH_LATENCY_RATES ?? '10000,25000').split(',').map(Number);
  const seconds = Number(process.env.BENCH_LATENCY_SECONDS ?? 30);
  // The targets are set for streams 2; other counts are for comparison (one commit per table per cycle with 1).
  const streams = Number(process.env.BENCH_LATENCY_STREAMS ?? 2);
  const runs = [];
  for (const rate of rates) {
    // A fresh broker per rate: the second run must not start behind the first one's records.
    const broker = await startBroker({ topics: [{ name: STEADY_TOPIC, partitions: 64 }] });
    try {
      say(`latency at ${rate.toLocaleString('en-US')} records/s`);
      runs.push({ rate, ...(await measureSteady(broker, { rate, seconds, partitions: 64, streams, seed: 17 })) });
    } finally {
      await broker.stop();
    }
  }
  const summary: string[] = [
    `Streams ${streams}, trigger 250ms, 64 partitions, ${seconds} s per rate; latency = Kafka record timestamp → the Delta commit that made it visible in its table.`,
    '',
    '| offered records/s | achieved | p50 ms | p99 ms | max ms | lag 0 after load ms | CPU s per 1M records | batches | tables exact |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of runs) {
    summary.push(`| ${r.rate.toLocaleString('en-US')} | ${r.achievedOfferedRate.toLocaleString('en-US')} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${r.latencyMs.max} | ${r.lagDrainMsAfterLoad} | ${round((r.cpuSeconds / r.produced) * 1e6)} | ${r.batches} | ${r.correct ? 'yes' : 'NO'} |`);
  }
  summary.push('', 'Where a batch\'s time goes (ms, median / p90 over batches; lake phases are summed over the batch\'s tables, which commit side by side):', '');
  summary.push(`| phase | ${runs.map((r) => `${r.rate.toLocaleString('en-US')}/s`).join(' | ')} |`, `|---|${runs.map(() => '---|').join('')}`);
  for (const phase of PHASES) {
    if (!runs.some((r) => r.phasesMs[phase])) continue;
    summary.push(`| ${phase} | ${runs.map((r) => (r.phasesMs[phase] ? `${r.phasesMs[phase]!.p50} / ${r.phasesMs[phase]!.p90}` : '-')).join(' | ')} |`);
  }
  for (const r of runs) if (r.problems.length > 0) summary.push(`WRONG at ${r.rate}/s: ${r.problems.join('; ')}`);
  const targets: TargetCheck[] = runs.flatMap((r) => [
    ...(P99_TARGET_MS[r.rate] && streams === 2 ? [{ target: `p99 ≤ ${P99_TARGET_MS[r.rate]} ms at ${r.rate.toLocaleString('en-US')} records/s`, actual: `${r.latencyMs.p99} ms`, met: (r.latencyMs.p99 ?? Infinity) <= P99_TARGET_MS[r.rate]! }] : []),
    { target: `lag back to 0 within 1 s after the load stops (${r.rate.toLocaleString('en-US')}/s)`, actual: `${r.lagDrainMsAfterLoad} ms`, met: r.lagDrainMsAfterLoad <= 1000 },
  ]);
  // Another stream count writes its own file: latency.json stays the streams-2 figures the targets are for.
  if (streams === 2) writeResult('latency', { streams, runs, targets });
  else writeResult(`latency-streams${streams}`, { command: `BENCH_LATENCY_STREAMS=${streams} npm run bench -- latency`, streams, runs, targets });
  return { correct: runs.every((r) => r.correct), summary, targets };
}
