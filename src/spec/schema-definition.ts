/**
 * The spec's JSON Schema, written against the interfaces in `types.ts`. This is the single
 * source of truth for shape, documentation and simple defaults: the loader validates with
 * it (ajv applies the `default`s), `schema/pipeline.schema.json` is this object serialised
 * (a test fails on drift; set PIPELINE_UPDATE_SCHEMA=1 when running test/spec/schema.test.ts
 * to rewrite the file), and editors complete specs from the committed file.
 *
 * The schema is assembled from the operator registry: each operator defines the fields it
 * reads (`OperatorDefinition.spec`: `source.kafka` is source-kafka's, `tables.<name>.derive`
 * derive's) and each decoder its `source.format` value. This file writes only what configures
 * no operator (`name`, `streams`, `trigger`, `output`, `checkpoint`, `alerts`, `mode`,
 * `stages.bronze`/`gold`, the containers `source`, `source.schema`, `tables.<name>`,
 * `stages`, and `source.format`, whose values are the decoders') and places the operators' fields in the order of their interfaces: `take` names
 * them, typed by the interface, so `objectOf<T>` still fails typecheck for a field of `T` that
 * has no place.
 *
 * To add a field: add it to the interface in `types.ts`, then the compiler points here until
 * the schema has it, either written here or taken from the operator that reads it (and defined
 * in that operator's `spec.fields`). New components get their own `$defs` entry.
 *
 * Operators import the spec layer for types only: a value import from `src/spec/index.ts`
 * would close an import cycle through this file (test/import-boundaries.test.ts checks it).
 */
import type { OperatorDefinition } from '../operators/api.js';
import { operators } from '../operators/index.js';
import { field, mapOf, nonEmpty, objectOf, ref, type JsonSchema } from '../operators/schema-builder.js';
import { DURATION_PATTERN } from './duration.js';
import { operatorFields } from './operator-fields.js';
import type {
  AlertsSpec,
  CheckpointSpec,
  OutputSpec,
  PipelineSpec,
  SourceSchemaSpec,
  SourceSpec,
  StageSpec,
  StageTriggerSpec,
  StagesSpec,
  TableSpec,
  TriggerSpec,
} from './types.js';

/** Table names become directory names under `output.path`, so they are restricted. */
export const TABLE_NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$';
/** `name` keys checkpoints, consumer groups and txn app ids: a lowercase slug. */
export const NAME_PATTERN = '^[a-z][a-z0-9]*(-[a-z0-9]+)*$';

/** The `$id` of the schema (a URN: editors locate the file by path, not by id). */
export const SCHEMA_ID = 'urn:pipeline:schema:v1';

const trigger = objectOf<TriggerSpec>(
  {
    description: 'When a micro-batch closes: after `interval`, or at `maxRecordsPerBatch` records, whichever comes first.',
    default: { interval: '5s', maxRecordsPerBatch: 100000 },
    examples: [{ interval: '5s', maxRecordsPerBatch: 100000 }],
  },
  {
    interval: ref('Duration', { description: 'Longest time a batch stays open.', default: '5s', examples: ['5s', '500ms'] }),
    maxRecordsPerBatch: field(
      { description: 'Most records in one batch (per stream).', default: 100000, examples: [100000] },
      { type: 'integer', minimum: 1 },
    ),
  },
);

const versionTrigger = objectOf<StageTriggerSpec>(
  { description: 'When this job, once caught up, looks for new versions of the table it reads (a batch reads up to 1000 versions).', examples: [{ interval: '15m' }] },
  { interval: ref('Duration', { description: 'Wait between looks once caught up (default: top-level `trigger.interval`).', examples: ['15m', '10s'] }) },
);

const stage = (description: string) => objectOf<StageSpec>({ description, examples: [{ trigger: { interval: '15m' } }] }, { trigger: versionTrigger });

const output = objectOf<OutputSpec>(
  { description: 'Where tables are written.', examples: [{ path: './lake' }] },
  {
    path: field(
      { description: 'Directory holding one Delta table per table name. Relative paths resolve against the working directory.', examples: ['./lake', '/data/lake'] },
      nonEmpty,
    ),
  },
  ['path'],
);

const checkpoint = objectOf<CheckpointSpec>(
  { description: 'Where per-stream checkpoints live.', examples: [{ path: './lake/_checkpoints' }] },
  {
    path: field(
      { description: 'Checkpoint directory (a local or shared file system, not a bucket: PIPE0059). Default `<output.path>/_checkpoints`. No table may be written there.', examples: ['./lake/_checkpoints'] },
      nonEmpty,
    ),
  },
);

const alerts = objectOf<AlertsSpec>(
  { description: 'Health limits: `pipeline status` exits 1 when one is exceeded.', examples: [{ maxLag: 100000, maxLagSeconds: 300 }] },
  {
    maxLag: field({ description: 'Most records the pipeline may be behind the end of the topic (summed over partitions).', examples: [100000] }, { type: 'integer', minimum: 0 }),
    maxLagSeconds: field(
      { description: 'Longest a stream that has lag may go without committing a batch, in seconds.', examples: [300] },
      { type: 'integer', minimum: 1 },
    ),
  },
);

/**
 * Builds the complete schema document (a fresh object each call) from the fields of the
 * operators in `registry` (the registry of src/operators/index.ts unless a test passes its own).
 * Throws when the registry and the spec's interfaces disagree (see operator-fields.ts).
 */
