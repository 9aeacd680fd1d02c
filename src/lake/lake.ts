/**
 * `Lake`: the public face of the table layer. Owns one DuckDB instance, caches each table's
 * replayed state (refreshed by probing the next commit), serialises writes per table within
 * the process, and runs the optimistic commit loop across processes.
 */
import { CommitConflictError, LakeError } from '../errors.js';
import { listChanges, type ChangeOptions, type TableChanges } from './changes.js';
import { checkpointInterval, writeCheckpoint } from './delta-checkpoint.js';
import { commitActions, judgeWinners, newMetadata, overlappingAdds, removeFor, type ConflictVerdict, type PlannedCommit } from './commit.js';
import { keyDerive, LAYOUT_KEY_DERIVE, LAYOUT_MODE, layoutChanges, layoutConfiguration, rebuildPlan } from './layout.js';
import { fileHoldsKeys } from './prune.js';
import { Duck, type DuckOptions } from './duck.js';
import { fingerprintOf, listLog, putIfAbsent, readCommit } from './log.js';
import { scanRelation } from './read.js';
import { TOMBSTONE } from './merge.js';
import { cleanupExpiredLog, ENABLE_LOG_CLEANUP } from './log-cleanup.js';
import { compactTable, planBins } from './compact.js';

/** Small files that make a checkpoint's housekeeping compact the table. */
const AUTO_COMPACT_MIN_FILES = 10;
import { relativeDataPath, storageFor, tableRoot } from './storage/index.js';
import { columnsToFields, fieldsToColumns, normalizeDuckType, parseDuckType, quoteIdent, renderDuckType, schemaString } from './schema.js';
import { applyCommit, emptyState, fileKey, loadState, refreshState, toSnapshot, type LiveFile, type TableState } from './snapshot.js';
import type { Action } from './log.js';
import { timed, type BatchInput, type DeltaField, type PhaseTimes, type ColumnDef, type CommitSummary, type RejectedRow, type TableSnapshot, type WriteOptions, type WriteResult } from './types.js';
import { checkWrite, loadRejects, planWrite, targetFileSize, UNSAFE_INTEGERS_KEY, UNTYPED_KEY, type WritePlan } from './write.js';

/** Commit attempts before a write gives up with CommitConflictError (retriable). */
const MAX_COMMIT_ATTEMPTS = 40;

/** Options of {@link Lake.scan}. */
export interface ScanRequest {
  version?: number;
  /** SQL predicate over the table's columns. */
  where?: string;
  /** SQL ORDER BY list. */
  orderBy?: string;
  limit?: number;
  columns?: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops here when `PIPELINE_FAILPOINT` names this point: the process hangs until killed (crash tests). */
async function failpoint(name: string): Promise<void> {
  if (process.env.PIPELINE_FAILPOINT !== name) return;
  process.stderr.write(`failpoint ${name} reached\n`);
  await new Promise(() => setInterval(() => undefined, 60_000));
}

/** Delta Lake tables (reader 1 / writer 2) over Parquet files written by DuckDB. */
export class Lake {
  private readonly states = new Map<string, TableState>();
  private readonly locks = new Map<string, Promise<unknown>>();

  private constructor(private readonly duck: Duck) {}

  /** Owns one DuckDB instance (in-memory database; temp files in os.tmpdir()). */
  static async create(opts: DuckOptions = {}): Promise<Lake> {
    return new Lake(await Duck.create(opts));
  }

  /** Releases the DuckDB instance. */
  close(): void {
    this.duck.close();
  }

  /** See {@link Duck.setAllocatorFlushBytes}. */
  setAllocatorFlushBytes(bytes: number | undefined): Promise<void> {
    return this.duck.setAllocatorFlushBytes(bytes);
  }

  /** Whether `tablePath` holds a Delta table (a log with at least one version). */
  async exists(tablePath: string): Promise<boolean> {
    const key = tableRoot(tablePath);
    // Loads (and caches) the state: callers usually read the schema or write next.
    return (await this.locked(key, () => this.latest(key))) !== undefined;
  }

  /** The table at its latest version, or at `version`. */
  async snapshot(tablePath: string, version?: number): Promise<TableSnapshot> {
    return toSnapshot(await this.stateAt(tablePath, version));
  }

