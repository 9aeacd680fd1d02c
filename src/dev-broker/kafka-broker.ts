/**
 * Apache Kafka 4.x for tests and benchmarks: one JVM in KRaft mode acting as broker and
 * controller, jars from Maven Central (see kafka-jars.ts), storage formatted in a temp
 * folder, listening on free loopback ports.
 *
 * The JVM runs under a small `sh` guard that kills it when the guard's stdin closes, so a
 * test process that dies never leaks a broker (the same rule as the mock broker's launcher).
 * `kill()` and `restart()` let fault tests take the real process down and bring it back on
 * the same ports and data.
 */
import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type ITopicConfig } from 'kafkajs';
import { SourceError } from '../errors.js';
import { ensureKafkaJars, KAFKA_VERSION } from './kafka-jars.js';
import { readRecordFile } from './record-file.js';

const execFileAsync = promisify(execFile);

/** A topic to create: partitions and topic-level configs (`cleanup.policy`, `segment.ms` …). */
export interface KafkaTopic {
  name: string;
  partitions: number;
  config?: Record<string, string>;
}

/** A running Apache Kafka. */
export interface KafkaBroker {
  /** `127.0.0.1:<port>`, to give a Kafka client. */
  bootstrap: string;
  /** The Apache Kafka release running. */
  version: string;
  /** A quiet kafkajs client for this broker (tests' admin and producers). */
  client(clientId?: string): Kafka;
  createTopics(topics: KafkaTopic[]): Promise<void>;
  /**
   * Produces a record file (see writeRecordFile) with kafkajs' Java-compatible partitioner;
   * `rate` paces it to about that many records per second (an offered load).
   */
  produceFile(topic: string, file: string, opts?: { rate?: number }): Promise<number>;
  /** SIGKILLs the JVM (a crash); `restart()` brings it back on the same ports and data. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the broker (SIGTERM, then SIGKILL after 20 s) and deletes its data; safe to call twice. */
  stop(): Promise<void>;
}

