/**
 * The typed pipeline spec, as produced by the loader after interpolation, `--set`
 * overrides, schema validation and defaults. Everything downstream (planner, runtime)
 * reads only this shape. `schema/pipeline.schema.json` describes the same shape; a test
 * fails when the two drift.
 */

/** A duration string: `<number><ms|s|m|h|d>`, e.g. `250ms`, `5s`, `1m`. */
export type Duration = string;

export type RecordFormat = 'json' | 'avro' | 'protobuf';
export type WireFormat = 'confluent' | 'raw';
export type StartingOffsets = 'earliest' | 'latest';
export type TableMode = 'upsert' | 'append' | 'scd2';
export type UnmatchedPolicy = 'dead_letter' | 'drop';

/** Kafka coordinates a table may hold as columns (`_kafka_<name>`). */
export type MetadataColumn = 'key' | 'headers' | 'partition' | 'offset' | 'timestamp' | 'topic';
/** How record keys are read: UTF-8 text, JSON, or raw bytes. */
export type KeyFormat = 'string' | 'json' | 'bytes';

/** What happens to a record for which an expectation is not true. */
export type ExpectationAction = 'warn' | 'drop' | 'quarantine' | 'fail';

/** A named data-quality rule: a DuckDB SQL boolean over the record's columns (`expr`), or a key unique within the batch (`unique`). */
export interface ExpectationSpec {
  name: string;
  /** Exactly one of `expr` and `unique` (PIPE0071). */
  expr?: string;
  /** Columns whose values no two records of one batch and table may share; later ones fail (not with `fail`, PIPE0072). */
  unique?: string[];
  /** Default `warn` (keep the record, count it). */
  action: ExpectationAction;
}

export interface SaslSpec {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  /** Should come from `${ENV_VAR}`; redacted in every output. */
  password: string;
}

export interface KafkaSourceSpec {
  /** Normalised to a list (a comma-separated string is split). */
  brokers: string[];
  topic: string;
  /** First start only; later runs resume from the checkpoint. Default `earliest`. */
  startingOffsets: StartingOffsets;
  /** Consumer group id prefix; default `pipeline-<name>`. Stream i uses `<prefix>-<i>`. */
  groupIdPrefix?: string;
  clientId?: string;
  ssl?: boolean;
  sasl?: SaslSpec;
  /** When retention removed offsets the checkpoint needs: true (default) stops with an error. */
  failOnDataLoss: boolean;
}

/** A Confluent-compatible schema registry (credentials come from environment variables). */
export interface SchemaRegistrySpec {
  url: string;
  /** Environment variable holding `user:password` for basic auth. */
  basicAuthEnv?: string;
  /** Environment variable holding a bearer token. */
  bearerTokenEnv?: string;
}

/** Where the writer (and reader) schema of avro/protobuf values comes from. */
export interface SourceSchemaSpec {
  /** `.avsc` (avro) or `.proto` (protobuf) file; relative paths resolve from the working directory. */
  file?: string;
  /** Protobuf with `file`: the fully qualified message type of the values. */
  messageType?: string;
  /** Avro: reader schema file every writer schema resolves to (one stable table shape). */
  reader?: string;
  /** Fetch schemas (avro, protobuf) by the id in each value's Confluent header. */
  registry?: SchemaRegistrySpec;
}

/** Where a Delta source starts on its first run: version 0 (`earliest`), a version number, or the current version (`latest`). */
export type StartingVersion = number | 'earliest' | 'latest';

/** A Delta table read as a stream: the rows each new version adds (see src/lake/changes.ts). */
export interface DeltaSourceSpec {
  /** Table location: a path (relative to the working directory) or an `s3://` URI. */
  path: string;
  /** A version that updated or deleted rows: `fail` (default) stops; `ignore` reads its added files in full. */
  removes: 'fail' | 'ignore';
  /** First run only; later runs resume from the checkpoint. Default `earliest` (version 0). */
  startingVersion: StartingVersion;
}

