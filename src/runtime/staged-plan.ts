/**
 * `mode: staged`: the same spec as three jobs split at table boundaries. raw lands Kafka
 * records as bytes; bronze reads the raw table by Delta version, decodes, validates and routes
 * into one bronze table per gold table (plus the dead-letter table); gold reads each bronze
 * table by version and merges it into its gold table on its own interval. Each job has its
 * own checkpoint and txn app ids, so each resumes on its own. Pure functions of the plan.
 */
import { SpecError } from '../errors.js';
import { joinLocation } from '../lake/storage/location.js';
import { kafkaSource, parseDuration, sourceName } from '../spec/index.js';
import type { PipelineSpec, RawStageSpec, StageSpec } from '../spec/index.js';
import { join } from 'node:path';
import type { Plan } from './plan.js';

/** The jobs of a staged pipeline, in data-flow order. */
export const JOB_NAMES = ['raw', 'bronze', 'gold'] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** Most source versions one bronze or gold batch reads. */
export const MAX_VERSIONS_PER_BATCH = 1000;

/** Where the raw table of a pipeline lives, relative to `output.path`. */
export const RAW_DIR = '_raw';
/** Where the bronze tables live, relative to `output.path`. */
export const BRONZE_DIR = '_bronze';

/** One bronze table: what bronze writes and gold reads for one gold table. */
export interface BronzeTable {
  table: string;
  /** Absolute location. */
  path: string;
  /** As the spec spells it (renders). */
  specPath: string;
}

/** What each job reads, writes and keeps. */
export interface StagedJobs {
  raw: { path: string; specPath: string; streams: number; trigger: Plan['trigger']; checkpointPath: string; partitionByDate: boolean };
  bronze: { tables: BronzeTable[]; trigger: Plan['trigger']; checkpointPath: string; appId: string };
  gold: { trigger: Plan['trigger']; checkpointPath: string; appId: string };
}

function stageTrigger(plan: Plan, stage: RawStageSpec | StageSpec | undefined): Plan['trigger'] {
  const t: { interval?: string; maxRecordsPerBatch?: number } | undefined = stage?.trigger;
  return {
    intervalMs: t?.interval !== undefined ? parseDuration(t.interval) : plan.trigger.intervalMs,
    maxRecordsPerBatch: t?.maxRecordsPerBatch ?? plan.trigger.maxRecordsPerBatch,
  };
}

/** The jobs of a staged plan; undefined for a fused one. */
export function stagedJobs(plan: Plan): StagedJobs | undefined {
  const spec = plan.spec;
  if (spec.mode !== 'staged') return undefined;
  const stages = spec.stages ?? {};
  const out = spec.output.path.replace(/\/+$/, '');
  return {
    raw: {
      path: joinLocation(joinLocation(plan.outputPath, RAW_DIR), plan.pipeline),
      specPath: `${out}/${RAW_DIR}/${plan.pipeline}`,
      streams: stages.raw?.streams ?? spec.streams,
      trigger: stageTrigger(plan, stages.raw),
      checkpointPath: join(plan.checkpointPath, 'raw'),
      partitionByDate: stages.raw?.partitionByDate ?? false,
    },
    bronze: {
      tables: plan.sinks.map((s) => ({ table: s.table, path: joinLocation(joinLocation(plan.outputPath, BRONZE_DIR), s.table), specPath: `${out}/${BRONZE_DIR}/${s.table}` })),
      trigger: stageTrigger(plan, stages.bronze),
      checkpointPath: join(plan.checkpointPath, 'bronze'),
      appId: `${plan.pipeline}/bronze`,
    },
    gold: { trigger: stageTrigger(plan, stages.gold), checkpointPath: join(plan.checkpointPath, 'gold'), appId: `${plan.pipeline}/gold` },
  };
}

/**
 * The plan the raw job runs: the Kafka source with the raw stage's streams and trigger, its
 * own checkpoint and app ids (`<pipeline>/raw/<i>`), and no record graph (values land as bytes).
 */
export function rawJobPlan(plan: Plan): Plan {
  const jobs = requireStaged(plan);
  const streams = Array.from({ length: jobs.raw.streams }, (_, index) => ({
    index,
    appId: `${plan.pipeline}/raw/${index}`,
    groupId: `${kafkaSource(plan.spec.source, 'the raw job', plan.pipeline).groupIdPrefix ?? `pipeline-${plan.pipeline}`}-raw-${index}`,
  }));
  // No sinks: the raw job never touches the gold tables (their guards belong to gold).
  return { ...plan, job: 'raw', streams, trigger: jobs.raw.trigger, checkpointPath: jobs.raw.checkpointPath, sinks: [] };
}

function requireStaged(plan: Plan): StagedJobs {
  const jobs = stagedJobs(plan);
  if (!jobs) throw new SpecError('PIPE_PLAN_NOT_STAGED', `pipeline ${plan.pipeline} is not staged`, { hint: 'set mode: staged to run its jobs one by one' });
  return jobs;
}

/** The lines `pipeline plan` adds for a staged pipeline: the jobs and the tables between them. */
export function renderJobs(plan: Plan, formatDuration: (ms: number) => string): string[] {
  const jobs = stagedJobs(plan);
  if (!jobs) return [];
  const spec: PipelineSpec = plan.spec;
  const every = (t: Plan['trigger']) => `every ${formatDuration(t.intervalMs)} or ${t.maxRecordsPerBatch} records`;
  const poll = (t: Plan['trigger']) => `looks for new versions every ${formatDuration(t.intervalMs)} once caught up, up to ${MAX_VERSIONS_PER_BATCH} versions per batch`;
  const lines = ['', 'jobs (mode: staged; run one with --job, or all three in one process)'];
  lines.push(`  raw     kafka topic ${sourceName(spec.source)} -> ${jobs.raw.specPath}${jobs.raw.partitionByDate ? ' (partitioned by ingest_date)' : ''}`);
  lines.push(`          ${jobs.raw.streams} stream(s), ${every(jobs.raw.trigger)}, no decode; checkpoint <checkpoint>/raw`);
  lines.push(`  bronze  ${jobs.raw.specPath} (by version) -> decode, route -> ${jobs.bronze.tables.length} bronze table(s) + ${spec.deadLetter.table}`);
  for (const t of jobs.bronze.tables) lines.push(`          ${t.specPath}`);
  lines.push(`          ${poll(jobs.bronze.trigger)}; checkpoint <checkpoint>/bronze`);
  lines.push(`  gold    each bronze table (by version) -> merge into its table`);
  for (const t of jobs.bronze.tables) lines.push(`          ${t.specPath} -> ${spec.output.path.replace(/\/+$/, '')}/${t.table}`);
  lines.push(`          ${poll(jobs.gold.trigger)}; checkpoint <checkpoint>/gold/<table>`);
  return lines;
}
