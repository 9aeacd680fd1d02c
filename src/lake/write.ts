/**
 * Planning one write: load the batch, settle the schema (create or evolve), then append or
 * merge, writing the new data files. The result is a {@link PlannedCommit} the caller tries
 * to commit; nothing here touches the log.
 */
import path from 'node:path';
import { LakeError, SchemaMismatchError } from '../errors.js';
import { loadBatch, type LoadedBatch } from './batch.js';
import { batchQuality, type BatchQuality } from './batch-quality.js';
import { layoutChangedError, layoutChanges, layoutConfiguration } from './layout.js';
import { checkConstraints } from './constraints.js';
import { newMetadata, removeFor, type PlannedCommit } from './commit.js';
import type { Conn } from './duck.js';
import { DEFAULT_TARGET_FILE_SIZE, writeDataFiles, type TypedColumn } from './files.js';
import { resolveDataPath } from './log.js';
import {
  keepsTombstones, mergeScd2, mergeUpsert, prepareSource, prepareTarget, SCD2_CURRENT, SCD2_END, SCD2_SEEN, SCD2_SOURCES, SCD2_START, SOURCE_OFFSET, SOURCE_PARTITION, TOMBSTONE,
} from './merge.js';
import { reservedColumnReason, SCD2_COLUMNS, systemColumns } from './system-columns.js';
import { deletionVectorProtocol, deletionVectorsEnabled, ENABLE_DELETION_VECTORS, markReplacedRows } from './merge-on-read.js';
import { buildKeyFilter, mayHoldKeys } from './prune.js';
import { FILE_COLUMN, scanRelation, schemaColumns } from './read.js';
import { columnsToFields, quoteIdent, renderDuckType, schemaString, type DuckType } from './schema.js';
import { fileKey, type LiveFile, type TableState } from './snapshot.js';
import { timed, type BatchInput, type DeltaField, type ExpectationCount, type RejectedRow, type WriteOptions } from './types.js';
import { UNSAFE_INTEGERS_KEY, UNTYPED_KEY, widenSql } from './type-lattice.js';
import { sqlColumnRefs } from './sql-refs.js';

const SCD2_NAMES = [SCD2_START, SCD2_END, SCD2_CURRENT];

/** A planned write plus what the caller reports. */
export interface WritePlan {
  commit: PlannedCommit;
  rowsIn: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsDeleted: number;
  /** Nothing to commit (empty batch, or no change and no txn). */
  empty: boolean;
  /** Input rows left out of the write (see RejectedRow). */
  rejected: RejectedRow[];
  /** Columns whose type widened: every live file is rewritten by this commit. */
  widened: string[];
  /** Per expectation of the write: rows evaluated and failed. */
  expectations: ExpectationCount[];
  /** NULLs per column and duplicate merge keys of the batch (absent for an empty batch). */
  quality?: BatchQuality;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

/** Target file size for a table: `delta.targetFileSize` (bytes, or with a unit: `32mb`) or the default. */
export function targetFileSize(configuration: Record<string, string> | undefined): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(configuration?.['delta.targetFileSize'] ?? '');
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  const v = m && unit ? Number(m[1]) * unit : NaN;
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_TARGET_FILE_SIZE;
}

function validate(tablePath: string, opts: WriteOptions): void {
  if (opts.mode === 'append') return;
  if (!opts.mergeKeys || opts.mergeKeys.length === 0) {
    throw new LakeError('PIPE_LAKE_NO_KEYS', `${opts.mode} into ${tablePath} needs mergeKeys`);
  }
  if (opts.mode === 'scd2' && !opts.sequenceBy) {
    throw new LakeError('PIPE_LAKE_NO_SEQUENCE', `scd2 into ${tablePath} needs sequenceBy`);
  }
}

function requireColumns(tablePath: string, columns: TypedColumn[], names: string[], what: string): void {
  for (const n of names) {
    if (!columns.some((c) => c.name.toLowerCase() === n.toLowerCase())) {
      throw new SchemaMismatchError('PIPE_LAKE_MISSING_COLUMN', `table ${tablePath}: ${what} column ${n} is not in the table or the batch`, {
        details: { table: tablePath, column: n },
      });
    }
  }
}

