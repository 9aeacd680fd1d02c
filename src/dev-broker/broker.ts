/**
 * TypeScript driver of the test broker: starts the compiled `mock-broker` launcher, waits for
 * `READY <bootstrap>`, and exchanges one-line commands with it (fault injection, fast produce).
 *
 * The launcher exits when its stdin closes, so a test process that dies never leaks a broker
 * (it also gets SIGTERM when the thread that started it exits: start it from a main thread,
 * not from a worker thread that may end first).
 * librdkafka 2.0.2 cannot choose the mock's listening port; when a fixed `port` is asked for,
 * this driver listens on it and forwards each connection to the mock's bootstrap listener.
 * Clients then follow the advertised `127.0.0.1:<ephemeral>` broker addresses from metadata,
 * so only clients on this machine can use it (which is all a development broker is for).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { SourceError } from '../errors.js';
import { ensureMockBroker } from './build.js';
import { startPortForwarder, type PortForwarder } from './port-forward.js';

/** A running test broker. `command` resolves with the `OK …` reply and rejects on `ERR …`. */
export interface TestBroker {
  /** Comma-separated `host:port` list to give a Kafka client. */
  bootstrap: string;
  /** Sends one raw launcher command (see mock-broker.c) and returns its `OK …` reply. */
  command(line: string): Promise<string>;
  /**
   * Produces a record file written by {@link writeRecordFile}; resolves with the delivered count.
   * With `rate` (records/s) sending is paced and every record is stamped with its send time.
   * `compression` packs more records into the broker's ~5 MiB per partition; kafkajs reads
   * only `gzip` without extra codec packages.
   */
  produceFile(topic: string, file: string, opts?: { compression?: Compression; rate?: number }): Promise<number>;
  /** Takes broker `id` (1-based) off the network: its connections drop, new ones are refused. */
  down(id: number): Promise<void>;
  /** Brings broker `id` back. */
  up(id: number): Promise<void>;
  /** Delays every response of broker `id` by `ms`. */
  rtt(id: number, ms: number): Promise<void>;
  /** Fails the next `count` requests of Kafka API `apiKey` with `errorCode` (Kafka protocol codes). */
  pushErrors(apiKey: number, errorCode: number, count: number): Promise<void>;
  /** Moves the leadership of one partition to broker `id`. */
  setLeader(topic: string, partition: number, id: number): Promise<void>;
  /** Stops the broker; safe to call twice. */
  stop(): Promise<void>;
}

/** Record batch compression of the launcher's producer. */
export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** What to start: broker count (default 1), topics to create, and an optional fixed port. */
export interface StartBrokerOptions {
  brokers?: number;
  topics: { name: string; partitions: number }[];
  /** Serve the bootstrap on `localhost:<port>` (forwarded; see the module comment). */
  port?: number;
  /** Milliseconds to wait for `READY`. Default 30 s (the first call may compile the launcher). */
  startTimeoutMs?: number;
}

/** Starts a test broker; compiles the launcher first when needed. */
export async function startBroker(opts: StartBrokerOptions): Promise<TestBroker> {
  const binary = await ensureMockBroker();
  const args = ['--brokers', String(opts.brokers ?? 1)];
  for (const t of opts.topics) args.push('--topic', `${t.name}:${t.partitions}`);
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const session = new LauncherSession(child);
  const mockBootstrap = await session.ready(opts.startTimeoutMs ?? 30_000);
  let forwarder: PortForwarder | undefined;
  if (opts.port !== undefined) {
    try {
      forwarder = await startPortForwarder(opts.port, mockBootstrap.split(','));
    } catch (err) {
      await session.stop();
      throw err;
    }
  }
  const ok = async (line: string) => {
    await session.command(line);
  };
  return {
    bootstrap: forwarder ? `localhost:${forwarder.port}` : mockBootstrap,
    command: (line) => session.command(line),
    async produceFile(topic, file, produceOpts) {
      if (/\s/.test(topic) || /\s/.test(file)) throw new SourceError('PIPE_BROKER_COMMAND', 'topic and file path must not contain whitespace');
      const rate = produceOpts?.rate ?? 0;
      const reply = await session.command(`produce ${topic} ${file} ${produceOpts?.compression ?? 'none'}${rate > 0 ? ` ${Math.round(rate)}` : ''}`);
      return Number(/^OK produced (\d+)/.exec(reply)?.[1] ?? NaN);
    },
    down: (id) => ok(`down ${id}`),
    up: (id) => ok(`up ${id}`),
    rtt: (id, ms) => ok(`rtt ${id} ${ms}`),
    pushErrors: (apiKey, code, count) => ok(`error ${apiKey} ${code} ${count}`),
    setLeader: (topic, partition, id) => ok(`leader ${topic} ${partition} ${id}`),
    async stop() {
      await forwarder?.close();
      await session.stop();
    },
  };
}

