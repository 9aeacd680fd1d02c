/**
 * `pipeline run` of a staged pipeline: one job (`--job raw|bronze|gold`), or all three in one
 * process, isolated — a job that fails is reported and the others go on (raw keeps landing
 * while bronze is broken; gold keeps serving its last good state). With `--available-now`
 * the three run one after the other (raw, bronze, gold) so each catches up with the one
 * before; otherwise they run side by side until SIGINT/SIGTERM.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PipelineError } from '../errors.js';
import { Lake } from '../lake/index.js';
import type { Plan } from './plan.js';
import { JOB_NAMES, rawJobPlan, stagedJobs, type JobName, type StagedJobs } from './staged-plan.js';
import { acquireLock } from './checkpoint-lock.js';
import { createLogger } from './logger.js';
import { runPipeline, type RunOptions } from './runner.js';
import { runBronzeJob, runGoldJob, type JobResult } from './staged-jobs.js';
import type { RunSummary } from './summary.js';

/** How one job ended. */
export interface JobOutcome {
  job: JobName;
  status: 'completed' | 'stopped' | 'failed';
  /** Batches and records (bronze, gold), or the raw job's run summary. */
  result?: JobResult;
  summary?: RunSummary;
  error?: { code: string; message: string; hint?: string };
}

/** What a staged run reports. */
export interface StagedRunResult {
  pipeline: string;
  jobs: JobOutcome[];
  failed: JobName[];
}

/** Runs the named job of a staged plan, or all three; never throws for a job's failure. */
export async function runStaged(plan: Plan, opts: RunOptions, job?: JobName): Promise<StagedRunResult> {
  const jobs = stagedJobs(plan);
  if (!jobs) throw new PipelineError('PIPE_RUN_NOT_STAGED', `--job needs a staged pipeline; ${plan.pipeline} has mode: fused`, { hint: 'set mode: staged, or run without --job' });
  const logger = createLogger(opts.logLevel, plan.pipeline, { format: opts.logFormat });
  let stopped = false;
  const onSignal = () => {
    stopped = true;
  };
  const names = job ? [job] : [...JOB_NAMES];
  // The raw job's runner handles signals itself; bronze and gold finish their batch and stop.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const lake = await Lake.create({ threads: 2 });
  const runOne = async (name: JobName): Promise<JobOutcome> => {
    try {
      if (name === 'raw') {
        const summary = await runPipeline(rawJobPlan(plan), opts);
        return { job: name, status: summary.status === 'completed' ? 'completed' : 'stopped', summary };
      }
      const result = await withJobLock(jobs, name, () => {
        const run = { lake, logger, availableNow: opts.availableNow, stopped: () => stopped };
        return name === 'bronze' ? runBronzeJob(plan, jobs, run) : runGoldJob(plan, jobs, run);
      });
      return { job: name, status: stopped ? 'stopped' : 'completed', result };
    } catch (err) {
      const e = err instanceof PipelineError ? err : new PipelineError('PIPE_RUN_JOB', err instanceof Error ? err.message : String(err), { cause: err });
      logger.error({ job: name, code: e.code, err: e.message }, 'job failed; the other jobs go on');
      return { job: name, status: 'failed', error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } };
    }
  };
  const outcomes: JobOutcome[] = [];
  try {
    if (opts.availableNow) for (const name of names) outcomes.push(await runOne(name));
    else outcomes.push(...(await Promise.all(names.map(runOne))));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    lake.close();
  }
  return { pipeline: plan.pipeline, jobs: outcomes, failed: outcomes.filter((o) => o.status === 'failed').map((o) => o.job) };
}

/** One bronze (or gold) job per checkpoint: a second one would interleave batches. */
async function withJobLock<T>(jobs: StagedJobs, name: 'bronze' | 'gold', fn: () => Promise<T>): Promise<T> {
  const dir = name === 'bronze' ? jobs.bronze.checkpointPath : jobs.gold.checkpointPath;
  mkdirSync(dir, { recursive: true });
  const lock = acquireLock(dir, `checkpoint of the ${name} job (${join(dir)})`);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** The run's outcome as lines for a terminal. */
export function formatStagedResult(r: StagedRunResult): string {
  const lines = [`pipeline ${r.pipeline} (staged): ${r.failed.length === 0 ? 'ok' : `${r.failed.join(', ')} failed`}`];
  for (const o of r.jobs) {
    const what = o.summary
      ? `${o.summary.records} records in ${o.summary.batches} batches`
      : o.result
        ? `${o.result.records} rows in ${o.result.batches} batches${o.result.deadLettered ? `, ${o.result.deadLettered} dead-lettered` : ''}`
        : '';
    lines.push(`  ${o.job.padEnd(6)} ${o.status}${what ? `: ${what}` : ''}${o.error ? `: ${o.error.code} ${o.error.message}${o.error.hint ? ` (${o.error.hint})` : ''}` : ''}`);
  }
  return lines.join('\n');
}