/**
 * Narrows the stats-pruned candidates to the files that hold at least one of the batch's
 * keys. Reads only the key columns (projection pushdown), so a candidate whose key range
 * merely overlaps the batch costs a column scan, not a full read and rewrite.
 */
async function filesHoldingKeys(c: Conn, state: TableState, candidates: LiveFile[], mergeKeys: string[]): Promise<LiveFile[]> {
  // One candidate is read whole anyway when it holds a key (the common case): no probe.
  if (candidates.length <= 1) return candidates;
  const probe = await scanRelation(c, state, { files: candidates, withFile: true });
  const match = mergeKeys.map((k) => `t.${quoteIdent(k)} IS NOT DISTINCT FROM s.${quoteIdent(k)}`).join(' AND ');
  const rows = await c.json(`SELECT DISTINCT t.${FILE_COLUMN} AS f FROM ${probe} AS t WHERE EXISTS (SELECT 1 FROM src s WHERE ${match})`);
  const holding = new Set(rows.map((r) => String(r.f)));
  return candidates.filter((f) => holding.has(resolveDataPath(state.path, f.add.path)));
}

/**
 * Whether a merge's output surely fits one file: the rows of the files it rewrites plus
 * `addedRows`, at those files' bytes per row, under half the target size. Unknown row counts
 * (files without stats) and merges that rewrite nothing answer no.
 */
function fitsOneFile(rewritten: LiveFile[], addedRows: number, targetFileSize: number): boolean {
  let rows = 0;
  let bytes = 0;
  for (const f of rewritten) {
    const n = f.file.stats?.numRecords;
    if (typeof n !== 'number' || !Number.isFinite(n)) return false;
    rows += n;
    bytes += f.add.size;
  }
  if (rows === 0) return false;
  return ((rows + Math.max(0, addedRows)) * bytes) / rows <= targetFileSize / 2;
}

/**
 * Loads the batch as a write would (temp table `b`), so its `fail` expectations are checked
 * before any table of a batch commits; throws ExpectationFailedError for the first failing row.
 */
export async function checkWrite(c: Conn, tablePath: string, state: TableState | undefined, batch: BatchInput, opts: WriteOptions): Promise<void> {
  await loadRejects(c, tablePath, state, batch, opts);
}

/** Loads the batch as a write would and returns the rows it leaves out, writing nothing. */
export async function loadRejects(c: Conn, tablePath: string, state: TableState | undefined, batch: BatchInput, opts: WriteOptions): Promise<RejectedRow[]> {
  const loaded = await loadForWrite(c, tablePath, state, batch, opts);
  await c.run('DROP TABLE b');
  return loaded.rejected;
}

/**
 * Refuses a write that would give the table more than `opts.maxColumns` columns. Counted: the
 * table's columns, the ones the options name (declared, keys, sequence, partitions, rescued
 * data) and the batch's fields; not the columns the table sets itself, computes or attaches,
 * which come and go with its first commit. The whole batch stops rather than the records past
 * the limit failing: which records came first would decide that, so the tables would depend on
 * the batch cuts.
 */
function checkColumnLimit(tablePath: string, state: TableState | undefined, batch: BatchInput, opts: WriteOptions): void {
  const limit = opts.maxColumns;
  if (limit === undefined) return;
  const own = new Set([...systemColumns(opts).keys(), ...(opts.derive ?? []).map((d) => d.column.toLowerCase()), ...(batch.attached?.columns ?? []).map((c) => c.name.toLowerCase())]);
  const names = new Map<string, string>();
  const add = (name: string) => {
    const lower = name.toLowerCase();
    if (!own.has(lower) && !names.has(lower)) names.set(lower, name);
  };
  for (const f of state?.schema ?? []) add(f.name);
  for (const n of [...Object.keys(opts.columns ?? {}), ...(opts.mergeKeys ?? []), ...(opts.sequenceBy ? [opts.sequenceBy] : []), ...(opts.partitionBy ?? []), ...(opts.rescuedDataColumn ? [opts.rescuedDataColumn] : [])]) add(n);
  const before = names.size;
  if (batch.kind === 'ndjson') for (const n of Object.keys(batch.kinds ?? {})) add(n);
  else for (const row of batch.rows) for (const n of Object.keys(row)) add(n);
  if (names.size <= limit) return;
  const added = [...names.values()].slice(before);
  const listed = `${added.slice(0, 10).join(', ')}${added.length > 10 ? ` and ${added.length - 10} more` : ''}`;
  // A pipeline's table folder is named as the table.
  const table = path.basename(tablePath.replace(/\/+$/, ''));
  throw new LakeError('PIPE_LAKE_MAX_COLUMNS', `table ${tablePath}: this batch would give it ${names.size} columns, more than maxColumns (${limit}); its new fields: ${listed}`, {
    hint: `raise tables.${table}.maxColumns (up to 10,000), or keep those fields out of the records, then run again: the batch is replayed (tables that already took it skip it)`,
    details: { table: tablePath, columns: names.size, maxColumns: limit, newFields: added.slice(0, 100) },
  });
}

