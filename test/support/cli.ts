/**
 * The one way tests run the CLI: the built `bin/pipeline.js` in a child process, exactly as
 * users run it, synchronously for quick commands or as a child to watch and kill.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from './build.js';

/** Per-test timeout of end-to-end tests: several CLI runs each, on a shared 2-core machine. */
export const E2E_TIMEOUT = 240_000;

/** How a CLI run ended. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Where and with what environment the CLI runs. */
export interface CliOptions {
  /** Working directory (default the repository root). */
  cwd?: string;
  /** Variables added to the environment. */
  env?: Record<string, string>;
  /** Variables removed from the inherited environment (e.g. a KAFKA_BROKERS a spec would read). */
  unset?: string[];
  /** Start from an environment holding only PATH, so nothing of the caller's leaks in. */
  bare?: boolean;
  /** {@link cliSync} only: kill the CLI after this long (a synchronous run blocks the test's own timeout). */
  timeoutMs?: number;
}

function environment(o: CliOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = o.bare ? { PATH: process.env.PATH ?? '' } : { ...process.env };
  for (const name of o.unset ?? []) delete env[name];
  return { ...env, ...o.env };
}

/** Runs `pipeline <args>` to completion, synchronously. */
export function cliSync(args: string[], o: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: o.cwd ?? ROOT, encoding: 'utf8', env: environment(o), timeout: o.timeoutMs });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `pipeline <args>`; `done` resolves when it exits, and rejects (killing it) after `timeoutMs`. */
export function startCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
  o: Omit<CliOptions, 'env'> = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: o.cwd ?? ROOT,
    env: environment({ ...o, env: { PIPELINE_KAFKA_SESSION_TIMEOUT_MS: '6000', ...env } }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pipeline ${args.join(' ')} timed out; stderr tail:\n${stderr.slice(-3000)}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** Runs `pipeline <args>` to completion in a child process. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000, o: Omit<CliOptions, 'env'> = {}): Promise<CliResult> {
  return startCli(args, env, timeoutMs, o).done;
}

/** `pipeline run <spec> --available-now --summary-json` and the parsed summary. */
export async function runAvailableNow(spec: string, dir: string, env: Record<string, string> = {}, extra: string[] = []) {
  const summaryFile = join(dir, `summary-${Date.now()}.json`);
  const result = await runCli(['run', spec, '--available-now', '--log-level', 'warn', '--summary-json', summaryFile, ...extra], env);
  let summary: Record<string, any> | undefined;
  try {
    summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
  } catch {
    summary = undefined;
  }
  return { ...result, summary };
}

/** A node process under test: its exit, a SIGKILL, and a wait for a line on its stderr. */
export interface NodeChild {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill: () => void;
  stderrHas: (s: string) => Promise<void>;
}

/** Runs `node script ...args` in `cwd` with `env` added to this process's environment (for scripts other than the CLI). */
export function spawnNode(script: string, args: string[], cwd: string, env: Record<string, string> = {}): NodeChild {
  const p = spawn(process.execPath, [script, ...args], { cwd, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  const waiters: { s: string; resolve: () => void }[] = [];
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => {
    stderr += d;
    for (const w of waiters) if (stderr.includes(w.s)) w.resolve();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done, kill: () => p.kill('SIGKILL'), stderrHas: (s) => new Promise<void>((resolve) => (stderr.includes(s) ? resolve() : waiters.push({ s, resolve }))) };
}
