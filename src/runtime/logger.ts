/**
 * pino loggers for the runner: JSON lines on stderr (stdout carries the summary), synchronous
 * so the last lines before a crash are not lost. Stream workers build their own root logger
 * with the same settings and bind `{stream}`; batches bind `{batchId}`.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Levels `--log-level` accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A root logger writing to stderr, bound to the pipeline name. */
export function createLogger(level: LogLevel, pipeline: string): Logger {
  return pino(
    { level, base: { pipeline }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: true }),
  );
}