  /** The latest txn version the table holds for `appId`. */
  async txnVersion(tablePath: string, appId: string): Promise<number | undefined> {
    const key = tableRoot(tablePath);
    const state = await this.locked(key, () => this.latest(key));
    const t = state?.txns.get(appId);
    return t ? Number(t.version) : undefined;
  }

  /** The table's schema as DuckDB types. */
  async columns(tablePath: string): Promise<ColumnDef[]> {
    return fieldsToColumns((await this.stateAt(tablePath)).schema);
  }

  /** Creates an empty table (version 0). Fails when the table already exists. */
  async createTable(
    tablePath: string,
    columns: ColumnDef[],
    opts: { partitionBy?: string[]; name?: string; description?: string; configuration?: Record<string, string> } = {},
  ): Promise<TableSnapshot> {
    const key = tableRoot(tablePath);
    return this.locked(key, async () => {
      if (await this.latest(key)) throw new LakeError('PIPE_LAKE_TABLE_EXISTS', `table ${tablePath} already exists`);
      const normalized = columns.map((c) => ({ ...c, type: renderDuckType(normalizeDuckType(parseDuckType(c.type))) }));
      for (const p of opts.partitionBy ?? []) {
        if (!normalized.some((c) => c.name === p)) throw new LakeError('PIPE_LAKE_MISSING_COLUMN', `partition column ${p} is not a column of ${tablePath}`);
      }
      const plan: PlannedCommit = {
        readVersion: -1,
        operation: 'CREATE TABLE',
        operationParameters: { partitionBy: opts.partitionBy ?? [] },
        operationMetrics: {},
        isBlindAppend: true,
        protocol: { minReaderVersion: 1, minWriterVersion: 2 },
        metadata: newMetadata(schemaString(columnsToFields(normalized)), opts.partitionBy ?? [], opts),
        adds: [],
        removes: [],
        readFiles: new Set(),
      };
      const actions = commitActions(plan);
      const head = await putIfAbsent(key, 0, actions);
      if (!head) throw new LakeError('PIPE_LAKE_TABLE_EXISTS', `table ${tablePath} was created concurrently`);
      const state = emptyState(key);
      applyCommit(state, 0, actions, head);
      this.states.set(key, state);
      return toSnapshot(state);
    });
  }

  /** Appends or merges one batch; creates the table on first write; idempotent per `opts.txn`. */
  async write(tablePath: string, batch: BatchInput, opts: WriteOptions): Promise<WriteResult> {
    const key = tableRoot(tablePath);
    if (!opts.phases) return this.locked(key, () => this.writeLocked(key, batch, opts));
    // This write's own phases, added to the shared record at the end (other tables' writes add to it meanwhile).
    const phases: PhaseTimes = {};
    try {
      return await this.locked(key, () => this.writeLocked(key, batch, { ...opts, phases }));
    } finally {
      for (const [name, ms] of Object.entries(phases)) opts.phases[name] = (opts.phases[name] ?? 0) + ms;
    }
  }

  /**
   * Loads the batch as `write` would and throws ExpectationFailedError when a row fails a
   * `fail` expectation; writes nothing. Lets a caller check every table of a batch before
   * committing any. A table that already holds the write's txn is not checked.
   */
  async checkExpectations(tablePath: string, batch: BatchInput, opts: WriteOptions): Promise<void> {
    if (!opts.expectations?.some((e) => e.action === 'fail')) return;
    const key = tableRoot(tablePath);
    await this.locked(key, async () => {
      const state = await this.latest(key);
      if (this.alreadyCommitted(state, opts)) return;
      await this.duck.with((c) => checkWrite(c, key, state, batch, opts));
    });
  }

  /**
   * The rows a write of `batch` would leave out (values that do not convert, derive errors,
   * `where`, drop/quarantine expectations), judged on the table as it is now, writing nothing.
   * Throws as `write` would for a failing `fail` expectation.
   */
  async loadRejects(tablePath: string, batch: BatchInput, opts: WriteOptions): Promise<RejectedRow[]> {
    const key = tableRoot(tablePath);
    return this.locked(key, async () => {
      const state = await this.latest(key);
      if (this.alreadyCommitted(state, opts)) return [];
      return this.duck.with((c) => loadRejects(c, key, state, batch, opts));
    });
  }

