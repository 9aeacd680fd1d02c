/**
 * Crash injection for recovery tests: `PIPELINE_FAILPOINT=<name>[:<n>]` SIGKILLs the whole
 * process the n-th time (default 1st) any stream reaches the named point. The counter lives
 * in a SharedArrayBuffer handed to every stream worker, so "n-th" counts across streams.
 * When the variable is unset, `failpoint()` is one comparison.
 */
import { PipelineError } from '../errors.js';

/** The points a batch passes, in order. */
export const FAILPOINTS = ['batch.after-offsets', 'batch.after-table-commit', 'batch.before-checkpoint-commit'] as const;
/** Points only `deadletter replay` passes (kept apart: a `run` never reaches them). */
export const REPLAY_FAILPOINTS = ['replay.before-marks'] as const;
/** Points only a run with `append` windows passes: right after the emitter's window table commit. */
export const WINDOW_FAILPOINTS = ['windows.after-emit'] as const;
export type FailpointName = (typeof FAILPOINTS)[number] | (typeof REPLAY_FAILPOINTS)[number] | (typeof WINDOW_FAILPOINTS)[number];
const ALL_FAILPOINTS: readonly string[] = [...FAILPOINTS, ...REPLAY_FAILPOINTS, ...WINDOW_FAILPOINTS];

interface Armed {
  name: FailpointName;
  n: number;
}

/**
 * Parses `name[:n]`. Names of other layers' fail points (the lake has its own) are not ours
 * and parse to undefined; a malformed count is an error so a crash test cannot pass silently.
 */
export function parseFailpoint(text: string | undefined): Armed | undefined {
  if (!text) return undefined;
  const [name, count, ...rest] = text.trim().split(':');
  if (!ALL_FAILPOINTS.includes(name!)) return undefined;
  if (rest.length > 0 || (count !== undefined && !/^[1-9]\d*$/.test(count))) {
    throw new PipelineError('PIPE_RUN_FAILPOINT', `malformed PIPELINE_FAILPOINT '${text}'`, { hint: `use <name>[:<n>] with n >= 1, name one of ${ALL_FAILPOINTS.join(', ')}` });
  }
  return { name: name as FailpointName, n: Number(count ?? 1) };
}

const armed = parseFailpoint(process.env.PIPELINE_FAILPOINT);
let counter = new Int32Array(new SharedArrayBuffer(4));

/** Creates the shared counter (main thread) to hand to workers. */
export function createFailpointCounter(): SharedArrayBuffer {
  return counter.buffer as SharedArrayBuffer;
}

/** Adopts the main thread's counter (stream worker). */
export function useFailpointCounter(shared: SharedArrayBuffer): void {
  counter = new Int32Array(shared);
}

/** Kills the process when `name` is armed and this is its n-th arrival. */
export function failpoint(name: FailpointName): void {
  if (armed === undefined || armed.name !== name) return;
  if (Atomics.add(counter, 0, 1) + 1 === armed.n) {
    process.kill(process.pid, 'SIGKILL');
    // Never run past the point while the signal is delivered.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
  }
}
