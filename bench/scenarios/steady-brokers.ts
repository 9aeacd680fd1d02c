/**
 * steady-brokers: the steady scenario's offered load on librdkafka's mock cluster and on
 * Apache Kafka 4.x (KRaft, one JVM), one after the other in one run, reported side by side:
 * end-to-end latency (record timestamp → checkpoint commit), how long after the load stops
 * the backlog is committed, and whether the tables match the reference.
 *
 * Smaller than `steady` by default (10,000 records/s for 30 s on 16 partitions) because
 * Apache Kafka's producer here is kafkajs in the bench process; `BENCH_STEADY_RATE` and
 * `BENCH_STEADY_SECONDS` change it.
 */
import { startBroker } from '../../src/dev-broker/broker.js';
import { startKafka } from '../../src/dev-broker/kafka-broker.js';
import { say, writeResult } from '../lib.js';
import type { ScenarioReport } from '../main.js';
import { measureSteady, STEADY_TOPIC, type SteadyBroker, type SteadyOptions } from './steady.js';

const PARTITIONS = 16;

async function start(which: 'mock' | 'kafka'): Promise<SteadyBroker & { name: string; stop(): Promise<void> }> {
  const topics = [{ name: STEADY_TOPIC, partitions: PARTITIONS }];
  if (which === 'mock') {
    const b = await startBroker({ topics });
    return { name: 'librdkafka mock 2.0.2', bootstrap: b.bootstrap, produceFile: (t, f, o) => b.produceFile(t, f, o), stop: () => b.stop() };
  }
  const k = await startKafka({ topics });
  return { name: `Apache Kafka ${k.version}`, bootstrap: k.bootstrap, produceFile: (t, f, o) => k.produceFile(t, f, o), stop: () => k.stop() };
}

/** Runs the steady load on both brokers. */
export async function steadyBrokers(): Promise<ScenarioReport> {
  const opts: SteadyOptions = {
    rate: Number(process.env.BENCH_STEADY_RATE ?? 10_000),
    seconds: Number(process.env.BENCH_STEADY_SECONDS ?? 30),
    partitions: PARTITIONS,
    streams: 2,
    seed: 11,
  };
  const rows = [];
  for (const which of ['mock', 'kafka'] as const) {
    say(`steady load on ${which}`);
    const broker = await start(which);
    try {
      rows.push({ broker: broker.name, ...(await measureSteady(broker, opts)) });
    } finally {
      await broker.stop();
    }
  }
  writeResult('steady-brokers', { parameters: opts, runs: rows });
  const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : `${v}`);
  return {
    correct: rows.every((r) => r.correct),
    summary: [
      `${opts.rate.toLocaleString('en-US')} records/s offered for ${opts.seconds} s, ${PARTITIONS} partitions, streams ${opts.streams}, trigger 250ms, on each broker in turn.`,
      '',
      '| broker | offered records/s (achieved) | latency p50 ms | p99 ms | max ms | committed after load stopped, ms | tables exact |',
      '|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.broker} | ${r.achievedOfferedRate.toLocaleString('en-US')} | ${ms(r.latencyMs.p50)} | ${ms(r.latencyMs.p99)} | ${ms(r.latencyMs.max)} | ${ms(r.lagDrainMsAfterLoad)} | ${r.correct ? 'yes' : `**NO**: ${r.problems.join('; ')}`} |`),
    ],
    targets: [],
  };
}