  private async writeLocked(key: string, batch: BatchInput, opts: WriteOptions): Promise<WriteResult> {
    let conflicts = 0;
    while (true) {
      const state = await this.latest(key);
      const done = this.alreadyCommitted(state, opts);
      if (done) return done;
      const planStarted = performance.now();
      const before = { ...opts.phases };
      const plan = await this.duck.with((c) => planWrite(c, key, state, batch, opts));
      // Planning minus its loading and file writing is the merge itself.
      if (opts.phases) {
        const inner = ['load', 'files'].reduce((s, p) => s + (opts.phases![p] ?? 0) - (before[p] ?? 0), 0);
        opts.phases.merge = (opts.phases.merge ?? 0) + performance.now() - planStarted - inner;
      }
      if (plan.empty) return this.result('empty', state?.version ?? -1, plan, conflicts);
      let target = (state?.version ?? -1) + 1;
      let current = state;
      while (true) {
        await opts.beforeCommit?.(plan.rejected);
        await failpoint('lake.before-commit');
        const actions = commitActions(plan.commit);
        const head = await timed(opts.phases, 'log', () => putIfAbsent(key, target, actions));
        if (head) {
          const committed = current ?? emptyState(key);
          applyCommit(committed, target, actions, head);
          this.states.set(key, committed);
          // Cache upkeep only: it never fails a committed write.
          await storageFor(key).forget(plan.commit.removes.map((r) => relativeDataPath(r.path))).catch(() => undefined);
          if (target > 0 && target % checkpointInterval(committed.metadata?.configuration) === 0) {
            // A checkpoint is an optimisation: a failure here never fails the committed write.
            await timed(opts.phases, 'deltaCheckpoint', async () => {
              await writeCheckpoint(this.duck, committed).catch(() => undefined);
              await this.housekeeping(key, committed, opts);
            });
          }
          return this.result('committed', target, plan, conflicts);
        }
        conflicts++;
        if (conflicts >= MAX_COMMIT_ATTEMPTS) {
          await this.discard(key, plan);
          throw new CommitConflictError(`gave up committing to ${key} after ${conflicts} conflicts with concurrent writers`, {
            details: { table: key, conflicts },
          });
        }
        await sleep(Math.random() * Math.min(500, 5 * 2 ** Math.min(conflicts, 7)));
        let verdict: ConflictVerdict;
        if (!current) {
          current = await this.latest(key);
          const t = opts.txn && current?.txns.get(opts.txn.appId);
          verdict = t && Number(t.version) >= opts.txn!.version ? { kind: 'already-committed', version: current!.version } : { kind: 'replan', reason: 'created concurrently' };
        } else {
          const winners = await refreshState(current);
          verdict = judgeWinners(plan.commit, winners, await this.confirmedAdds(key, plan.commit, winners));
        }
        if (verdict.kind === 'retry') {
          target = current!.version + 1;
          continue;
        }
        await this.discard(key, plan);
        if (verdict.kind === 'already-committed') return this.result('already-committed', current!.version, undefined, conflicts, plan.rowsIn);
        break; // re-plan against the new snapshot
      }
    }
  }

