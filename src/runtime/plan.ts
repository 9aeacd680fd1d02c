/**
 * The Plan: what `pipeline plan` renders and what `pipeline run` executes. It is a pure
 * function of the spec (see `compilePlan`), with deterministic node ids so renders are
 * stable and golden files do not churn. The runtime reads the resolved fields below
 * (`source`, `streams`, `trigger`, `routing`, `sinks`, `deadLetter`, `checkpointPath`);
 * `nodes`/`edges` are the reviewable DAG view of the same facts. It lives in the runtime layer
 * because it is the runtime's input: the planner writes it, and nothing here points back up.
 */
import type { DeltaSinkConfig } from '../operators/api.js';
import type { WindowSinkConfig } from '../operators/window-output.js';
import type { KafkaSourceSpec, StartingVersion, KeyFormat, MetadataColumn, RecordFormat, UnmatchedPolicy, PipelineSpec } from '../spec/index.js';

export type NodeKind =
  | 'source-kafka'
  | 'decode-json'
  | 'decode-avro'
  | 'decode-protobuf'
  | 'watermark'
  | 'route'
  | 'derive'
  | 'filter'
  | 'expect'
  | 'sink-delta'
  | 'sink-dead-letter'
  | 'window'
  | 'source-delta'
  | 'sink-raw';

/** One operator in the DAG. `props` are shown in renders, in key order given. */
export interface PlanNode {
  /** Deterministic, e.g. `source`, `decode`, `route`, `sink.orders`, `sink._dead_letter`. */
  id: string;
  kind: NodeKind;
  props: Record<string, unknown>;
}

/** A typed edge: `port` names the output of `from` (e.g. a route value, `error`, `unmatched`). */
export interface PlanEdge {
  from: string;
  to: string;
  port?: string;
}

/** A resolved table sink (gold table): the sink operator's configuration plus its node id. `path` is absolute. */
export interface SinkPlan extends DeltaSinkConfig {
  id: string;
  /** Most columns the table takes. */
  maxColumns: number;
  /** Set when the table merges on read (deletion vectors); absent: copy-on-write. */
  writeMode?: 'merge-on-read';
  /** Housekeeping at each checkpoint (absent: none). */
  maintenance?: { compactSmallFiles?: boolean; cleanupLog?: boolean };
}

/** A resolved windowed aggregation: its node id and output table. */
export interface WindowPlan extends WindowSinkConfig {
  id: string;
}

export interface StreamPlan {
  index: number;
  /** `<pipeline>/<index>`: the Delta txn appId and checkpoint directory name. */
  appId: string;
  /** Kafka consumer group id used for lag reporting. */
  groupId: string;
  /** Owned partitions, when the partition count is known (plan --partitions N, or at run time). */
  partitions?: number[];
}

/** A Delta source as the runtime reads it: the table's absolute location and the spec's rules. */
export interface DeltaSourcePlan {
  /** Absolute table location (a local path or an `s3://` URI). */
  path: string;
  /** As the spec spells it (renders). */
  specPath: string;
  removes: 'fail' | 'ignore';
  startingVersion: StartingVersion;
}

export interface Plan {
  planVersion: 1;
  pipeline: string;
  source: {
    id: string;
    /** Exactly one of `kafka` and `delta` is set. */
    kafka?: KafkaSourceSpec;
    delta?: DeltaSourcePlan;
    format: RecordFormat;
    /** Kafka coordinates attached to every table's rows as columns. */
    metadataColumns?: MetadataColumn[];
    keyFormat?: KeyFormat;
  };
  streams: StreamPlan[];
  /** Topic partition count the ownership in `streams` was computed for, when known. */
  topicPartitions?: number;
  trigger: { intervalMs: number; maxRecordsPerBatch: number };
  watermark?: { column: string; delayMs: number; lateData: 'drop' | 'dead_letter' | 'keep'; idleTimeoutMs?: number };
  routing: { field: string; routes: Record<string, string>; unmatched: UnmatchedPolicy };
  sinks: SinkPlan[];
  /** Windowed aggregations' output tables (absolute paths), by name order. */
  windows: WindowPlan[];
  deadLetter: { id: string; table: string; path: string; maxRatio: number; maxRecords?: number };
  /** Absolute. Stream i keeps its write-ahead log under `<checkpointPath>/<i>/`. */
  checkpointPath: string;
  /** Absolute output directory. */
  outputPath: string;
  nodes: PlanNode[];
  edges: PlanEdge[];
  /** Set on the plan of one job of a staged pipeline (runtime/staged-plan.ts); absent when fused. */
  job?: 'raw' | 'bronze';
  /** The spec the plan was compiled from (secrets included: never render this field). */
  spec: PipelineSpec;
}

/** Deterministic node ids; the runtime and the renders refer to nodes by these. */
export const NODE_IDS = {
  source: 'source',
  decode: 'decode',
  watermark: 'watermark',
  route: 'route',
  sink: (table: string): string => `sink.${table}`,
  derive: (table: string): string => `derive.${table}`,
  filter: (table: string): string => `filter.${table}`,
  expect: (table: string): string => `expect.${table}`,
  window: (name: string): string => `window.${name}`,
} as const;
