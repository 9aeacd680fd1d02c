/**
 * Builds kafkajs clients from the spec's `source.kafka` (brokers, SSL, SASL) and routes
 * kafkajs' own logs into pino. kafkajs is chatty at INFO (every pause, every join), so its
 * lines are shown one level lower than the runner's level.
 */
import { Kafka, logLevel as KafkaLogLevel, type Admin, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { pino } from 'pino';
import type { KafkaSourceSpec } from '../spec/index.js';
import { PipelineError, SourceError } from '../errors.js';
import type { Logger } from './logger.js';

function saslOptions(spec: KafkaSourceSpec): SASLOptions | undefined {
  if (!spec.sasl) return undefined;
  const { mechanism, username, password } = spec.sasl;
  return { mechanism, username, password } as SASLOptions;
}

/** The kafkajs level whose lines survive the one-level-lower mapping at the logger's level. */
function kafkaLogLevel(log: Logger): KafkaLogLevel {
  if (log.isLevelEnabled('trace')) return KafkaLogLevel.DEBUG;
  if (log.isLevelEnabled('debug')) return KafkaLogLevel.INFO;
  if (log.isLevelEnabled('info')) return KafkaLogLevel.WARN;
  if (log.isLevelEnabled('warn')) return KafkaLogLevel.ERROR;
  return KafkaLogLevel.NOTHING;
}

/** What kafkajs logs when a fetch answered "offset out of range" and it moved the consumer itself. */
const OFFSET_RESET_MESSAGE = 'Offset out of range, resetting to default offset';

/** Hooks into what kafkajs does on its own. */
export interface KafkaClientHooks {
  /**
   * A fetch of `partition` was answered "offset out of range" (retention deleted the records at
   * the consumer's position, or the log was truncated) and kafkajs moved the consumer to the
   * earliest offset without asking. kafkajs only logs it, so the log line is the signal.
   */
  onOffsetReset?(topic: string, partition: number): void;
}

/**
 * A kafkajs client for `spec`; `clientId` defaults to the spec's or `pipeline`. `retries`
 * bounds how long an unreachable cluster is retried (the consumers ride out long outages; the
 * start-up metadata read should fail fast on a wrong address).
 */
export function createKafka(spec: KafkaSourceSpec, logger: Logger, clientId?: string, retries = 30, hooks: KafkaClientHooks = {}): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  const { onOffsetReset } = hooks;
  const level = kafkaLogLevel(log);
  const config: KafkaConfig = {
    clientId: clientId ?? spec.clientId ?? 'pipeline',
    brokers: spec.brokers,
    ssl: spec.ssl ?? false,
    sasl: saslOptions(spec),
    connectionTimeout: 10_000,
    requestTimeout: 30_000,
    // Broker outages of tens of seconds are ridden out here rather than failing the run.
    retry: { retries, initialRetryTime: 200, maxRetryTime: 5_000 },
    // Only what the mapping below can show: kafkajs builds a log entry for every request at DEBUG.
    // The offset-reset line is at ERROR: it must reach the hook whatever the runner's level.
    logLevel: onOffsetReset ? Math.max(level, KafkaLogLevel.ERROR) : level,
    logCreator: () => ({ level: entryLevel, log: entry }) => {
      const { message, ...extra } = entry as { message: string } & Record<string, unknown>;
      delete extra.timestamp;
      delete extra.logger;
      if (onOffsetReset && message === OFFSET_RESET_MESSAGE && typeof extra.topic === 'string' && typeof extra.partition === 'number') {
        onOffsetReset(extra.topic, extra.partition);
      }
      if (entryLevel > level) return;
      if (entryLevel === KafkaLogLevel.ERROR) log.warn(extra, message);
      else if (entryLevel === KafkaLogLevel.WARN) log.info(extra, message);
      else if (entryLevel === KafkaLogLevel.INFO) log.debug(extra, message);
      else log.trace(extra, message);
    },
  };
  return new Kafka(config);
}

/**
 * Partition count and low/high offsets of `topic`, from metadata and ListOffsets only. From
 * {@link fetchTopicOffsets}, `high` is the end a read-committed consumer can reach: the last
 * stable offset, below any open transaction; from {@link readTopicOffsets} (lag) it is the
 * high watermark.
 */
