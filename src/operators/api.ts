/**
 * The small API operators see. Operators never import runtime internals: the runtime hands
 * them plain values (raw record values, table rules, a lake handle) described here.
 */

/** Where a record failed; recorded in the dead-letter table's `stage` column (`late`: behind the watermark). */
export type FailureStage = 'decode' | 'route' | 'validate' | 'derive' | 'expectation' | 'sink' | 'late';

/** One record that goes to the dead-letter table instead of its gold table. */
export interface RecordFailure {
  /** Index of the record in the batch (the order the runtime gave it). */
  index: number;
  /** The table the record was routed to, when it got that far. */
  table?: string;
  stage: FailureStage;
  /** Human-readable reason, e.g. `merge key 'id' is missing`. */
  error: string;
}

/** What a table needs from a record before the record may be sunk into it. */
export interface TableRules extends Pick<DeltaSinkConfig, 'table' | 'mode' | 'mergeKeys' | 'sequenceBy' | 'deleteWhen'>, Partial<Pick<DeltaSinkConfig, 'partitionBy'>> {
  /**
   * Known column types (DuckDB type names): the table's current columns merged with the
   * spec's declared ones. Their spelling is the one records are matched to (case-insensitively).
   */
  columns: Record<string, string>;
  /** Names of the spec's declared columns (fixed types). */
  declared?: string[];
  /**
   * Columns the table computes while loading (`derive`): a record's own field of that name is
   * left out (the computed value is the column), and merge keys or a sequence among them are
   * checked after computing, not on the record.
   */
  derived?: string[];
}

/** The routing step's configuration (the plan's `routing`). */
export interface RoutingRules {
  field: string;
  /** Field value -> table name. */
  routes: Record<string, string>;
  unmatched: 'dead_letter' | 'drop';
}

/**
 * A batch of raw record values, packed into one buffer so it can move between threads in a
 * single transfer: value i is `data[starts[i], starts[i+1])`; `nulls[i] === 1` marks a record
 * whose value is null (a tombstone).
 */
export interface PackedValues {
  data: Uint8Array;
  /** Length count+1. */
  starts: Int32Array;
  nulls: Uint8Array;
}

/** One table's share of a routed batch: the NDJSON file holding its raw values. */
export interface RoutedTable {
  table: string;
  /** NDJSON file, one raw JSON object per line, in batch order. */
  path: string;
  count: number;
  /** Batch indices of the records in the file, in file order. */
  indices: Int32Array;
  /** Every top-level key of the file's records (table spelling) with its JSON kinds (see `BatchInput.kinds`). */
  kinds: Record<string, number>;
}

/** Result of running a batch through the plan's record-level operators. */
export interface RoutedBatch {
  tables: RoutedTable[];
  failures: RecordFailure[];
  /** Records dropped where the spec asked for it (e.g. `unmatched: drop`). */
  dropped: number;
  /** State of the stateful operators after this batch, by node id (committed with the batch). */
  state: Record<string, unknown>;
  /** What operators with their own output table emit for this batch, by node id (e.g. window rows). */
  outputs?: Record<string, unknown>;
}

import type { BatchInput, ColumnDef, RejectedRow, WriteOptions, WriteResult } from '../lake/types.js';
import type { PipelineSpec, RecordFormat, SourceSchemaSpec, SourceSpec, StagesSpec, TableSpec } from '../spec/index.js';
import type { PropertiesOf } from './schema-builder.js';

/** The part of the lake a sink uses (the runtime passes its `Lake`). */
export interface TableWriter {
  exists(path: string): boolean | Promise<boolean>;
  columns(path: string): ColumnDef[] | Promise<ColumnDef[]>;
  write(path: string, batch: BatchInput, opts: WriteOptions): Promise<WriteResult>;
  /** Loads the batch as `write` would and throws ExpectationFailedError for a row failing a `fail` expectation. */
  checkExpectations?(path: string, batch: BatchInput, opts: WriteOptions): Promise<void>;
  /** Rows of the table's current version matching `where` (window outputs merge into them). */
  scan?(path: string, opts: { where?: string }): Promise<Record<string, unknown>[]>;
  /** The newest txn version the table holds for `appId`. */
  txnVersion?(path: string, appId: string): Promise<number | undefined>;
}

