/**
 * Argument parsing shared by every command: `node:util` parseArgs with unknown flags and
 * missing values turned into UsageError (exit code 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses argv strictly; `--set path=value` may repeat on every command that loads a spec. */
export function parseCommandArgs<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError('PIPE_CLI_USAGE', (err as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
}

/** The `--set` option definition, shared by commands that load specs. */
export const setOption = { set: { type: 'string', multiple: true } } as const;