export interface SourceSpec {
  /** Exactly one of `kafka` and `delta` (PIPE0075). */
  kafka?: KafkaSourceSpec;
  delta?: DeltaSourceSpec;
  /** Record value encoding. Default `json`. */
  format: RecordFormat;
  /** Framing of avro/protobuf values: `confluent` (magic byte + schema id, the default) or `raw`. */
  wireFormat?: WireFormat;
  /** Schema of avro/protobuf values. */
  schema?: SourceSchemaSpec;
  /** Computed columns of every table (before each table's own): name -> DuckDB SQL expression. */
  derive?: Record<string, string>;
  /** SQL predicate every record must meet to reach its table; the others are counted drops. */
  where?: string;
  /** Checked on every table's records, before each table's own. */
  expectations?: ExpectationSpec[];
  /** Kafka coordinates written as columns of every table (`_kafka_key`, `_kafka_partition`, ...). */
  metadataColumns?: MetadataColumn[];
  /** How the `_kafka_key` column reads keys. Default `string`. */
  keyFormat?: KeyFormat;
}

export interface TriggerSpec {
  /** A batch closes after this long... Default `5s`. */
  interval: Duration;
  /** ...or at this many records, whichever comes first. Default 100000. */
  maxRecordsPerBatch: number;
}

/** What happens to a record whose event time is behind its partition's watermark. */
export type LateDataPolicy = 'drop' | 'dead_letter' | 'keep';

export interface WatermarkSpec {
  column: string;
  delay: Duration;
  /** Late records: `dead_letter` (default, reason `late`), `drop` (counted), or `keep` (stored, left out of windows). */
  lateData?: LateDataPolicy;
  /** A partition with no records for this long stops holding the stream's watermark back. */
  idleTimeout?: Duration;
}

/** A window over event time. `slide` (sliding windows only) must divide `size`. */
export interface WindowSpec {
  type: 'tumbling' | 'sliding';
  size: Duration;
  slide?: Duration;
}

/** One windowed aggregation over routed tables, written to its own Delta table. */
export interface AggregationSpec {
  /** Tables whose records (after routing and shaping) feed the windows. */
  from: string[];
  window: WindowSpec;
  groupBy?: string[];
  /** Output column -> DuckDB aggregate: `count(*)`, `count(c)`, `sum(c)`, `min(c)`, `max(c)` or `avg(c)`. */
  measures: Record<string, string>;
  /** `update` (default): partial results merged every batch; `append`: each window written once, when final. */
  outputMode?: 'update' | 'append';
  /** Partition columns of the output table: group keys or `window_date` / `window_hour`. */
  partitionBy?: string[];
}

export interface RoutingSpec {
  /** Top-level field of the record whose value selects the route. */
  field: string;
  /** Field value -> table name. */
  routes: Record<string, string>;
  /** What happens to records whose field matches no route. Default `dead_letter`. */
  unmatched: UnmatchedPolicy;
}

export interface TableSpec {
  /** `upsert` when mergeKeys is set (default), else `append`. */
  mode: TableMode;
  mergeKeys?: string[];
  /** Required for upsert and scd2: the greater value wins. */
  sequenceBy?: string;
  partitionBy?: string[];
  /** Declared columns: name -> DuckDB type name. Other columns are inferred. */
  columns?: Record<string, string>;
  /** SQL predicate over the record; matching records delete their key (CDC). */
  deleteWhen?: string;
  /** Computed columns: name -> DuckDB SQL expression over the record's columns (and earlier derived ones). */
  derive?: Record<string, string>;
  /** SQL predicate a record must meet to be written; the others are counted drops. */
  where?: string;
  /** Data-quality rules checked on the table's records (after the source's). */
  expectations?: ExpectationSpec[];
  /**
   * Column receiving, as JSON, the values that do not convert to their declared column type
   * (the record is kept). Without it such a record goes to the dead-letter table.
   */
  rescuedDataColumn?: string;
  /** Most distinct top-level keys (columns) the table takes; a record adding more fails. Default 1000. */
  maxColumns?: number;
  /**
   * How upsert/scd2 batches change stored rows: `copy-on-write` (default) rewrites the files
   * holding replaced rows; `merge-on-read` writes only the new rows and marks the replaced ones
   * with Delta deletion vectors (readers need deletion-vector support).
   */
  writeMode?: TableWriteMode;
  /** Housekeeping done by the runner while it writes the table. */
  maintenance?: TableMaintenance;
}