/** Owns the child process: line protocol, FIFO of pending replies, stderr tail for errors. */
class LauncherSession {
  private readonly waiting: { resolve(line: string): void; reject(err: Error): void }[] = [];
  private readonly lines: string[] = [];
  private stderrTail = '';
  private exited = false;
  private readonly exit: Promise<void>;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
    });
    // EPIPE after the launcher died is reported through `exit`, not as an unhandled error.
    child.stdin.on('error', () => {});
    createInterface({ input: child.stdout }).on('line', (line) => {
      const next = this.waiting.shift();
      if (next) next.resolve(line);
      else this.lines.push(line);
    });
    this.exit = new Promise((resolve) => {
      const onGone = (why: string) => {
        if (this.exited) return;
        this.exited = true;
        const err = new SourceError('PIPE_BROKER_EXITED', `test broker ${why}${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}`);
        for (const w of this.waiting.splice(0)) w.reject(err);
        resolve();
      };
      child.on('exit', (code, signal) => onGone(`exited (${signal ?? `code ${code}`})`));
      child.on('error', (err) => onGone(`could not run (${err.message})`));
    });
  }

  private nextLine(): Promise<string> {
    const buffered = this.lines.shift();
    if (buffered !== undefined) return Promise.resolve(buffered);
    if (this.exited) return Promise.reject(new SourceError('PIPE_BROKER_EXITED', 'test broker is not running'));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  async ready(timeoutMs: number): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SourceError('PIPE_BROKER_START', `test broker not ready after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const line = await Promise.race([this.nextLine(), timeout]);
      const match = /^READY (\S+)$/.exec(line);
      if (!match) throw new SourceError('PIPE_BROKER_START', `unexpected first line from the test broker: ${line}`);
      return match[1]!;
    } catch (err) {
      await this.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Commands are answered in order, so writing and then awaiting the next line pairs them. */
  async command(line: string): Promise<string> {
    if (/[\r\n]/.test(line)) throw new SourceError('PIPE_BROKER_COMMAND', 'a broker command is a single line');
    if (this.exited) throw new SourceError('PIPE_BROKER_EXITED', 'test broker is not running');
    const reply = this.nextLine();
    this.child.stdin.write(`${line}\n`);
    const answer = await reply;
    if (answer.startsWith('ERR')) throw new SourceError('PIPE_BROKER_COMMAND', `test broker refused '${line}': ${answer.slice(4)}`);
    return answer;
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exit;
      clearTimeout(timer);
    }
  }
}

/** One record of a record file. A missing timestamp is written as -1 (producer time). */
export interface FileRecord {
  key: Buffer | string | null;
  value: Buffer | string;
  timestamp?: number;
}

const NULL_LENGTH = 0xffffffff;
const CHUNK = 1 << 20;

/**
 * Writes records in the launcher's binary framing (u32 key length or 0xFFFFFFFF for null, key,
 * u32 value length, value, i64 timestamp ms), streamed through a 1 MiB buffer.
 * Resolves with the number of records written.
 */
export async function writeRecordFile(file: string, records: Iterable<FileRecord>): Promise<number> {
  const handle = await open(file, 'w');
  let buf = Buffer.allocUnsafe(CHUNK);
  let used = 0;
  let count = 0;
  const flush = async () => {
    if (used > 0) await handle.write(buf, 0, used);
    used = 0;
  };
  try {
    for (const record of records) {
      const key = record.key;
      const keyLength = key === null ? 0 : typeof key === 'string' ? Buffer.byteLength(key) : key.length;
      const valueLength = typeof record.value === 'string' ? Buffer.byteLength(record.value) : record.value.length;
      const need = 16 + keyLength + valueLength;
      if (used + need > buf.length) {
        await flush();
        if (need > buf.length) buf = Buffer.allocUnsafe(need);
      }
      used = buf.writeUInt32BE(key === null ? NULL_LENGTH : keyLength, used);
      if (key !== null) used += typeof key === 'string' ? buf.write(key, used) : key.copy(buf, used);
      used = buf.writeUInt32BE(valueLength, used);
      used += typeof record.value === 'string' ? buf.write(record.value, used) : record.value.copy(buf, used);
      const ts = record.timestamp ?? -1;
      if (ts < 0) {
        used = buf.writeInt32BE(-1, used);
        used = buf.writeInt32BE(-1, used);
      } else {
        used = buf.writeUInt32BE(Math.floor(ts / 0x1_0000_0000), used);
        used = buf.writeUInt32BE(ts % 0x1_0000_0000, used);
      }
      count++;
    }
    await flush();
  } finally {
    await handle.close();
  }
  return count;
}
