/**
 * Shared benchmark plumbing: where results go, what machine produced them, and how a child
 * process is timed (wall, CPU seconds, peak RSS) without the harness's own cost leaking in.
 */
import { spawn } from 'node:child_process';
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (bench/ compiles to dist/bench/, so walk up to package.json's folder). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const resultsDir = join(repoRoot, 'bench', 'results');
export const cliPath = join(repoRoot, 'bin', 'pipeline.js');

/** Facts recorded with every result so figures are comparable across runs. */
export function machineInfo(): Record<string, unknown> {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    // not a git checkout: keep 'unknown'
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    commit,
    date: new Date().toISOString(),
  };
}

/** Writes `bench/results/<name>.json` and returns its path. */
export function writeResult(name: string, result: Record<string, unknown>): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ scenario: name, machine: machineInfo(), ...result }, null, 2) + '\n');
  return file;
}

export interface TimedRun {
  code: number;
  wallSeconds: number;
  cpuSeconds: number;
  peakRssMB: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command under GNU time so CPU and peak RSS are the child's own (threads included).
 * Output is captured, not streamed, except that stderr progress is forwarded when `echo` is set.
 */
export function timed(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; echo?: boolean } = {}): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'TIME %e %U %S %M', cmd, ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (opts.echo) process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(stderr);
      resolve({
        code: code ?? 1,
        wallSeconds: m ? Number(m[1]) : NaN,
        cpuSeconds: m ? Math.round((Number(m[2]) + Number(m[3])) * 100) / 100 : NaN,
        peakRssMB: m ? Math.round(Number(m[4]) / 1024) : NaN,
        stdout,
        stderr: m ? stderr.slice(0, m.index) : stderr,
      });
    });
  });
}

/** Rounds for reports: keeps 3 significant digits. */
export function round(n: number): number {
  if (!Number.isFinite(n)) return n;
  return Number(n.toPrecision(3));
}

/** Percentile of an ascending-sorted array (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/** Writes a human summary line to stderr as the bench progresses. */
export function say(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}