/** Validates the write and loads its batch into temp table `b`. */
async function loadForWrite(c: Conn, tablePath: string, state: TableState | undefined, batch: BatchInput, opts: WriteOptions) {
  validate(tablePath, opts);
  if (state && opts.pinLayout) {
    const changes = layoutChanges({ configuration: state.metadata?.configuration ?? {}, partitionColumns: state.metadata?.partitionColumns ?? [], schema: state.schema }, opts);
    if (changes.length > 0) throw layoutChangedError(tablePath, changes);
  }
  checkColumnLimit(tablePath, state, batch, opts);
  const known = state ? schemaColumns(state) : [];
  const systemNames = systemColumnNames(opts, state);
  return loadBatch(c, batch, {
    tableName: tablePath,
    known: known.filter((k) => !systemNames.has(k.name)),
    declared: opts.columns ?? {},
    into: 'b',
    ...(opts.sequenceBy ? { sequenceBy: opts.sequenceBy } : {}),
    required: state ? (state.metadata?.partitionColumns ?? []) : (opts.partitionBy ?? []),
    ...(opts.rescuedDataColumn ? { rescuedDataColumn: opts.rescuedDataColumn } : {}),
    ...(opts.derive && opts.derive.length > 0 ? { derive: opts.derive } : {}),
    ...(opts.where !== undefined ? { where: opts.where } : {}),
    ...(opts.expectations && opts.expectations.length > 0 ? { expectations: opts.expectations } : {}),
    keyColumns: opts.mode === 'append' ? [] : [...(opts.mergeKeys ?? []), ...(opts.sequenceBy ? [opts.sequenceBy] : [])],
    untyped: new Set((state?.schema ?? []).filter((f) => f.metadata?.[UNTYPED_KEY] === true).map((f) => f.name.toLowerCase())),
    holdsUnsafeIntegers: async (column) => {
      if (receivedUnsafeIntegers(state, column)) return true;
      // Tables written before the flag existed (or by other writers): the stored values tell.
      const rel = await scanRelation(c, state!);
      const [r] = await c.json(`SELECT coalesce(max(abs(${quoteIdent(column)})) > 9007199254740992, false) AS u FROM ${rel} AS t`);
      return r!.u === true;
    },
  });
}

export { UNSAFE_INTEGERS_KEY, UNTYPED_KEY } from './type-lattice.js';

function receivedUnsafeIntegers(state: TableState | undefined, column: string): boolean {
  return state?.schema.find((f) => f.name === column)?.metadata?.[UNSAFE_INTEGERS_KEY] === true;
}

/** Fields with the `key` mark set on those named in `names`. */
function mark(fields: DeltaField[], key: string, names: ReadonlySet<string>): DeltaField[] {
  return fields.map((f) => (names.has(f.name) ? { ...f, metadata: { ...f.metadata, [key]: true } } : f));
}

/** Columns the merge sets itself (scd2 history, upsert tombstones): a batch may not bring them. */
function systemColumnNames(opts: WriteOptions, state: TableState | undefined): Set<string> {
  if (opts.mode === 'scd2') return new Set(SCD2_COLUMNS);
  return new Set(opts.mode === 'upsert' && keepsTombstones({ ...opts, tombstones: holdsTombstones(state) }) ? [TOMBSTONE] : []);
}

