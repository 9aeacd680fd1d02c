/**
 * `pipeline dev-broker`: a local Kafka-protocol broker for development. Starts the test
 * broker, creates the topic, optionally loads generated commerce events, prints how to point
 * a spec at it, and runs until Ctrl-C. Lines typed on stdin are passed to the broker as
 * fault-injection commands (`down 1`, `up 1`, `rtt 1 200`, `error 1 6 3`).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from '../main.js';
import { parseCommandArgs } from '../args.js';
import { describeError, UsageError } from '../../errors.js';
import { startBroker, writeRecordFile, type TestBroker } from '../../dev-broker/broker.js';
import { generateEvents } from '../../dev-broker/events.js';

const usage = `Usage: pipeline dev-broker [options]

Runs a local Kafka-protocol broker (librdkafka's mock cluster) until Ctrl-C.

Options:
  --port <n>        bootstrap port on localhost (default 9092; 0 picks a free one)
  --topic <name>    topic to create (default events_topic)
  --partitions <n>  partitions of the topic (default 50)
  --brokers <n>     brokers in the cluster (default 1)
  --events <n>      produce n generated commerce events to the topic (default 0)
  --seed <n>        seed of the event generator (default 1)
  --compression <c> batch compression of --events: none (default) or gzip; with gzip,
                    1,000,000 events fit in 16 partitions instead of ~60

While it runs, type a command and Enter to inject faults:
  down <broker> | up <broker> | rtt <broker> <ms> | error <apiKey> <errorCode> <count>
  leader <topic> <partition> <broker>

Test broker limits: about 5 MB of record batches per partition (older data ages out),
no CreateTopics, no DescribeGroups. Use a real Kafka or Redpanda cluster for production.`;

/**
 * librdkafka's mock keeps 5 MiB of record batches per partition; the record file is a little
 * smaller than the batches it becomes, so warn a bit below the limit.
 */
const RETAINED_BYTES_PER_PARTITION = 4.5 * 1048576;

function integer(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError('PIPE_CLI_USAGE', `--${flag} must be an integer in [${min}, ${max}], got '${value}'`);
  return n;
}

/** Generates and produces `count` events, reporting progress on stderr. */
async function loadEvents(broker: TestBroker, topic: string, partitions: number, count: number, seed: number, compression: 'none' | 'gzip'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pipeline-dev-broker-'));
  try {
    const file = join(dir, 'events.bin');
    const started = Date.now();
    console.error(`generating ${count} commerce events (seed ${seed})...`);
    await writeRecordFile(file, generateEvents({ count, seed }));
    console.error(`producing to '${topic}'...`);
    const produced = await broker.produceFile(topic, file, { compression });
    console.error(`produced ${produced} events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const perPartition = statSync(file).size / partitions;
    if (compression === 'none' && perPartition > RETAINED_BYTES_PER_PARTITION) {
      console.error(
        `warning: ~${(perPartition / 1048576).toFixed(1)} MiB per partition exceeds what the test broker keeps (~5 MiB); ` +
          `the oldest events aged out. Use more --partitions (at least ${Math.ceil(statSync(file).size / RETAINED_BYTES_PER_PARTITION)}) to keep them all.`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const command: Command = {
  summary: 'Run a local Kafka-protocol test broker, optionally loaded with sample events',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      port: { type: 'string' },
      topic: { type: 'string' },
      partitions: { type: 'string' },
      brokers: { type: 'string' },
      events: { type: 'string' },
      seed: { type: 'string' },
      compression: { type: 'string' },
    });
    if (positionals.length) throw new UsageError('PIPE_CLI_USAGE', `unexpected argument '${positionals[0]}'`);
    const port = integer(values.port, 'port', 9092, 0, 65535);
    const topic = values.topic ?? 'events_topic';
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) throw new UsageError('PIPE_CLI_USAGE', `--topic '${topic}' is not a valid Kafka topic name`);
    const partitions = integer(values.partitions, 'partitions', 50, 1, 10_000);
    const brokers = integer(values.brokers, 'brokers', 1, 1, 32);
    const events = integer(values.events, 'events', 0, 0, 100_000_000);
    const seed = integer(values.seed, 'seed', 1, 0, 2 ** 32 - 1);
    const compression = values.compression ?? 'none';
    // Only gzip: kafkajs, which the runner reads with, decodes no other codec without plugins.
    if (compression !== 'none' && compression !== 'gzip') throw new UsageError('PIPE_CLI_USAGE', `--compression must be none or gzip, got '${compression}'`);

    const broker = await startBroker({ brokers, port, topics: [{ name: topic, partitions }] });
    let stopping: Promise<void> | undefined;
    const stop = () => (stopping ??= broker.stop());
    try {
      if (events > 0) await loadEvents(broker, topic, partitions, events, seed, compression);
      console.log(`Kafka test broker ready: ${broker.bootstrap}`);
      console.log(`  topic '${topic}' with ${partitions} partition(s) on ${brokers} broker(s)`);
      console.log(`  run a pipeline against it:  KAFKA_BROKERS=${broker.bootstrap} pipeline run pipelines/commerce-events.yaml`);
      console.log('  type fault commands (down 1, up 1, rtt 1 200, error <apiKey> <code> <count>); Ctrl-C stops');
      // A closed stdin (e.g. `< /dev/null` under a service manager) must not stop the broker.
      const lines = createInterface({ input: process.stdin });
      lines.on('line', (line) => {
        if (!line.trim()) return;
        broker.command(line.trim()).then(
          (reply) => console.log(reply),
          (err) => console.error(describeError(err)),
        );
      });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      lines.close();
      process.stdin.destroy();
      console.error('stopping the test broker');
    } finally {
      await stop();
    }
    return 0;
  },
};