  /**
   * Rewrites the table under the layout of `opts` (mode, merge keys, sequence, partition
   * columns) in one commit: every live file is removed and the rows are written again —
   * copied when only the partition columns change, else merged under the new keys as one
   * batch. The table keeps its id, txn marks and other properties. Returns the new version,
   * or the current one when the layout already matches.
   */
  async rebuildTable(tablePath: string, opts: WriteOptions): Promise<{ version: number; changes: string[]; rows: number }> {
    const key = tableRoot(tablePath);
    return this.locked(key, async () => {
      const state = await this.latest(key);
      if (!state) throw new LakeError('PIPE_LAKE_NO_TABLE', `no Delta table at ${tablePath}`);
      const config = state.metadata?.configuration ?? {};
      const partitionColumns = state.metadata?.partitionColumns ?? [];
      const changes = layoutChanges({ configuration: config, partitionColumns, schema: state.schema }, opts);
      if (changes.length === 0) return { version: state.version, changes, rows: 0 };
      const how = rebuildPlan(tablePath, config[LAYOUT_MODE], changes, opts);
      // A copy keeps tombstone rows as they are. A merge takes each as a delete of its key (whatever
      // deleteWhen says now): kept as a tombstone when the new layout keeps them, else the key is gone.
      const merged = how === 'merge';
      const declared = Object.fromEntries(fieldsToColumns(state.schema).filter((c) => !merged || c.name !== TOMBSTONE).map((c) => [c.name, c.type]));
      let rows = await this.duck.with(async (c) => c.rows(`SELECT * FROM ${await scanRelation(c, state)} AS t`));
      const tombstones = merged && state.schema.some((f) => f.name === TOMBSTONE);
      // An append table holds no deletes: a deleted key is not a row of it.
      if (tombstones && opts.mode === 'append') rows = rows.filter((r) => r[TOMBSTONE] !== true);
      const deletes = tombstones && opts.mode !== 'append';
      if (merged) {
        for (const r of rows) {
          if (deletes) r[REBUILD_DELETED] = r[TOMBSTONE] === true;
          delete r[TOMBSTONE];
        }
      }
      const positions = rows.every((r) => r.__source_partition != null && r.__source_offset != null)
        ? { partitions: rows.map((r) => Number(r.__source_partition)), offsets: rows.map((r) => Number(r.__source_offset)) }
        : undefined;
      // The stored types, but a column the spec declares takes its declared type (values converted exactly, or the rebuild stops).
      const columns = { ...declared, ...Object.fromEntries(Object.entries(opts.columns ?? {}).map(([n, t]) => [Object.keys(declared).find((d) => d.toLowerCase() === n.toLowerCase()) ?? n, t])) };
      const layout: WriteOptions = how === 'copy'
        ? { mode: 'append', partitionBy: opts.partitionBy ?? partitionColumns, columns }
        : { ...stored(opts), partitionBy: opts.partitionBy ?? partitionColumns, columns, txn: undefined, measureQuality: false, ...(deletes ? { deletedColumn: REBUILD_DELETED } : {}) };
      const plan = await this.duck.with((c) => planWrite(c, key, undefined, { kind: 'rows', rows, ...(positions && how === 'merge' ? { positions } : {}) }, layout));
      if (plan.rejected.length > 0) {
        await this.discard(key, plan);
        const first = plan.rejected[0]!;
        throw new LakeError('PIPE_LAKE_LAYOUT_CONVERT', `table ${tablePath}: ${plan.rejected.length} stored row(s) do not convert to the new layout (${changes.join('; ')}), e.g. ${first.reason}; nothing was changed`, {
          details: { table: tablePath, changes, rows: plan.rejected.length },
        });
      }
      const commit = plan.commit;
      commit.readVersion = state.version;
      commit.operation = 'REPLACE TABLE';
      commit.operationParameters = { rebuild: changes };
      commit.isBlindAppend = false;
      delete commit.protocol;
      const recorded = how === 'copy' ? { [LAYOUT_KEY_DERIVE]: JSON.stringify(keyDerive({ ...opts, partitionBy: opts.partitionBy ?? partitionColumns })) } : layoutConfiguration(opts);
      // Each column keeps what the schema said of it (NOT NULL, invariants, comments, the lake's
      // type marks): the rows were read back with the same types, so only new columns are new.
      // A retyped column keeps all but the type marks, which spoke of its old type.
      const kept = new Map(state.schema.map((f) => [f.name, f]));
      const fields = (JSON.parse(commit.metadata!.schemaString) as { fields: DeltaField[] }).fields.map((f) => {
        const before = kept.get(f.name);
        if (!before) return f;
        if (JSON.stringify(before.type) === JSON.stringify(f.type)) return before;
        const { [UNSAFE_INTEGERS_KEY]: _unsafe, [UNTYPED_KEY]: _untyped, ...metadata } = before.metadata ?? {};
        return { ...before, type: f.type, metadata };
      });
      commit.metadata = { ...commit.metadata!, schemaString: schemaString(fields), id: state.metadata!.id, configuration: { ...config, ...recorded } };
      for (const f of state.files.values()) {
        commit.removes.push(removeFor(f.add));
        commit.readFiles.add(fileKey(f.add.path));
      }
      const actions = commitActions(commit);
      const head = await putIfAbsent(key, state.version + 1, actions);
      if (!head) {
        await this.discard(key, plan);
        throw new CommitConflictError(`another writer committed to ${tablePath} during its rebuild; run again`, { details: { table: tablePath } });
      }
      applyCommit(state, state.version + 1, actions, head);
      return { version: state.version, changes, rows: rows.length };
    });
  }