/** See {@link TableSpec.maintenance}. */
export interface TableMaintenance {
  /** At each checkpoint, compact small files (and fold deletion vectors) when they have piled up. */
  compactSmallFiles?: boolean;
  /** At each checkpoint, delete log entries older than `delta.logRetentionDuration` (30 days) behind it. */
  cleanupLog?: boolean;
}

/** See {@link TableSpec.writeMode}. */
export type TableWriteMode = 'copy-on-write' | 'merge-on-read';

export interface DeadLetterSpec {
  /** Table name under output.path. Default `_dead_letter`. */
  table: string;
  /** Stop the run once more than this share of its records went to the dead-letter table. Default 0.5. */
  maxRatio?: number;
  /** Stop the run once more than this many of its records went to the dead-letter table. */
  maxRecords?: number;
}

export interface OutputSpec {
  /** Directory holding one Delta table per table name. */
  path: string;
}

export interface CheckpointSpec {
  /** Directory holding per-stream checkpoints. Default `<output.path>/_checkpoints`. */
  path: string;
}

/** Health limits `pipeline status` exits 1 on (and the shipped alert rules mirror). */
export interface AlertsSpec {
  /** Most records the pipeline may be behind the topic's end. */
  maxLag?: number;
  /** Longest a stream with lag may go without committing a batch, in seconds. */
  maxLagSeconds?: number;
}

/** `fused` runs the whole graph as one job; `staged` splits it into raw, bronze and gold jobs. */
export type PipelineMode = 'fused' | 'staged';

/** A staged job's overrides of the top-level settings (bronze, gold: they read Delta tables by version). */
export interface StageSpec {
  trigger?: StageTriggerSpec;
}

/** When bronze or gold looks for new versions of the table it reads, once caught up. */
export interface StageTriggerSpec {
  interval?: Duration;
}

/** The raw job's overrides: it alone reads Kafka, so it alone has streams. */
export interface RawStageSpec {
  /** Replaces the top-level trigger's fields for this job. */
  trigger?: Partial<TriggerSpec>;
  /** Its parallel streams (default: top-level `streams`). */
  streams?: number;
  /** Partition the raw table by `ingest_date`, the UTC date of each record's Kafka timestamp (default false). */
  partitionByDate?: boolean;
}

/** Per-job overrides in `mode: staged`. */
export interface StagesSpec {
  raw?: RawStageSpec;
  bronze?: StageSpec;
  gold?: StageSpec;
}

export interface PipelineSpec {
  apiVersion: 'pipeline/v1';
  /** Lowercase slug; keys checkpoints, consumer groups and txn app ids. */
  name: string;
  description?: string;
  source: SourceSpec;
  /** Parallel streams; partition p belongs to stream p % streams. Default 1. */
  streams: number;
  trigger: TriggerSpec;
  watermark?: WatermarkSpec;
  routing: RoutingSpec;
  tables: Record<string, TableSpec>;
  /** Windowed aggregations by output table name. */
  aggregations?: Record<string, AggregationSpec>;
  deadLetter: DeadLetterSpec;
  output: OutputSpec;
  checkpoint: CheckpointSpec;
  alerts?: AlertsSpec;
  /** Default `fused`. */
  mode?: PipelineMode;
  /** `mode: staged`: overrides per job. */
  stages?: StagesSpec;
}

/** A position in a source file, 1-based. */
export interface SourcePosition {
  line: number;
  col: number;
}

export type Severity = 'error' | 'warning';

/**
 * A spec problem as a value. Printed `file:line:col: severity CODE message`, then the hint.
 * `path` is the JSON pointer-ish dotted path of the offending node (`tables.orders.mergeKeys`).
 */
export interface Diagnostic {
  code: string;
  severity: Severity;
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
  hint?: string;
}
