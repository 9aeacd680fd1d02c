#!/usr/bin/env node
/**
 * `pipeline` entry point: picks a command, runs it, maps failures to exit codes.
 * Commands live one per file in `./commands/` and are loaded lazily so `--help` is instant.
 * Exit codes: 0 ok, 1 invalid input or failed run, 2 usage error, 3 unsafe diff.
 */
import { describeError, UsageError } from '../errors.js';

/** A command module: `run` returns the process exit code. */
export interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, () => Promise<{ command: Command }>> = {
  validate: () => import('./commands/validate.js'),
  plan: () => import('./commands/plan.js'),
  diff: () => import('./commands/diff.js'),
  test: () => import('./commands/test.js'),
  verify: () => import('./commands/verify.js'),
  run: () => import('./commands/run.js'),
  replay: () => import('./commands/replay.js'),
  status: () => import('./commands/status.js'),
  report: () => import('./commands/report.js'),
  top: () => import('./commands/top.js'),
  table: () => import('./commands/table.js'),
  deadletter: () => import('./commands/deadletter.js'),
  'dev-broker': () => import('./commands/dev-broker.js'),
  demo: () => import('./commands/demo.js'),
};

async function help(): Promise<string> {
  const lines = ['Usage: pipeline <command> [options]', '', 'Commands:'];
  for (const [name, load] of Object.entries(commands)) {
    const { command } = await load();
    lines.push(`  ${name.padEnd(12)} ${command.summary}`);
  }
  lines.push('', 'Run `pipeline <command> --help` for a command\'s options.');
  return lines.join('\n');
}

/** Runs the CLI with the given arguments and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await help());
    return 0;
  }
  if (name === '--version') {
    const { createRequire } = await import('node:module');
    console.log(createRequire(import.meta.url)('../../../package.json').version);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    console.error(`pipeline: unknown command '${name}'\n\n${await help()}`);
    return 2;
  }
  const { command } = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`pipeline ${name}: ${err.message}\n\n${command.usage}`);
      return 2;
    }
    console.error(`pipeline ${name}: error ${describeError(err)}`);
    if (process.env.PIPELINE_DEBUG && err instanceof Error) console.error(err.stack);
    return 1;
  }
}

// Exit explicitly: a client library's sockets or retry timers (e.g. kafkajs after a failed
// handshake) must not keep a finished command alive. stdout/stderr are synchronous on Linux
// pipes, files and terminals, so nothing printed is lost.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
