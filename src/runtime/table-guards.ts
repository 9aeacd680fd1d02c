/**
 * Checks made once at start, before any stream reads, that the tables and the checkpoint
 * still belong together:
 *
 * - **Layout.** Each gold table records the layout it was written with (mode, merge keys,
 *   sequence, partition columns). A spec that changes it stops the run with
 *   `PIPE_LAKE_LAYOUT_CHANGED`, or with `--allow-layout-change` the table is rewritten under
 *   the new layout in one commit first.
 * - **Aggregations.** An aggregation defined otherwise than its window table or the open
 *   windows of a checkpoint were counted (or with another output mode or partitioning) stops
 *   the run with `PIPE_LAKE_WINDOW_CHANGED`: a window table is not rewritten.
 * - **Checkpoint identity.** A stream whose checkpoint has no batch yet, facing tables that
 *   already hold `txn` versions for its app id, would restart at batch 0 and have its new
 *   records skipped as "already committed". It stops with `PIPE_CHECKPOINT_TABLES_AHEAD`
 *   unless `--reset`: then the stream's batch ids start above every version the tables hold
 *   and the topic is read again from its earliest offset (nothing is skipped; append tables
 *   receive those records again).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { Lake } from '../lake/index.js';
import { LAYOUT_MODE, layoutChangedError, layoutChanges, sameNames } from '../lake/layout.js';
import { sinkWriteOptions } from '../operators/sink-delta.js';
import { WINDOW_DEFINITION, windowChangedError, windowTableChanged } from '../operators/window-output.js';
import type { WindowState } from '../operators/window.js';
import { committedState } from './batch-processor.js';
import type { Plan } from './plan.js';
import { StreamCheckpoint } from './stream-checkpoint.js';
import type { Logger } from './logger.js';
import { tablePrograms } from './table-program.js';
import { sourceName } from '../spec/index.js';

/** Refuses (or, when allowed, rebuilds) gold tables whose recorded layout differs from the spec's. */
async function checkLayouts(lake: Lake, plan: Plan, allow: boolean, logger: Logger): Promise<void> {
  for (const { sink } of tablePrograms(plan).values()) {
    if (!(await lake.exists(sink.path))) continue;
    const opts = sinkWriteOptions(sink);
    const changes = layoutChanges(await lake.snapshot(sink.path), opts);
    if (changes.length === 0) continue;
    if (!allow) throw layoutChangedError(`'${sink.table}' (${sink.path})`, changes);
    const r = await lake.rebuildTable(sink.path, opts);
    logger.info({ table: sink.table, changes: r.changes, rows: r.rows, version: r.version }, 'table rewritten under the new layout');
  }
}

/**
 * Refuses aggregations whose definition (tables read, event time, window, group keys, measures,
 * output mode) differs from the one their window table was created with, or that this
 * process's streams hold open windows of: new records would merge into windows counted another
 * way, and open `append` windows would never be written by `update` output.
 */
async function checkWindows(lake: Lake, plan: Plan, own: number[]): Promise<void> {
  if (plan.windows.length === 0) return;
  const states = own.map((i) => ({ i, state: committedState(new StreamCheckpoint(plan.checkpointPath, i), plan) }));
  for (const w of plan.windows) {
    const held: { where: string; definition: string }[] = [];
    if (await lake.exists(w.path)) {
      const { configuration, partitionColumns: partitions } = await lake.snapshot(w.path);
      // An update window table is an upsert table, an append one an append table.
      const mode = configuration[LAYOUT_MODE];
      if (mode !== undefined && mode !== (w.outputMode === 'append' ? 'append' : 'upsert')) throw windowTableChanged(w, `its table ${w.path}`, `output mode ${mode === 'append' ? 'append' : 'update'} → ${w.outputMode}`);
      if (!sameNames(partitions, w.partitionBy)) throw windowTableChanged(w, `its table ${w.path}`, `partitionBy [${partitions.join(', ')}] → [${w.partitionBy.join(', ')}]`);
      const recorded = configuration[WINDOW_DEFINITION];
      if (recorded !== undefined) held.push({ where: `its table ${w.path}`, definition: recorded });
    }
    for (const { i, state } of states) {
      const windows = state[w.id] as WindowState | undefined;
      if (w.outputMode === 'update' && Object.keys(windows?.open ?? {}).length > 0) throw windowTableChanged(w, `the open windows of stream ${i}`, 'output mode append → update');
      if (windows?.definition !== undefined) held.push({ where: `the open windows of stream ${i}`, definition: windows.definition });
    }
    const other = w.definition === undefined ? undefined : held.find((h) => h.definition !== w.definition);
    if (other) throw windowChangedError(w, other.where, other.definition);
  }
}