/** What to start. */
export interface StartKafkaOptions {
  topics?: KafkaTopic[];
  /** Extra `server.properties` lines (override the defaults below). */
  brokerConfig?: Record<string, string>;
  /** JVM heap limit. Default `384m`. */
  heap?: string;
  /** Milliseconds to wait for the broker to answer. Default 120 s (the first call downloads jars). */
  startTimeoutMs?: number;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Defaults sized for a 2-core test machine: few internal partitions, small cleaner buffer. */
function serverProperties(dataDir: string, port: number, controllerPort: number, extra: Record<string, string>): string {
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': join(dataDir, 'logs'),
    'auto.create.topics.enable': 'false',
    'num.partitions': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '4',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '4',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    'log.cleaner.dedupe.buffer.size': String(8 << 20),
    'log.cleaner.backoff.ms': '500',
    'log.retention.check.interval.ms': '1000',
    // No time-based retention unless a topic sets retention.ms. Kafka compares retention.ms with
    // the records' own timestamps, and generated events carry fixed event times (2026-01-01 on):
    // once the machine clock is a week past them, the retention task (first run 30 s after
    // start) deleted whole partitions mid-test, and the next run rightly stopped with
    // PIPE_SOURCE_DATA_LOSS, or a fresh run silently started past them.
    'log.retention.ms': '-1',
    'num.network.threads': '2',
    'num.io.threads': '2',
    'background.threads': '2',
    ...extra,
  };
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

const LOG4J2 = (file: string) => `status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = warn
logger.kafka.appenderRef.file.ref = file
logger.kafka.additivity = false
`;

/** Starts Apache Kafka `KAFKA_VERSION`; downloads its jars first when needed. */
/**
 * A random KRaft cluster id: 16 bytes, base64url, as Kafka makes them. Like Kafka's own
 * `Uuid.randomUuid()`, never one starting with `-`: the storage tool's argument parser would
 * read it as an option (`-t -y…` fails with "expected one argument").
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const libs = await ensureKafkaJars();
  const dataDir = mkdtempSync(join(tmpdir(), 'kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const propsFile = join(dataDir, 'server.properties');
  const logFile = join(dataDir, 'server.log');
  writeFileSync(propsFile, serverProperties(dataDir, port, controllerPort, opts.brokerConfig ?? {}));
  writeFileSync(join(dataDir, 'log4j2.properties'), LOG4J2(logFile));
  const jvm = [`-Xmx${opts.heap ?? '384m'}`, '-Xms64m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j2.configurationFile=${join(dataDir, 'log4j2.properties')}`, '-cp', `${libs}/*`];
  const clusterId = newClusterId();
  try {
    await execFileAsync('java', [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile], { timeout: 120_000 });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw new SourceError('PIPE_KAFKA_START', `formatting Kafka storage failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, { cause: err });
  }
  const bootstrap = `127.0.0.1:${port}`;
  const client = (clientId = 'test') =>
    new Kafka({ clientId, brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
  let proc: JvmProcess | undefined = await JvmProcess.start([...jvm, 'kafka.Kafka', propsFile], client, logFile, opts.startTimeoutMs ?? 120_000);

  const broker: KafkaBroker = {
    bootstrap,
    version: KAFKA_VERSION,
    client,
    async createTopics(topics) {
      const a = client('admin').admin();
      await a.connect();
      try {
        const toCreate: ITopicConfig[] = topics.map((t) => ({ topic: t.name, numPartitions: t.partitions, replicationFactor: 1, configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })) }));
        await a.createTopics({ topics: toCreate, waitForLeaders: true });
      } finally {
        await a.disconnect();
      }
    },
    async produceFile(topic, file, produceOpts) {
      // Idempotent: a send retried across a broker restart must not store a record twice.
      const producer = client('producer').producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const rate = produceOpts?.rate ?? 0;
      // Paced: twenty sends a second, each waiting for its slot.
      const chunkSize = rate > 0 ? Math.max(1, Math.min(5_000, Math.round(rate / 20))) : 5_000;
      const started = Date.now();
      let count = 0;
      try {
        let chunk: { key: Buffer | null; value: Buffer; timestamp?: string }[] = [];
        const flush = async () => {
          if (chunk.length === 0) return;
          const due = started + (count / rate) * 1000;
          if (rate > 0 && due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
          // A paced send carries the time it is sent, as a live producer's records do.
          const now = String(Date.now());
          await producer.send({ topic, messages: rate > 0 ? chunk.map((m) => ({ ...m, timestamp: now })) : chunk, acks: -1 });
          count += chunk.length;
          chunk = [];
        };
        for (const r of readRecordFile(file)) {
          chunk.push({ key: r.key, value: r.value, timestamp: r.timestamp === undefined ? undefined : String(r.timestamp) });
          if (chunk.length >= chunkSize) await flush();
        }
        await flush();
      } finally {
        await producer.disconnect();
      }
      return count;
    },
    async kill() {
      await proc?.stop('SIGKILL');
      proc = undefined;
    },
    async restart() {
      await proc?.stop('SIGTERM');
      proc = await JvmProcess.start([...jvm, 'kafka.Kafka', propsFile], client, logFile, opts.startTimeoutMs ?? 120_000);
    },
    async stop() {
      await proc?.stop('SIGTERM');
      proc = undefined;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    if (opts.topics?.length) await broker.createTopics(opts.topics);
    await warmGroupCoordinator(client);
  } catch (err) {
    await broker.stop();
    throw err;
  }
  return broker;
}

/**
 * The first group lookup makes the broker create `__consumer_offsets` and load its
 * partitions: tens of seconds on a loaded machine, which would otherwise count against the
 * first test's wait for a committed batch. Asked until the coordinator answers (90 s at most).
 */
async function warmGroupCoordinator(client: (id?: string) => Kafka): Promise<void> {
  const deadline = Date.now() + 90_000;
  const admin = client('warm-up').admin();
  await admin.connect();
  try {
    for (;;) {
      try {
        await admin.describeGroups(['warm-up']);
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** The guarded JVM: `sh` prints the java pid, and kills java when its stdin closes. */
class JvmProcess {
  private constructor(
    private readonly guard: ChildProcessWithoutNullStreams,
    private readonly javaPid: number,
    private readonly exited: Promise<void>,
  ) {}

  static async start(args: string[], client: (id?: string) => Kafka, logFile: string, timeoutMs: number): Promise<JvmProcess> {
    const script = 'java "$@" & j=$!; echo "PID $j"; cat >/dev/null; kill $j 2>/dev/null; wait $j';
    const guard = spawn('sh', ['-c', script, 'kafka-guard', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    guard.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    guard.stdin.on('error', () => {});
    let gone = false;
    const exited = new Promise<void>((resolve) => guard.on('exit', () => ((gone = true), resolve())));
    const javaPid = await new Promise<number>((resolve, reject) => {
      guard.stdout.setEncoding('utf8').once('data', (d: string) => {
        const m = /PID (\d+)/.exec(d);
        if (m) resolve(Number(m[1]));
        else reject(new SourceError('PIPE_KAFKA_START', `unexpected output of the Kafka guard: ${d}`));
      });
      guard.once('error', (err) => reject(new SourceError('PIPE_KAFKA_START', `cannot run sh/java: ${err.message}`, { cause: err })));
    });
    const proc = new JvmProcess(guard, javaPid, exited);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const admin = client('ready').admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length > 0) {
          await admin.disconnect();
          return proc;
        }
      } catch {
        await admin.disconnect().catch(() => {});
      }
      if (gone || Date.now() > deadline) {
        await proc.stop('SIGKILL');
        let log = '';
        try {
          log = readFileSync(logFile, 'utf8').slice(-3000);
        } catch {}
        throw new SourceError('PIPE_KAFKA_START', `Apache Kafka ${gone ? 'exited' : `not ready after ${timeoutMs} ms`}: ${stderr.trim()} ${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  /** Signals the JVM and waits for the guard to exit (SIGKILL after 20 s). */
  async stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    try {
      process.kill(this.javaPid, signal);
    } catch {}
    const timer = setTimeout(() => {
      try {
        process.kill(this.javaPid, 'SIGKILL');
      } catch {}
    }, 20_000);
    this.guard.stdin.end();
    await this.exited;
    clearTimeout(timer);
  }
}