  /**
   * Reads the key column of the winners' added files whose key range overlaps the batch:
   * streams writing disjoint keys then commit without re-planning.
   */
  private async confirmedAdds(key: string, plan: PlannedCommit, winners: { version: number; actions: Action[] }[]): Promise<(f: LiveFile) => boolean> {
    const filter = plan.keyFilter;
    const overlapping = overlappingAdds(plan, winners);
    if (!filter || overlapping.length === 0) return () => true;
    const holding = new Set<string>();
    await this.duck.with(async (c) => {
      for (const f of overlapping) if (await fileHoldsKeys(c, key, f, filter)) holding.add(fileKey(f.add.path));
    });
    return (f) => holding.has(fileKey(f.add.path));
  }

  private alreadyCommitted(state: TableState | undefined, opts: WriteOptions): WriteResult | undefined {
    if (!opts.txn || !state) return undefined;
    const t = state.txns.get(opts.txn.appId);
    if (t && Number(t.version) >= opts.txn.version) return this.result('already-committed', state.version, undefined, 0);
    return undefined;
  }

  private result(status: WriteResult['status'], version: number, plan: WritePlan | undefined, conflicts: number, rowsIn?: number): WriteResult {
    const c = plan?.commit;
    return {
      status,
      version,
      rowsIn: rowsIn ?? plan?.rowsIn ?? 0,
      rowsInserted: plan && status === 'committed' ? plan.rowsInserted : 0,
      rowsUpdated: plan && status === 'committed' ? plan.rowsUpdated : 0,
      rowsDeleted: plan && status === 'committed' ? plan.rowsDeleted : 0,
      filesAdded: c && status === 'committed' ? c.adds.length : 0,
      filesRemoved: c && status === 'committed' ? c.removes.length : 0,
      bytesAdded: c && status === 'committed' ? c.adds.reduce((s, a) => s + a.size, 0) : 0,
      conflictsRetried: conflicts,
      rejected: plan && status !== 'already-committed' ? plan.rejected : [],
      widened: plan && status === 'committed' ? plan.widened : [],
      ...(plan && status !== 'already-committed' ? { expectations: plan.expectations } : {}),
      ...(plan?.quality && status !== 'already-committed' ? { quality: plan.quality } : {}),
    };
  }

  /** Deletes the data files of a plan that will never be committed. */
  /**
   * Housekeeping behind a new checkpoint (see {@link WriteOptions.maintenance}): compaction when
   * small files or deletion vectors have piled up, then expired-log cleanup. It never fails the
   * committed write; a compaction that loses a race to another writer just waits for the next one.
   */
  private async housekeeping(key: string, state: TableState, opts: WriteOptions): Promise<void> {
    const configuration = state.metadata?.configuration;
    if (opts.maintenance?.compactSmallFiles) {
      const bins = planBins([...state.files.values()], state.metadata?.partitionColumns ?? [], targetFileSize(configuration));
      const files = bins.reduce((n, b) => n + b.files.length, 0);
      if (files >= AUTO_COMPACT_MIN_FILES || bins.some((b) => b.live.some((f) => f.add.deletionVector))) {
        await compactTable(key, { duck: this.duck, maxAttempts: 1, targetSize: targetFileSize(configuration) }).catch(() => undefined);
      }
    }
    if (opts.maintenance?.cleanupLog || configuration?.[ENABLE_LOG_CLEANUP] === 'true') {
      await cleanupExpiredLog(key, configuration).catch(() => undefined);
    }
  }

  private async discard(key: string, plan: WritePlan): Promise<void> {
    const store = storageFor(key);
    // An add with a deletion vector names a file that was already live: never delete it.
    await Promise.all(plan.commit.adds.filter((a) => !a.deletionVector).map((a) => store.delete(relativeDataPath(a.path)).catch(() => undefined)));
  }

