/**
 * pino loggers for the runner: JSON lines on stderr (stdout carries the summary), synchronous
 * so the last lines before a crash are not lost; `pretty` renders them for a human with
 * pino-pretty. Stream workers build their own root logger with the same settings and bind
 * `{stream}`; batches bind `{batchId}`. While a live progress block owns the terminal, lines
 * go to a sink that prints them above it.
 */
import { Writable } from 'node:stream';
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/** Levels `--log-level` accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Formats `--log-format` accepts. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Fields that may hold credentials, wherever a log line nests them: they are censored, not
 * printed (specs interpolate secrets from the environment into these).
 */
const REDACT_PATHS = ['password', 'sasl', '*.password', '*.sasl', '*.*.password', 'ssl.key', 'ssl.cert', '*.ssl.key', 'authorization', 'headers.authorization'];

/** Where log lines go: stderr unless a sink (the progress block, a worker's parent) is given. */
export interface LoggerOptions {
  format?: LogFormat;
  sink?: (text: string) => void;
  /** Colours in pretty output (a terminal). */
  colorize?: boolean;
}

/** A root logger bound to the pipeline name. */
export function createLogger(level: LogLevel, pipeline: string, opts: LoggerOptions = {}): Logger {
  const sink = opts.sink;
  const raw: DestinationStream = sink ? { write: (text: string) => sink(text) } : pino.destination({ fd: 2, sync: true });
  const destination = opts.format === 'pretty' ? pretty({ colorize: opts.colorize ?? false, sync: true, singleLine: true, ignore: 'pid,hostname,pipeline', destination: sink ? toWritable(sink) : 2 }) : raw;
  return pino({ level, base: { pipeline }, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}

/** pino-pretty pipes into a stream; this one hands every chunk to the sink. */
function toWritable(sink: (text: string) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      sink(chunk.toString());
      done();
    },
  });
}