/** Whether the table has the tombstone column (it was written with a sequence and deleteWhen). */
function holdsTombstones(state: TableState | undefined): boolean {
  return state?.schema.some((f) => f.name === TOMBSTONE) === true;
}

/**
 * A record bringing a column the table sets itself fails alone, as the validate stage refuses it
 * when the spec says the table sets the column (a table keeping the tombstones of a `deleteWhen`
 * its spec dropped is known only here); the column leaves the batch.
 */
async function refuseReserved(c: Conn, loaded: LoadedBatch, clashes: TypedColumn[], system: ReadonlyMap<string, string>): Promise<void> {
  const names = new Set(clashes.map((col) => col.name));
  const present = clashes.map((col) => `${quoteIdent(col.name)} IS NOT NULL`);
  const rows = await c.json(`SELECT rowid AS r, ${present.map((p, i) => `${p} AS c${i}`).join(', ')} FROM b WHERE ${present.join(' OR ')} ORDER BY rowid`);
  for (const r of rows) {
    const name = clashes.find((_, i) => r[`c${i}`] === true)!.name;
    loaded.rejected.push({ row: Number(r.r), reason: `field '${name}' is reserved: ${reservedColumnReason(name.toLowerCase(), system)}` });
  }
  if (rows.length > 0) await c.run(`DELETE FROM b WHERE ${present.join(' OR ')}`);
  for (const name of names) await c.run(`ALTER TABLE b DROP COLUMN ${quoteIdent(name)}`);
  loaded.rowCount -= rows.length;
  loaded.rejected.sort((a, b) => a.row - b.row);
  loaded.columns = loaded.columns.filter((col) => !names.has(col.name));
  loaded.newColumns = loaded.newColumns.filter((col) => !names.has(col.name));
  loaded.widened = loaded.widened.filter((w) => !names.has(w.name));
  loaded.unsafeIntegers = loaded.unsafeIntegers.filter((n) => !names.has(n));
  loaded.untyped = loaded.untyped.filter((n) => !names.has(n));
}