export interface TopicOffsets {
  partitions: number;
  low: Map<number, number>;
  high: Map<number, number>;
}

interface ListOffsetsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  fetchTopicsOffset(topics: { topic: string; partitions: { partition: number }[]; fromBeginning: boolean }[]): Promise<{ partitions: { partition: number; offset: string }[] }[]>;
}

/**
 * Last stable offsets (ListOffsets with read_committed isolation). kafkajs' admin lists
 * offsets read-uncommitted, which ends at the high watermark: an `--available-now` run would
 * then wait for records of an open transaction that its read-committed consumer never gets.
 * kafkajs builds read-committed clusters only for consumers, so its cluster factory is used
 * directly; `undefined` when this kafkajs version does not have it.
 */
async function fetchStableOffsets(kafka: Kafka, topic: string, partitions: number[]): Promise<Map<number, number> | undefined> {
  const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const createCluster = key && (kafka as unknown as Record<symbol, unknown>)[key];
  if (typeof createCluster !== 'function') return undefined;
  const READ_COMMITTED = 1;
  const cluster = (createCluster as (o: object) => ListOffsetsCluster)({ allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED });
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    const [result] = await cluster.fetchTopicsOffset([{ topic, partitions: partitions.map((partition) => ({ partition })), fromBeginning: false }]);
    return new Map(result!.partitions.map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await cluster.disconnect().catch(() => {});
  }
}

/**
 * Reads the topic's partition count and watermarks with the admin client. Only Metadata and
 * ListOffsets are used: some brokers (the local test broker among them) lack the group and
 * topic admin APIs.
 */
export async function fetchTopicOffsets(kafka: Kafka, topic: string): Promise<TopicOffsets> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await readTopicOffsets(admin, topic);
    // Where a read-committed consumer can get to: start positions and --available-now ends.
    const stable = await fetchStableOffsets(kafka, topic, [...offsets.high.keys()]);
    return stable ? { ...offsets, high: stable } : offsets;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** {@link fetchTopicOffsets} over an admin client the caller keeps connected (lag refreshes). */
export async function readTopicOffsets(admin: Admin, topic: string): Promise<TopicOffsets> {
  let partitions: number;
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    partitions = meta.topics[0]?.partitions.length ?? 0;
  } catch (err) {
    if ((err as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION') {
      throw new SourceError('PIPE_SOURCE_TOPIC', `topic '${topic}' does not exist`, {
        hint: 'create it first, or fix source.kafka.topic',
        cause: err,
      });
    }
    throw err;
  }
  if (partitions === 0) {
    throw new SourceError('PIPE_SOURCE_TOPIC', `topic '${topic}' has no partitions`, { hint: 'create it first, or fix source.kafka.topic' });
  }
  const offsets = await admin.fetchTopicOffsets(topic);
  const low = new Map<number, number>();
  const high = new Map<number, number>();
  for (const o of offsets) {
    low.set(o.partition, Number(o.low));
    high.set(o.partition, Number(o.high));
  }
  return { partitions, low, high };
}

/** {@link fetchTopicOffsets} for a command start: a broker that cannot be reached ends in PIPE_SOURCE_CONNECT. */
export async function fetchTopicOffsetsOrExplain(kafka: Kafka, spec: KafkaSourceSpec): Promise<TopicOffsets> {
  return fetchTopicOffsets(kafka, spec.topic).catch((err: unknown) => {
    if (err instanceof PipelineError) throw err;
    throw new SourceError('PIPE_SOURCE_CONNECT', `cannot read topic '${spec.topic}' from ${spec.brokers.join(',')}: ${(err as Error).message}`, {
      cause: err,
      hint: 'check source.kafka.brokers, ssl and sasl, and that the brokers are up',
    });
  });
}

/**
 * The topic's offsets when the broker answers, else why not. For audits and reviews that
 * are still useful without a broker: one quick attempt, no retries, nothing logged.
 */
export async function probeTopicOffsets(spec: KafkaSourceSpec, clientId: string): Promise<TopicOffsets | { unreachable: string }> {
  const kafka = createKafka(spec, pino({ level: 'silent' }), clientId, 0);
  try {
    return await fetchTopicOffsets(kafka, spec.topic);
  } catch (err) {
    return { unreachable: (err as Error).message };
  }
}