/**
 * A gold table's configuration as resolved from the spec: the one shape the planner, the
 * runtime and the sink share. Its layout fields are the lake's write options, defined there once.
 */
export interface DeltaSinkConfig extends Pick<WriteOptions, 'mode' | 'sequenceBy' | 'columns' | 'deleteWhen' | 'rescuedDataColumn' | 'derive' | 'where' | 'expectations' | 'maintenance'> {
  table: string;
  /** Absolute table directory. */
  path: string;
  mergeKeys: string[];
  partitionBy: string[];
  /** `merge-on-read`: replaced rows are marked with deletion vectors instead of files being rewritten. */
  writeMode?: 'merge-on-read';
  /** Most columns the table takes (see `WriteOptions.maxColumns`). */
  maxColumns?: number;
}

/** A plan node as operators see it (the planner's PlanNode, without importing the planner). */
export interface OperatorNode {
  id: string;
  kind: string;
  props: Record<string, unknown>;
}

/** A record handed to a decoder: bytes `data[start, end)` of a batch buffer, or a null value. */
export interface RawValue {
  data: Buffer;
  start: number;
  end: number;
  isNull: boolean;
  /** True when the whole batch is known to be valid UTF-8. */
  utf8: boolean;
}

/**
 * Where a record leaves a stage: an output port (`out`, a route value, `error`, `unmatched`)
 * with what it carries, or a counted drop the user asked for.
 */
export type StageResult = { port: string; value?: unknown; error?: string } | { drop: true };

/** A decoded record on its way through the graph. */
export interface DecodedRecord {
  fields: Record<string, unknown>;
  /** Numbers are lossless-json values (the record held integers beyond 2^53). */
  lossless: boolean;
  /**
   * The record's bytes are not its JSON text (an Avro or Protobuf value): table files get
   * `fields` serialised exactly (bigints as digits) instead of a copy of the bytes.
   */
  serialise?: boolean;
  /** The JSON text it was decoded from (valid while the record is walked; JSON records only). */
  source?: RawValue;
}

/**
 * Where the record being walked came from. One object per record, seen by every stage it
 * passes, so an upstream stage can mark it for a downstream one.
 */
export interface RecordPosition {
  /** Index of the record in the batch. */
  index: number;
  /** Its Kafka partition. */
  partition: number;
  /** Set by the watermark when the record is behind its partition's watermark and kept (`lateData: keep`). */
  late: boolean;
}

/** The per-batch runtime piece of a record-level operator. */
export interface RecordStage {
  process(input: unknown, at?: RecordPosition): StageResult;
  /** Stateful operators: the state after the records processed so far (committed with the batch). */
  snapshot?(): unknown;
  /** Operators with their own output table: what this batch writes to it (plain data, see `RoutedBatch.outputs`). */
  emit?(): unknown;
  /** Table sinks: the JSON kinds of the columns of the records they accepted. */
  kinds?: Record<string, number>;
}

/** What a stage factory gets besides its node. */
export interface StageContext {
  /** Rules per table (known columns, keys), for table sinks. */
  tables: Record<string, TableRules>;
  /** The operator's state as committed with the previous batch (undefined on a first run). */
  state?: unknown;
  /** What the operator's `prepare` resolved for this batch (plain data). */
  prepared?: unknown;
  /** The partitions the stream owns in this batch (all of them, including those without records). */
  partitions?: number[];
  /** Wall-clock time of the batch (ms), for idle timeouts. */
  now?: number;
  /**
   * Shared by the stages of one batch: an upstream operator publishes what a downstream one
   * reads (the watermark publishes `eventTime`, see watermark.ts).
   */
  shared?: Record<string, unknown>;
}

/** What an operator's `prepare` gets: the batch's values, before the (synchronous) transform. */
export interface PrepareContext {
  values: PackedValues;
  /** How long an unreachable remote service (e.g. a schema registry) is retried before the run stops. */
  retryForMs: number;
  /** Reports a retried failure (logged as a warning by the runtime). */
  warn(message: string, fields?: Record<string, unknown>): void;
}

