/**
 * The event-time half of `diffSpecs`: watermark policies and aggregations. A window table
 * holds results computed with its definition; a change to what it computes (tables, window,
 * groups, measures) makes the rows already there disagree with the new ones (`table`: reset
 * the window table). The output mode changes what the checkpoint keeps (`checkpoint`).
 */
import type { AggregationSpec, PipelineSpec } from '../spec/index.js';
import { parseDuration } from '../spec/index.js';
import { canonical } from './diff.js';
import { sortedKeys, specTablePath } from './compile.js';
import type { ChangeList } from './changes.js';

/** Compares `watermark.lateData`/`idleTimeout` and `aggregations` of two specs. */
export function diffEventTime(before: PipelineSpec, after: PipelineSpec, out: ChangeList): void {
  const a = before.watermark;
  const b = after.watermark;
  if (a && b) {
    const lateA = a.lateData ?? 'dead_letter';
    const lateB = b.lateData ?? 'dead_letter';
    if (lateA !== lateB) out.add('watermark.lateData', lateA, lateB, 'safe', `late records are ${describeLate(lateB)} from now on (were ${describeLate(lateA)})`);
    const idleA = a.idleTimeout === undefined ? undefined : parseDuration(a.idleTimeout);
    const idleB = b.idleTimeout === undefined ? undefined : parseDuration(b.idleTimeout);
    if (idleA !== idleB) {
      out.add('watermark.idleTimeout', a.idleTimeout, b.idleTimeout, 'safe',
        b.idleTimeout === undefined ? 'an idle partition holds its stream\'s watermark back again' : `a partition idle for ${b.idleTimeout} stops holding its stream's watermark back`);
    }
  }
  const aggsA = before.aggregations ?? {};
  const aggsB = after.aggregations ?? {};
  for (const name of sortedKeys({ ...aggsA, ...aggsB })) {
    const x = Object.hasOwn(aggsA, name) ? aggsA[name] : undefined;
    const y = Object.hasOwn(aggsB, name) ? aggsB[name] : undefined;
    const path = `aggregations.${name}`;
    if (!x && y) out.add(path, null, y, 'safe', `new window table ${name}: windows of the records read from now on (earlier records are not counted)`);
    else if (x && !y) out.add(path, x, null, 'table', `aggregation ${name} is no longer written: its table at ${specTablePath(before, name)} is orphaned (archive or delete it)`);
    else if (x && y) diffAggregation(before, name, x, y, out);
  }
}

function describeLate(policy: string): string {
  return policy === 'keep' ? 'kept in their tables (and left out of windows)' : policy === 'drop' ? 'dropped (counted)' : 'dead-lettered';
}

function diffAggregation(before: PipelineSpec, name: string, a: AggregationSpec, b: AggregationSpec, out: ChangeList): void {
  const path = `aggregations.${name}`;
  const reset = `the rows already in ${specTablePath(before, name)} and the open windows were computed the old way, so run stops (PIPE_LAKE_WINDOW_CHANGED); give the aggregation a new name (a new window table) instead`;
  for (const key of ['from', 'window', 'groupBy', 'measures'] as const) {
    if (canonical(a[key]) !== canonical(b[key])) out.add(`${path}.${key}`, a[key], b[key], 'table', `${key} of aggregation ${name} changes: ${reset}`);
  }
  if ((a.outputMode ?? 'update') !== (b.outputMode ?? 'update')) {
    out.add(`${path}.outputMode`, a.outputMode ?? 'update', b.outputMode ?? 'update', 'checkpoint',
      `aggregation ${name} switches to ${b.outputMode ?? 'update'} output: its window table and the open windows kept in each stream's checkpoint were written for ${a.outputMode ?? 'update'} output, so run stops (PIPE_LAKE_WINDOW_CHANGED); give the aggregation a new name (a new window table) instead`);
  }
  if (canonical(a.partitionBy ?? []) !== canonical(b.partitionBy ?? [])) {
    out.add(`${path}.partitionBy`, a.partitionBy ?? [], b.partitionBy ?? [], 'table', `window table ${name} is partitioned otherwise: a window table is not rewritten, so run stops (PIPE_LAKE_WINDOW_CHANGED); give the aggregation a new name (a new window table) instead`);
  }
}
