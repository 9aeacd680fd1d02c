/**
 * brokers: the same backfill on librdkafka's mock cluster and on Apache Kafka 4.x (KRaft, one
 * JVM with a 384 MB heap), side by side: 200,000 commerce events on 16 partitions,
 * `pipeline run --available-now` of pipelines/commerce-events.yaml with 1 and 2 streams.
 * Both brokers share the machine with the runner, as in every local bench; the JVM's own CPU
 * is not counted in the runner's CPU seconds. Tables are checked against the reference model.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, writeRecordFile } from '../../src/dev-broker/broker.js';
import { generateEvents } from '../../src/dev-broker/events.js';
import { startKafka } from '../../src/dev-broker/kafka-broker.js';
import { computeReference, commerceReferenceSpec } from '../../src/dev-broker/reference.js';
import { cliPath, repoRoot, round, say, timed, writeResult } from '../lib.js';
import type { ScenarioReport } from '../main.js';
import { verifyTables } from './backfill.js';

const TOPIC = 'events_topic';
const SPEC = join(repoRoot, 'pipelines', 'commerce-events.yaml');
// The mock keeps ~5 MiB per partition: 200,000 events on 16 partitions stay below it.
const EVENTS = 200_000;
const PARTITIONS = 16;
const STREAMS = [1, 2];

interface BrokerUnderTest {
  name: string;
  version: string;
  bootstrap: string;
  produceFile(topic: string, file: string): Promise<number>;
  stop(): Promise<void>;
}

async function start(name: 'mock' | 'kafka'): Promise<BrokerUnderTest> {
  if (name === 'mock') {
    const b = await startBroker({ topics: [{ name: TOPIC, partitions: PARTITIONS }] });
    return { name: 'librdkafka mock', version: '2.0.2', bootstrap: b.bootstrap, produceFile: (t, f) => b.produceFile(t, f), stop: () => b.stop() };
  }
  const k = await startKafka({ topics: [{ name: TOPIC, partitions: PARTITIONS }] });
  return { name: 'Apache Kafka', version: k.version, bootstrap: k.bootstrap, produceFile: (t, f) => k.produceFile(t, f), stop: () => k.stop() };
}

/** Runs the scenario on both brokers and returns figures. */
export async function brokers(): Promise<ScenarioReport> {
  const work = mkdtempSync(join(tmpdir(), 'bench-brokers-'));
  const rows: Record<string, unknown>[] = [];
  let correct = true;
  try {
    const file = join(work, 'events.bin');
    await writeRecordFile(file, generateEvents({ count: EVENTS, seed: 42 }));
    const ref = computeReference(generateEvents({ count: EVENTS, seed: 42 }), commerceReferenceSpec());
    for (const which of ['mock', 'kafka'] as const) {
      say(`starting ${which}`);
      const broker = await start(which);
      try {
        const t0 = performance.now();
        const produced = await broker.produceFile(TOPIC, file);
        const produceSeconds = (performance.now() - t0) / 1000;
        for (const streams of STREAMS) {
          const out = join(work, `lake-${which}-s${streams}`);
          const summaryFile = join(work, `summary-${which}-s${streams}.json`);
          const run = await timed(
            process.execPath,
            [cliPath, 'run', SPEC, '--available-now', '--log-level', 'warn', '--summary-json', summaryFile,
              '--set', `streams=${streams}`, '--set', `output.path=${out}`, '--set', `checkpoint.path=${join(out, '_checkpoints')}`],
            { env: { ...process.env, KAFKA_BROKERS: broker.bootstrap } },
          );
          if (run.code !== 0) throw new Error(`pipeline run on ${which} (streams ${streams}) failed: ${run.stderr.slice(-3000)}`);
          const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
          const problems = await verifyTables(out, ref);
          correct &&= problems.length === 0;
          const row = {
            broker: `${broker.name} ${broker.version}`, streams, produced, produceSeconds: round(produceSeconds),
            wallSeconds: run.wallSeconds, recordsPerSecond: Math.round(produced / run.wallSeconds), runnerRecordsPerSecond: Math.round(summary.recordsPerSecond),
            cpuSeconds: run.cpuSeconds, peakRssMB: run.peakRssMB, correct: problems.length === 0, problems,
          };
          rows.push(row);
          say(`${which} streams ${streams}: ${row.recordsPerSecond} records/s (wall ${run.wallSeconds}s)${problems.length ? ' WRONG: ' + problems.join('; ') : ''}`);
          rmSync(out, { recursive: true, force: true });
        }
      } finally {
        await broker.stop();
      }
    }
    writeResult('brokers', { parameters: { events: EVENTS, partitions: PARTITIONS, streams: STREAMS, spec: 'pipelines/commerce-events.yaml' }, runs: rows });
    const summary = [
      `${EVENTS.toLocaleString('en-US')} events, ${PARTITIONS} partitions, the same records file on both brokers.`,
      '',
      '| broker | streams | produce s | records/s (wall) | runner records/s | wall s | CPU s | peak RSS MB | tables exact |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.broker} | ${r.streams} | ${r.produceSeconds} | ${(r.recordsPerSecond as number).toLocaleString('en-US')} | ${(r.runnerRecordsPerSecond as number).toLocaleString('en-US')} | ${r.wallSeconds} | ${r.cpuSeconds} | ${r.peakRssMB} | ${r.correct ? 'yes' : '**NO**'} |`),
      '',
      'Wall time includes start-up and the group join (the mock holds a new group 3 s; Kafka here uses group.initial.rebalance.delay.ms=0).',
    ];
    return { correct, summary, targets: [] };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