/** Whether stream `i` of the checkpoint at `root` has never planned a batch. */
function streamIsFresh(root: string, i: number): boolean {
  const dir = join(root, String(i), 'offsets');
  return !existsSync(dir) || readdirSync(dir).every((n) => !/^\d+$/.test(n));
}

/** Refuses fresh stream checkpoints whose app ids the tables already hold (or, with `reset`, starts them above). */
async function checkIdentity(lake: Lake, plan: Plan, own: number[], reset: boolean, logger: Logger): Promise<void> {
  const fresh = own.filter((i) => streamIsFresh(plan.checkpointPath, i));
  if (fresh.length === 0) return;
  const tables = [...plan.sinks.map((s) => ({ name: s.table, path: s.path })), { name: plan.deadLetter.table, path: plan.deadLetter.path }];
  const ahead: { i: number; appId: string; highest: { version: number; table: string } }[] = [];
  for (const i of fresh) {
    const appId = plan.streams[i]!.appId;
    let highest: { version: number; table: string } | undefined;
    for (const t of tables) {
      if (!(await lake.exists(t.path))) continue;
      const v = await lake.txnVersion(t.path, appId);
      if (v !== undefined && (!highest || v > highest.version)) highest = { version: v, table: t.name };
    }
    if (highest) ahead.push({ i, appId, highest });
  }
  // Reading the records again adds them again to the rows of `update` windows: counts would double.
  for (const w of reset ? plan.windows.filter((x) => x.outputMode === 'update') : []) {
    if (!(await lake.exists(w.path))) continue;
    for (const { appId } of ahead) {
      if ((await lake.txnVersion(w.path, appId)) === undefined) continue;
      throw new CheckpointError('PIPE_CHECKPOINT_RESET_WINDOWS', `--reset would count the records of ${appId} again into aggregation '${w.name}' (${w.path}), whose update rows already hold them`, {
        details: { aggregation: w.name, table: w.path, appId },
        hint: 'move the window table aside (it is counted again from the records read) or give the aggregation a new name, then run with --reset; or restore the checkpoint directory',
      });
    }
  }
  for (const { i, appId, highest } of ahead) {
    if (!reset) {
      throw new CheckpointError(
        'PIPE_CHECKPOINT_TABLES_AHEAD',
        `the checkpoint of stream ${i} (${plan.checkpointPath}) is new, but table '${highest.table}' already holds batch ${highest.version} of ${appId}: starting at batch 0 would skip new records as already committed`,
        {
          details: { stream: i, appId, table: highest.table, version: highest.version },
          hint: 'restore the checkpoint directory; or run with --reset to read the topic again from its earliest offset into the existing tables (upsert tables converge, append tables receive those records again); or delete the tables too to start over',
        },
      );
    }
    // An empty committed batch above every version the tables hold: the stream continues from it.
    const checkpoint = new StreamCheckpoint(plan.checkpointPath, i);
    const now = new Date().toISOString();
    checkpoint.writeOffsets({ batchId: highest.version, appId, topic: sourceName(plan.source), ranges: {}, schema: {}, createdAt: now });
    checkpoint.writeCommit({ batchId: highest.version, committedAt: now, records: 0, tables: {} });
    logger.warn({ stream: i, appId, firstBatchId: highest.version + 1 }, 'checkpoint reset: reading the topic again from its earliest offsets into the existing tables');
  }
}

/** Runs both checks for this process's streams `own`. */
export async function guardTables(plan: Plan, own: number[], opts: { allowLayoutChange: boolean; reset: boolean }, logger: Logger): Promise<void> {
  const lake = await Lake.create({ threads: 1 });
  try {
    // An aggregation defined otherwise stops the run before any table is rewritten.
    await checkWindows(lake, plan, own);
    await checkLayouts(lake, plan, opts.allowLayoutChange, logger);
    await checkIdentity(lake, plan, own, opts.reset, logger);
  } finally {
    lake.close();
  }
}