  /** Rows of the table (partition columns filled in), ordered by `orderBy` when given. */
  async scan(tablePath: string, opts: ScanRequest = {}): Promise<Record<string, unknown>[]> {
    const state = await this.stateAt(tablePath, opts.version);
    return this.duck.with(async (c) => {
      const rel = await scanRelation(c, state);
      const cols = opts.columns ? opts.columns.map(quoteIdent).join(', ') : '*';
      const sql = `SELECT ${cols} FROM ${rel} AS t${opts.where ? ` WHERE ${opts.where}` : ''}${opts.orderBy ? ` ORDER BY ${opts.orderBy}` : ''}${
        opts.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(opts.limit))}` : ''
      }`;
      return c.rows(sql);
    });
  }

  /**
   * The rows versions after `after` added (changes.ts says which), in version, file and row
   * order, read with the table's schema at the last version covered.
   */
  async readChanges(tablePath: string, after: number, opts: ChangeOptions = {}): Promise<{ changes: TableChanges; rows: Record<string, unknown>[]; fileRows: number[] }> {
    const key = tableRoot(tablePath);
    const changes = await listChanges(key, after, opts);
    if (changes.files.length === 0) return { changes, rows: [], fileRows: [] };
    const state = await this.stateAt(tablePath, changes.upTo);
    const fileRows: number[] = [];
    const rows = await this.duck.with(async (c) => {
      const out: Record<string, unknown>[] = [];
      // One file at a time keeps the order exact (a multi-file scan may interleave files).
      for (const f of changes.files) {
        const read = await c.rows(`SELECT * FROM ${await scanRelation(c, state, { files: [f.file] })} AS t`);
        fileRows.push(read.length);
        out.push(...read);
      }
      return out;
    });
    return { changes, rows, fileRows };
  }

  /** A DuckDB FROM-clause expression reading the table at a version (run with TimeZone=UTC). */
  async scanSql(tablePath: string, version?: number): Promise<string> {
    const state = await this.stateAt(tablePath, version);
    return this.duck.with((c) => scanRelation(c, state));
  }

  /** The commits still in the log, newest first (the newest `limit` when given). */
  async history(tablePath: string, opts: { limit?: number } = {}): Promise<CommitSummary[]> {
    const key = tableRoot(tablePath);
    const listing = await listLog(key);
    const out: CommitSummary[] = [];
    const newestFirst = [...listing.commits].reverse();
    for (const v of opts.limit === undefined ? newestFirst : newestFirst.slice(0, Math.max(0, opts.limit))) {
      const info = (await readCommit(key, v))?.find((a) => a.commitInfo)?.commitInfo;
      out.push({
        version: v,
        timestamp: Number(info?.timestamp ?? 0),
        operation: String(info?.operation ?? 'UNKNOWN'),
        ...(info?.operationParameters ? { operationParameters: info.operationParameters } : {}),
        ...(info?.operationMetrics ? { operationMetrics: info.operationMetrics } : {}),
      });
    }
    return out;
  }

  /** The cached state brought up to date, or undefined when the table does not exist. Call under the table's lock. */
  private async latest(key: string): Promise<TableState | undefined> {
    const cached = this.states.get(key);
    if (cached) {
      // The folder may have been deleted or replaced behind our back (its commit at our version
      // gone, or another one): then start over, never apply a new table's commits to the old one.
      const head = await fingerprintOf(key, cached.version);
      if (head !== undefined && (cached.head ?? head) === head) {
        cached.head = head;
        await refreshState(cached);
        return cached;
      }
      this.states.delete(key);
    }
    const state = await loadState(this.duck, key);
    if (state) this.states.set(key, state);
    return state;
  }

  private async stateAt(tablePath: string, version?: number): Promise<TableState> {
    const key = tableRoot(tablePath);
    const latest = await this.locked(key, () => this.latest(key));
    if (!latest) throw new LakeError('PIPE_LAKE_NO_TABLE', `no Delta table at ${tablePath}`, { hint: 'check the path; a table has a _delta_log folder' });
    if (version === undefined || version === latest.version) return latest;
    const state = await loadState(this.duck, key, version);
    if (!state) throw new LakeError('PIPE_LAKE_NO_TABLE', `no Delta table at ${tablePath}`);
    return state;
  }

  /** Runs `fn` after every earlier operation on the same table in this process. */
  private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}

/** A rebuild's column marking the stored tombstones (never written). */
const REBUILD_DELETED = '__lake_rebuild_deleted';

/** A rebuild's options: stored rows were filtered when they were written, so no `where` or expectation leaves one out now. */
function stored(opts: WriteOptions): WriteOptions {
  const { where: _where, expectations: _expectations, ...rest } = opts;
  return rest;
}
