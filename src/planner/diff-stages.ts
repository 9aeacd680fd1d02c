/**
 * What a change of `mode` or `stages` does to a running pipeline (see diff.ts for the impact
 * classes). Staged jobs keep their own checkpoints (`<checkpoint>/raw`, `/bronze`, `/gold`)
 * and txn app ids, so switching modes starts the other mode's jobs from scratch.
 */
import { parseDuration } from '../spec/index.js';
import type { PipelineSpec } from '../spec/index.js';
import type { ChangeList } from './changes.js';

/** Adds the changes of `mode` and `stages.*`. */
export function diffStages(before: PipelineSpec, after: PipelineSpec, out: ChangeList): void {
  const from = before.mode ?? 'fused';
  const to = after.mode ?? 'fused';
  if (from !== to) {
    const why = to === 'staged'
      ? 'the raw job has no checkpoint yet, so it reads the topic again from startingOffsets into the raw table, and gold merges it again: upsert and scd2 tables converge, append tables receive their records a second time'
      : 'the fused streams resume from their own checkpoint (or startingOffsets without one), not from where the staged jobs are; the raw and bronze tables are no longer written';
    out.add('mode', from, to, 'checkpoint', `mode changes from ${from} to ${to}: ${why}. Stop the old jobs first; for append tables start the new mode on new tables`);
  }
  if (to !== 'staged') {
    // Unused while fused: reported so a reviewer sees it, never as a risk.
    if (JSON.stringify(before.stages ?? {}) !== JSON.stringify(after.stages ?? {})) out.add('stages', before.stages, after.stages, 'safe', 'stages changed, unused while mode is fused');
    return;
  }
  const streams = (s: PipelineSpec) => s.stages?.raw?.streams ?? s.streams;
  if (from === 'staged' && streams(before) !== streams(after)) {
    out.add('stages.raw.streams', streams(before), streams(after), 'checkpoint',
      `the raw job's streams change from ${streams(before)} to ${streams(after)}: partition ownership (p % streams) changes, so its per-stream checkpoints no longer match their partitions; the raw job refuses to start unless re-sharded (pipeline run --job raw --reshard)`);
  }
  const byDate = (s: PipelineSpec) => s.stages?.raw?.partitionByDate ?? false;
  if (from === 'staged' && byDate(before) !== byDate(after)) {
    out.add('stages.raw.partitionByDate', byDate(before), byDate(after), 'table',
      'the raw table keeps the partitioning it was created with: the raw job refuses to write under the other one (PIPE_LAKE_LAYOUT_CHANGED). Keep the old value, or move the raw table aside and start raw on a new one');
  }
  for (const job of ['raw', 'bronze', 'gold'] as const) {
    const a = before.stages?.[job]?.trigger;
    const b = after.stages?.[job]?.trigger;
    const interval = (t: typeof a) => (t?.interval !== undefined ? parseDuration(t.interval) : undefined);
    if (interval(a) !== interval(b)) {
      out.add(`stages.${job}.trigger.interval`, a?.interval, b?.interval, 'safe',
        `the ${job} job ${job === 'raw' ? 'closes batches' : 'looks for new versions'} every ${b?.interval ?? after.trigger.interval} instead of ${a?.interval ?? before.trigger.interval}`);
    }
    const max = (t: typeof a) => (t && 'maxRecordsPerBatch' in t ? t.maxRecordsPerBatch : undefined);
    if (max(a) !== max(b)) {
      out.add(`stages.${job}.trigger.maxRecordsPerBatch`, max(a), max(b), 'safe', `the ${job} job caps batches at ${max(b) ?? after.trigger.maxRecordsPerBatch} records instead of ${max(a) ?? before.trigger.maxRecordsPerBatch}`);
    }
  }
}