/** Plans a write against `state` (undefined: the table does not exist yet). */
export async function planWrite(c: Conn, tablePath: string, state: TableState | undefined, batch: BatchInput, opts: WriteOptions): Promise<WritePlan> {
  const loaded = await timed(opts.phases, 'load', () => loadForWrite(c, tablePath, state, batch, opts));
  const known = state ? schemaColumns(state) : [];
  const isScd2 = opts.mode === 'scd2';
  const systemNames = systemColumnNames(opts, state);
  const tombstones = systemNames.has(TOMBSTONE);
  const clashes = loaded.columns.filter((col) => systemNames.has(col.name.toLowerCase()));
  if (clashes.length > 0) await refuseReserved(c, loaded, clashes, systemColumns({ ...opts, tombstones: holdsTombstones(state) }));
  const readVersion = state?.version ?? -1;
  const commit: PlannedCommit = {
    readVersion,
    operation: opts.mode === 'append' ? 'WRITE' : 'MERGE',
    operationParameters: {
      mode: opts.mode,
      ...(opts.mergeKeys ? { mergeKeys: opts.mergeKeys } : {}),
      ...(opts.sequenceBy ? { sequenceBy: opts.sequenceBy } : {}),
      ...(opts.deleteWhen ? { deleteWhen: opts.deleteWhen } : {}),
      ...(opts.operationParameters ?? {}),
    },
    operationMetrics: {},
    isBlindAppend: opts.mode === 'append',
    adds: [],
    removes: [],
    readFiles: new Set(),
    ...(opts.txn ? { txn: opts.txn } : {}),
    ...(opts.marks && opts.marks.length > 0 ? { marks: opts.marks } : {}),
  };
  const widened = state ? loaded.widened : [];
  const plan: WritePlan = {
    commit, rowsIn: loaded.rowCount, rowsInserted: 0, rowsUpdated: 0, rowsDeleted: 0, empty: false, rejected: loaded.rejected, widened: widened.map((w) => w.name), expectations: loaded.expectations,
  };
  // A batch whose every row was refused still brought its columns and kinds: they count as a
  // stored batch's would (the table is created, columns added or widened), so a table's schema
  // does not depend on whether refused records shared a batch with stored ones.
  if (loaded.rowCount === 0 && loaded.rejected.length === 0) {
    // Nothing to write: only a write told to commit its txns anyway does (of an existing table).
    plan.empty = !(opts.commitEmpty && state);
    return plan;
  }
  if (opts.measureQuality !== false && loaded.rowCount > 0) plan.quality = await batchQuality(c, 'b', loaded.columns, opts.mode === 'append' ? [] : (opts.mergeKeys ?? []));
  // Final table columns: the table's own, then the batch's new ones (then scd2's system columns).
  const dataColumns = opts.deletedColumn ? loaded.columns.filter((col) => col.name !== opts.deletedColumn) : loaded.columns;
  let columns: TypedColumn[] = dataColumns;
  // System columns an older scd2 table lacks (added, nullable, by this commit).
  const addedSystem: TypedColumn[] = [];
  // System columns whose type follows a widened sequence column (cast and rewritten with it).
  const retypedSystem: TypedColumn[] = [];
  if (isScd2) {
    const seqType = dataColumns.find((d) => d.name.toLowerCase() === opts.sequenceBy!.toLowerCase())?.type;
    if (!seqType) requireColumns(tablePath, dataColumns, [opts.sequenceBy!], 'sequenceBy');
    const prim = (name: string): DuckType => ({ kind: 'primitive', name });
    const system: TypedColumn[] = [
      { name: SCD2_START, type: seqType! },
      { name: SCD2_END, type: seqType! },
      { name: SCD2_CURRENT, type: prim('BOOLEAN') },
      { name: SCD2_SEEN, type: { kind: 'list', element: seqType! } },
    ];
    // Source positions are kept once a batch brings them (pipeline run always does).
    if (batch.positions !== undefined || known.some((k) => k.name === SCD2_SOURCES)) {
      const position: DuckType = { kind: 'struct', fields: [{ name: 'seq', type: seqType! }, { name: 'partition', type: prim('INTEGER') }, { name: 'offset', type: prim('BIGINT') }] };
      system.push({ name: SCD2_SOURCES, type: { kind: 'list', element: position } });
    }
    if (state && !SCD2_NAMES.every((n) => known.some((k) => k.name === n))) {
      throw new LakeError('PIPE_LAKE_NOT_SCD2', `table ${tablePath} has no ${SCD2_NAMES.join('/')} columns: it was not written in scd2 mode`);
    }
    const byName = new Map([...system, ...dataColumns].map((d) => [d.name, d]));
    for (const s of system) {
      const k = known.find((col) => col.name === s.name);
      if (state && !k) addedSystem.push(s);
      else if (k && renderDuckType(k.type) !== renderDuckType(s.type)) retypedSystem.push(s);
    }
    columns = state ? [...known.map((k) => byName.get(k.name) ?? k), ...loaded.newColumns, ...addedSystem] : [...dataColumns, ...system];
  }
  // Upsert with source positions: each row keeps its record's position (ties in sequenceBy).
  const positions = opts.mode === 'upsert' && opts.sequenceBy !== undefined && batch.positions !== undefined;
  if (positions) {
    for (const [name, type] of [[SOURCE_PARTITION, 'INTEGER'], [SOURCE_OFFSET, 'BIGINT']] as const) {
      if (columns.some((col) => col.name.toLowerCase() === name)) continue;
      const col: TypedColumn = { name, type: { kind: 'primitive', name: type } };
      columns = [...columns, col];
      if (state) addedSystem.push(col);
    }
  }
  if (tombstones) {
    const col: TypedColumn = { name: TOMBSTONE, type: { kind: 'primitive', name: 'BOOLEAN' } };
    const at = known.findIndex((k) => k.name === TOMBSTONE);
    if (at >= 0) {
      // Keep the table's column order: the column sits where the schema has it.
      const i = columns.findIndex((col) => col.name === known[at + 1]?.name);
      columns = i >= 0 ? [...columns.slice(0, i), col, ...columns.slice(i)] : [...columns, col];
    } else {
      columns = [...columns, col];
      if (state) addedSystem.push(col);
    }
  }
  const partitionColumns = state ? (state.metadata!.partitionColumns ?? []) : (opts.partitionBy ?? []);
  requireColumns(tablePath, columns, partitionColumns, 'partition');
  if (opts.mode !== 'append') {
    requireColumns(tablePath, dataColumns, opts.mergeKeys!, 'merge key');
    if (opts.sequenceBy) requireColumns(tablePath, dataColumns, [opts.sequenceBy], 'sequenceBy');
  }
  // Columns that received an integer beyond ±2^53 for the first time: the schema remembers it.
  const unsafe = new Set(loaded.unsafeIntegers.filter((n) => !receivedUnsafeIntegers(state, n)));
  // Placeholder columns: marked while they hold only NULLs (a retyped one loses the mark below).
  const untyped = new Set(loaded.untyped);
  const marks = (fields: DeltaField[]) => mark(mark(fields, UNSAFE_INTEGERS_KEY, unsafe), UNTYPED_KEY, untyped);
  const newlyUntyped = loaded.untyped.filter((n) => state?.schema.find((f) => f.name === n)?.metadata?.[UNTYPED_KEY] !== true);
  if (!state) {
    const fields = marks(columnsToFields(columns.map((col) => ({ name: col.name, type: renderDuckType(col.type), nullable: true }))));
    commit.protocol = { minReaderVersion: 1, minWriterVersion: 2 };
    commit.metadata = newMetadata(schemaString(fields), partitionColumns, { configuration: { ...(opts.pinLayout ? layoutConfiguration(opts) : {}), ...(opts.configuration ?? {}) } });
  } else if (loaded.newColumns.length > 0 || widened.length > 0 || addedSystem.length > 0 || retypedSystem.length > 0 || unsafe.size > 0 || newlyUntyped.length > 0) {
    const added = columnsToFields([...loaded.newColumns, ...addedSystem].map((col) => ({ name: col.name, type: renderDuckType(col.type), nullable: true })));
    const retyped = new Map([...widened.map((w) => ({ name: w.name, type: w.to as string })), ...retypedSystem.map((s) => ({ name: s.name, type: renderDuckType(s.type) }))]
      .map((w) => [w.name, columnsToFields([{ name: w.name, type: w.type, nullable: true }])[0]!.type]));
    // A retyped column is no longer BIGINT, nor a placeholder: its marks have served.
    const fields = state.schema.map((f) => {
      if (!retyped.has(f.name)) return f;
      const { [UNSAFE_INTEGERS_KEY]: _unsafe, [UNTYPED_KEY]: _untyped, ...metadata } = f.metadata ?? {};
      return { ...f, type: retyped.get(f.name), metadata };
    });
    commit.metadata = { ...state.metadata!, schemaString: schemaString(marks([...fields, ...added])) };
  }
  // Merge-on-read needs the deletionVectors feature: a new table starts with it, an older one is upgraded by this commit.
  const wantsDvs = opts.writeMode === 'merge-on-read' && opts.mode !== 'append';
  if (wantsDvs) {
    const upgrade = deletionVectorProtocol(state?.protocol);
    if (upgrade) commit.protocol = upgrade;
    const md = commit.metadata ?? state!.metadata!;
    if (!deletionVectorsEnabled(md.configuration)) commit.metadata = { ...md, configuration: { ...md.configuration, [ENABLE_DELETION_VECTORS]: 'true' } };
  }
  const configuration = state?.metadata?.configuration ?? opts.configuration;
  const fileSize = targetFileSize(configuration);
  const orderBy = opts.mode === 'append' ? [] : isScd2 ? [...opts.mergeKeys!, SCD2_START] : opts.mergeKeys!;

  const schemaForChecks = state?.schema ?? [];
  // A widened column: every live file is read with the new type and written again in this commit.
  const rewriteAll = state !== undefined && (widened.length > 0 || retypedSystem.length > 0);
  const oldColumns = new Set(known.map((k) => k.name.toLowerCase()));
  const casts = new Map([
    ...widened.map((w): [string, string] => [w.name, widenSql(w.name, w.from, w.to)]),
    ...retypedSystem.map((s): [string, string] => [s.name, `CAST(${quoteIdent(s.name)} AS ${renderDuckType(s.type)})`]),
  ]);
  const rewriteAllFiles = () => {
    for (const f of state!.files.values()) {
      commit.removes.push({ ...removeFor(f.add), dataChange: false });
      commit.readFiles.add(fileKey(f.add.path));
    }
  };
  if (opts.mode === 'append') {
    await checkConstraints(c, tablePath, 'b', schemaForChecks);
    if (rewriteAll) {
      // The stored rows are written again under the widened types, unchanged: like a compaction
      // (`dataChange: false`), so a streaming reader of the table reads only the batch's rows,
      // not the whole table again (nor stops on an append-only table as if rows had changed).
      await prepareTarget(c, await scanRelation(c, state!, { withFile: true }), columns, oldColumns, casts);
      await c.run(`CREATE TEMP VIEW "out" AS SELECT ${columns.map((col) => quoteIdent(col.name)).join(', ')} FROM tgt`);
      const rewritten = await timed(opts.phases, 'files', () => writeDataFiles(c, { tablePath, source: '"out"', columns, partitionColumns, orderBy, targetFileSize: fileSize }));
      commit.adds.push(...rewritten.map((a) => ({ ...a, dataChange: false })));
      rewriteAllFiles();
    }
    commit.adds.push(...(await timed(opts.phases, 'files', () => writeDataFiles(c, { tablePath, source: 'b', columns, partitionColumns, orderBy, targetFileSize: fileSize }))));
    plan.rowsInserted = loaded.rowCount;
  } else {
    const spec = {
      mergeKeys: opts.mergeKeys!, ...(opts.sequenceBy ? { sequenceBy: opts.sequenceBy } : {}), ...(opts.deleteWhen ? { deleteWhen: opts.deleteWhen } : {}), tombstones,
      ...(opts.deletedColumn ? { deletedColumn: opts.deletedColumn } : {}),
    };
    if (opts.deleteWhen) {
      // A column the predicate names but this batch lacks is NULL (its records simply do not match).
      const present = new Set(dataColumns.map((d) => d.name.toLowerCase()));
      for (const ref of await sqlColumnRefs(c, opts.deleteWhen)) {
        if (!present.has(ref.toLowerCase())) {
          present.add(ref.toLowerCase());
          await c.run(`ALTER TABLE b ADD COLUMN ${quoteIdent(ref)} VARCHAR`);
        }
      }
    }
    try {
      await prepareSource(c, 'b', dataColumns, spec, isScd2 ? 'scd2' : 'upsert', batch.positions !== undefined && (isScd2 || positions));
    } catch (err) {
      if (opts.deleteWhen) throw new LakeError('PIPE_LAKE_BAD_DELETE_WHEN', `deleteWhen of ${tablePath} is not a valid predicate over the batch: ${(err as Error).message}`, { cause: err });
      throw err;
    }
    const filter = await buildKeyFilter(c, 'src', opts.mergeKeys!, columns, partitionColumns);
    commit.keyFilter = filter;
    // A widening rewrites every file anyway: no deletion vectors then.
    const mor = wantsDvs && state !== undefined && !rewriteAll;
    const pruned = state && !rewriteAll ? [...state.files.values()].filter((f) => mayHoldKeys(f, filter)) : [];
    // An upsert finds the files holding the batch's keys with its own key join (the output then
    // reads only those, below), and merge-on-read reads only the rows of the batch's keys anyway:
    // neither needs a separate probe.
    const narrowAfterMatch = state !== undefined && !mor && !rewriteAll && !isScd2;
    const candidates = !state ? [] : rewriteAll ? [...state.files.values()] : mor || narrowAfterMatch ? pruned : await filesHoldingKeys(c, state, pruned, opts.mergeKeys!);
    // Copy-on-write reads the files where they are (merge-on-read copies only its keys' rows).
    const inPlace = state !== undefined && !mor;
    const relation = state
      ? await scanRelation(c, state, { files: candidates, withFile: true, withRowIndex: mor || inPlace, ...(mor ? { matching: { relation: 'src', keys: opts.mergeKeys! } } : {}) })
      : `(SELECT NULL AS __lake_file WHERE false)`;
    // A merge-on-read upsert copies no stored row: only the columns that decide who wins are read.
    const deciding = new Set([...opts.mergeKeys!, opts.sequenceBy ?? '', SOURCE_PARTITION, SOURCE_OFFSET, TOMBSTONE].map((n) => n.toLowerCase()));
    const targetColumns = mor && !isScd2 ? columns.filter((col) => deciding.has(col.name.toLowerCase())) : columns;
    await prepareTarget(c, relation, targetColumns, oldColumns, casts, mor, mor ? opts.mergeKeys! : undefined, inPlace);
    const outcome = isScd2 ? await mergeScd2(c, columns, dataColumns, spec, rewriteAll, mor) : await mergeUpsert(c, columns, spec, rewriteAll, positions, mor);
    if (rewriteAll) outcome.rewrittenFiles = candidates.map((f) => resolveDataPath(tablePath, f.add.path));
    const byResolved = new Map(candidates.map((f) => [resolveDataPath(tablePath, f.add.path), f]));
    if (narrowAfterMatch && outcome.rewrittenFiles.length < candidates.length) {
      // The kept rows come from the rewritten files only: `tgt` now reads just those (row numbers
      // are per file, so the matches found over all candidates still name the same rows).
      const holding = outcome.rewrittenFiles.map((p) => byResolved.get(p) ?? byResolved.get(path.normalize(p))).filter((f): f is LiveFile => f !== undefined);
      await c.run('DROP VIEW tgt');
      await prepareTarget(c, await scanRelation(c, state!, { files: holding, withFile: true, withRowIndex: true }), targetColumns, oldColumns, casts, false, undefined, true);
    }
    const rewritten: LiveFile[] = [];
    if (outcome.replaced) {
      const touched = await markReplacedRows(c, state!, outcome.replaced, byResolved, commit);
      outcome.rewrittenFiles = [];
      if (touched.length > 0 && state?.metadata?.configuration?.['delta.appendOnly'] === 'true') {
        throw new LakeError('PIPE_LAKE_APPEND_ONLY', `table ${tablePath} is append-only (delta.appendOnly=true); this merge would delete rows`);
      }
    }
    for (const p of outcome.rewrittenFiles) {
      const f = byResolved.get(p) ?? byResolved.get(path.normalize(p));
      if (!f) throw new LakeError('PIPE_LAKE_INTERNAL', `merge rewrote ${p}, which is not a candidate file`);
      rewritten.push(f);
      commit.removes.push(removeFor(f.add));
      commit.readFiles.add(fileKey(f.add.path));
    }
    if (state?.metadata?.configuration?.['delta.appendOnly'] === 'true' && commit.removes.length > 0) {
      throw new LakeError('PIPE_LAKE_APPEND_ONLY', `table ${tablePath} is append-only (delta.appendOnly=true); this merge would rewrite files`);
    }
    await checkConstraints(c, tablePath, outcome.out, schemaForChecks);
    // Sorting by the merge keys narrows each file's key range; one output file gains nothing from it.
    const sortBy = fitsOneFile(rewritten, outcome.inserted - outcome.deleted, fileSize) ? [] : orderBy;
    commit.adds = [...commit.adds, ...(await timed(opts.phases, 'files', () => writeDataFiles(c, { tablePath, source: outcome.out, columns, partitionColumns, orderBy: sortBy, targetFileSize: fileSize })))];
    plan.rowsInserted = outcome.inserted;
    plan.rowsUpdated = outcome.updated;
    plan.rowsDeleted = outcome.deleted;
  }
  commit.operationMetrics = {
    numSourceRows: loaded.rowCount,
    numTargetRowsInserted: plan.rowsInserted,
    numTargetRowsUpdated: plan.rowsUpdated,
    numTargetRowsDeleted: plan.rowsDeleted,
    numAddedFiles: commit.adds.length,
    numRemovedFiles: commit.removes.length,
    numOutputBytes: commit.adds.reduce((s, a) => s + a.size, 0),
  };
  const changesNothing = commit.adds.length === 0 && commit.removes.length === 0 && !commit.metadata;
  plan.empty = changesNothing && !opts.txn;
  return plan;
}