/**
 * The spec objects operators add fields to, keyed by their path as the reference docs write
 * it (`root` is the top level), each with the interface in `src/spec/types.ts` its fields
 * belong to. Fields that configure no operator (`name`, `trigger`, `output`, ...) are the
 * spec layer's own.
 */
export interface SpecObjects {
  root: PipelineSpec;
  source: SourceSpec;
  'source.schema': SourceSchemaSpec;
  'tables.<name>': TableSpec;
  stages: StagesSpec;
}

/**
 * What an operator contributes to the spec's JSON Schema. Field keys are checked against the
 * spec interfaces at compile time; the assembled schema places each field where its object's
 * interface has it, and fails when a field has no operator or two operators define it
 * differently (a field several operators read, like `source.schema.file`, is one shared
 * schema object).
 */
export interface SpecFragment {
  /** A decoder: the `source.format` value that selects it. */
  format?: RecordFormat;
  /** The schema of each field the operator owns, by the spec object holding it. */
  fields?: { [At in keyof SpecObjects]?: Partial<PropertiesOf<SpecObjects[At]>> };
}

/**
 * One operator: everything the planner, the docs and the runtime need to know about a node
 * kind. The registry (`index.ts`) lists them; nothing switches over kinds elsewhere.
 */
export interface OperatorDefinition {
  kind: string;
  /** How renders draw it. */
  role: 'source' | 'transform' | 'router' | 'sink' | 'dead-letter';
  /** One line for the plan legend and the reference docs. */
  summary: string;
  /**
   * The operator's share of the spec: the JSON Schema of the fields it reads (and, for a
   * decoder, the `source.format` value that selects it). The spec's schema is assembled from
   * these (`src/spec/schema-definition.ts`); the reference docs name the operator beside them.
   */
  spec?: SpecFragment;
  /** Output ports besides route values, with what leaves through each (docs). */
  ports: Record<string, string>;
  /** The dead-letter `stage` of records that leave this node through an error port. */
  failureStage?: FailureStage;
  /** Why `pipeline run` cannot execute this kind yet (reported by validate, refused by run). */
  notRunnable?: string;
  /**
   * Resolves, on the stream thread and before the batch's transform, what the record stage
   * needs from outside the process (e.g. schemas by id from a registry). The result must be
   * plain data (it may cross to a decode thread); it reaches the stage as `ctx.prepared`.
   */
  prepare?(node: OperatorNode, ctx: PrepareContext): Promise<unknown>;
  /** Record-level runtime piece; absent for the source (the runtime's consumer feeds the graph). */
  recordStage?(node: OperatorNode, ctx: StageContext): RecordStage;
  /** Terminal nodes: records arriving here are collected for a table or the dead-letter table. */
  terminal?: 'table' | 'dead-letter';
  /**
   * Operators that run inside their table's load (SQL over the typed batch, evaluated by the
   * lake in the load's one statement): what the node adds to the load, and which of the
   * load's left-out rows are its own (for its counters and its dead-letter stage).
   */
  load?: LoadOperator;
  /**
   * The props as the text plan shows them, when the node's structured props (what the runtime
   * reads, what `plan --format json` prints) would read poorly as text.
   */
  renderProps?(props: Record<string, unknown>): Record<string, unknown>;
}

/**
 * A table's load program: what the nodes between route and the table sink add, in plan
 * order (computed columns, then the row filter, then expectations).
 */
export type TableLoad = Required<Pick<DeltaSinkConfig, 'derive' | 'expectations'>> & { where: string[] };

/** The load-time part of an operator (see {@link OperatorDefinition.load}). */
export interface LoadOperator {
  /** The lake step whose left-out rows belong to this node (`RejectedRow.step`). */
  step: NonNullable<RejectedRow['step']>;
  /** Adds the node's part (read from its props) to the table's load. */
  add(node: OperatorNode, load: TableLoad): void;
}

/** One load-time node's records over one batch of its table. */
export interface OperatorCount {
  node: string;
  kind: string;
  table: string;
  /** Rows that reached the node. */
  in: number;
  /** Rows it passed on. */
  out: number;
  /** Rows it dropped on purpose (`where`, `drop` expectations). */
  dropped: number;
  /** Rows it sent to the dead-letter table (expression errors, `quarantine` expectations). */
  deadLettered: number;
}