export function buildPipelineSchema(registry: readonly OperatorDefinition[] = operators): JsonSchema {
  const fromOperators = operatorFields(registry);
  const sourceSchema = objectOf<SourceSchemaSpec>(
    {
      description: 'Schema of the values: a JSON Schema file (json, optional), an `.avsc` file or a schema registry (avro, optionally with a reader schema), a `.proto` file and message type (protobuf).',
      examples: [{ file: 'schemas/order.avsc' }, { registry: { url: 'http://schema-registry:8081' }, reader: 'schemas/order.avsc' }, { file: 'schemas/order.proto', messageType: 'shop.Order' }],
    },
    fromOperators.take('source.schema', ['file', 'messageType', 'reader', 'registry']),
  );
  const source = objectOf<SourceSpec>(
    { description: 'Where records come from and how their values are encoded: a Kafka topic (`kafka`) or a Delta table (`delta`), exactly one of them.', examples: [{ kafka: { brokers: ['localhost:9092'], topic: 'events_topic' }, format: 'json' }, { delta: { path: './lake/analytics' } }] },
    {
      ...fromOperators.take('source', ['kafka', 'delta']),
      format: field(
        { description: 'Record value encoding.', default: 'json', examples: [...fromOperators.formats] },
        { enum: [...fromOperators.formats] },
      ),
      ...fromOperators.take('source', ['wireFormat']),
      schema: sourceSchema,
      ...fromOperators.take('source', ['derive', 'where', 'expectations', 'metadataColumns', 'keyFormat']),
    },
  );
  const table = objectOf<TableSpec>(
    {
      description: 'A gold table: one Delta table directory under `output.path`.',
      examples: [{ mergeKeys: ['id'], sequenceBy: 'seq' }, { mode: 'append' }],
    },
    fromOperators.take('tables.<name>', ['mode', 'mergeKeys', 'sequenceBy', 'partitionBy', 'columns', 'deleteWhen', 'derive', 'where', 'expectations', 'rescuedDataColumn', 'maxColumns', 'writeMode', 'maintenance']),
  );
  const stages = objectOf<StagesSpec>(
    {
      description: '`mode: staged`: per-job overrides. raw lands Kafka records as bytes in `<output.path>/_raw/<name>`; bronze decodes, validates and routes them into `<output.path>/_bronze/<table>`; gold merges bronze into the tables.',
      examples: [{ raw: { streams: 4 }, gold: { trigger: { interval: '15m' } } }],
    },
    {
      ...fromOperators.take('stages', ['raw']),
      bronze: stage('The bronze job: raw table to the bronze tables and the dead-letter table.'),
      gold: stage('The gold job: bronze tables merged into the tables.'),
    },
  );
  const root = objectOf<PipelineSpec>(
    { description: 'A pipeline spec (v1): consume a Kafka topic, route records by a field, merge them into Delta tables.', examples: [] },
    {
      apiVersion: field({ description: 'Spec format version.', examples: ['pipeline/v1'] }, { const: 'pipeline/v1' }),
      name: field(
        { description: 'Lowercase slug naming the pipeline (`a-z`, `0-9` and `-`, starting with a letter, at most 63 characters); it keys checkpoints, consumer groups and table transaction ids, so renaming restarts from scratch.', examples: ['commerce-events'] },
        { type: 'string', pattern: NAME_PATTERN, maxLength: 63 },
      ),
      description: field({ description: 'Free text for people.', examples: ['Route commerce events into per-type gold tables.'] }, { type: 'string' }),
      source,
      streams: field(
        { description: 'Parallel streams; partition p belongs to stream p % streams. Changing it breaks checkpoints.', default: 1, examples: [4] },
        { type: 'integer', minimum: 1, maximum: 1024 },
      ),
      trigger,
      ...fromOperators.take('root', ['watermark', 'routing']),
      tables: mapOf(
        { description: 'Gold tables by name; the name is the directory under `output.path`. Names are compared case-insensitively.', examples: [{ orders: { mergeKeys: ['id'], sequenceBy: 'seq' } }] },
        table,
        { $ref: '#/$defs/TableName' },
        1,
      ),
      ...fromOperators.take('root', ['aggregations', 'deadLetter']),
      output,
      checkpoint,
      alerts,
      mode: field(
        { description: '`fused` (default) runs decode, routing and merge as one job; `staged` runs raw, bronze and gold as three jobs that scale and fail on their own.', examples: ['fused', 'staged'] },
        { enum: ['fused', 'staged'] },
      ),
      stages,
    },
    ['apiVersion', 'name', 'source', 'routing', 'tables', 'output'],
  );
  fromOperators.checkAllTaken();
  delete root.examples;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SCHEMA_ID,
    title: 'pipeline spec',
    ...root,
    $defs: {
      Duration: {
        type: 'string',
        description: 'A duration: `<number><ms|s|m|h|d>`.',
        pattern: DURATION_PATTERN,
        examples: ['500ms', '5s', '1m', '2h', '1d'],
      },
      TableName: {
        type: 'string',
        description: 'A table name: letters, digits, `_` and `-` (not first), at most 128 characters. It becomes a directory name.',
        pattern: TABLE_NAME_PATTERN,
        examples: ['orders', '_dead_letter'],
      },
    },
  };
}
