/**
 * The spec's JSON Schema, written against the interfaces in `types.ts`. This is the single
 * source of truth for shape, documentation and simple defaults: the loader validates with
 * it (ajv applies the `default`s), `schema/pipeline.schema.json` is this object serialised
 * (a test fails on drift; set PIPELINE_UPDATE_SCHEMA=1 when running test/spec/schema.test.ts
 * to rewrite the file), and editors complete specs from the committed file.
 *
 * To add a field or a component: add it to the interface in `types.ts`, then the compiler
 * points here until the schema has it. New components get their own `$defs` entry.
 */
import { DURATION_PATTERN } from './duration.js';
import { field, mapOf, objectOf, ref, type JsonSchema } from './schema-builder.js';
import type {
  AlertsSpec,
  CheckpointSpec,
  DeadLetterSpec,
  KafkaSourceSpec,
  OutputSpec,
  PipelineSpec,
  RoutingSpec,
  SaslSpec,
  SchemaRegistrySpec,
  SourceSchemaSpec,
  SourceSpec,
  TableMaintenance,
  TableSpec,
  TriggerSpec,
  WatermarkSpec,
} from './types.js';

/** Table names become directory names under `output.path`, so they are restricted. */
export const TABLE_NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$';
/** `name` keys checkpoints, consumer groups and txn app ids: a lowercase slug. */
export const NAME_PATTERN = '^[a-z][a-z0-9]*(-[a-z0-9]+)*$';

/** The `$id` of the schema (a URN: editors locate the file by path, not by id). */
export const SCHEMA_ID = 'urn:pipeline:schema:v1';

const nonEmpty = { type: 'string', minLength: 1 };
const envName = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' };
const columnList = { type: 'array', items: nonEmpty, minItems: 1, uniqueItems: true };

const sasl = objectOf<SaslSpec>(
  {
    description: 'SASL authentication for the Kafka connection.',
    examples: [{ mechanism: 'scram-sha-512', username: 'pipeline', password: '${KAFKA_PASSWORD}' }],
  },
  {
    mechanism: field(
      { description: 'SASL mechanism.', examples: ['scram-sha-512'] },
      { enum: ['plain', 'scram-sha-256', 'scram-sha-512'] },
    ),
    username: field({ description: 'SASL user name.', examples: ['pipeline', '${KAFKA_USER}'] }, nonEmpty),
    password: field(
      {
        description: 'SASL password. Write it as `${ENV_VAR}`; a literal password is a warning. Redacted in every output.',
        examples: ['${KAFKA_PASSWORD}'],
      },
      nonEmpty,
    ),
  },
  ['mechanism', 'username', 'password'],
);

const kafka = objectOf<KafkaSourceSpec>(
  {
    description: 'The Kafka topic to consume.',
    examples: [{ brokers: ['${KAFKA_BROKERS:-localhost:9092}'], topic: 'events_topic', startingOffsets: 'earliest' }],
  },
  {
    brokers: field(
      {
        description: 'Bootstrap brokers as `host:port`: a list, or one comma-separated string.',
        examples: [['kafka-1:9092', 'kafka-2:9092'], 'kafka-1:9092,kafka-2:9092'],
      },
      { anyOf: [{ type: 'array', items: nonEmpty, minItems: 1 }, nonEmpty] },
    ),
    topic: field({ description: 'Topic to read.', examples: ['events_topic'] }, nonEmpty),
    startingOffsets: field(
      {
        description: 'Where the first start begins reading; later starts resume from the checkpoint.',
        default: 'earliest',
        examples: ['earliest', 'latest'],
      },
      { enum: ['earliest', 'latest'] },
    ),
    groupIdPrefix: field(
      {
        description: 'Consumer group id prefix (default `pipeline-<name>`); stream i uses `<prefix>-<i>`. Group offsets are for lag monitoring only.',
        examples: ['pipeline-commerce-events'],
      },
      nonEmpty,
    ),
    clientId: field({ description: 'Kafka client id.', examples: ['commerce-events'] }, nonEmpty),
    ssl: field({ description: 'Connect with TLS.', default: false, examples: [true] }, { type: 'boolean' }),
    sasl,
    failOnDataLoss: field(
      {
        description: 'When retention removed offsets the checkpoint still needs: true stops with an error, false skips ahead and logs.',
        default: true,
        examples: [true, false],
      },
      { type: 'boolean' },
    ),
  },
  ['brokers', 'topic'],
);

const registry = objectOf<SchemaRegistrySpec>(
  {
    description: 'A Confluent-compatible schema registry (avro, protobuf): schemas are fetched by the id in each value\'s header (cached by id). Credentials are read from environment variables named here.',
    examples: [{ url: 'http://schema-registry:8081', basicAuthEnv: 'SCHEMA_REGISTRY_AUTH' }],
  },
  {
    url: field({ description: 'Base URL of the registry.', examples: ['http://schema-registry:8081'] }, { type: 'string', pattern: '^(https?://|\\$\\{)' }),
    basicAuthEnv: field({ description: 'Name of the environment variable holding `user:password` for basic auth.', examples: ['SCHEMA_REGISTRY_AUTH'] }, envName),
    bearerTokenEnv: field({ description: 'Name of the environment variable holding a bearer token.', examples: ['SCHEMA_REGISTRY_TOKEN'] }, envName),
  },
  ['url'],
);

const sourceSchema = objectOf<SourceSchemaSpec>(
  {
    description: 'Schema of the values: a JSON Schema file (json, optional), an `.avsc` file or a schema registry (avro, optionally with a reader schema), a `.proto` file and message type (protobuf).',
    examples: [{ file: 'schemas/order.avsc' }, { registry: { url: 'http://schema-registry:8081' }, reader: 'schemas/order.avsc' }, { file: 'schemas/order.proto', messageType: 'shop.Order' }],
  },
  {
    file: field({ description: 'Schema file: a JSON Schema (json: records that do not match are dead-lettered), `.avsc` (avro writer schema) or `.proto` (protobuf). Relative paths resolve from the working directory.', examples: ['schemas/order.schema.json', 'schemas/order.avsc', 'schemas/order.proto'] }, nonEmpty),
    messageType: field({ description: 'Protobuf with `file`: fully qualified message type of the values (with a registry, each value\'s message-index array names it).', examples: ['shop.Order'] }, nonEmpty),
    reader: field({ description: 'Avro: reader schema file every writer schema resolves to (Avro resolution rules), so evolving writer schemas give one table shape.', examples: ['schemas/order.avsc'] }, nonEmpty),
    registry,
  },
);

const source = objectOf<SourceSpec>(
  { description: 'Where records come from and how their values are encoded.', examples: [{ kafka: { brokers: ['localhost:9092'], topic: 'events_topic' }, format: 'json' }] },
  {
    kafka,
    format: field(
      { description: 'Record value encoding.', default: 'json', examples: ['json', 'avro', 'protobuf'] },
      { enum: ['json', 'avro', 'protobuf'] },
    ),
    wireFormat: field(
      {
        description: 'Framing of avro/protobuf values: `confluent` (magic byte 0 + 4-byte schema id; protobuf adds the message-index array) or `raw` (the encoded value alone, with `schema.file`). Default `confluent` for avro and protobuf.',
        examples: ['confluent', 'raw'],
      },
      { enum: ['confluent', 'raw'] },
    ),
    schema: sourceSchema,
  },
  ['kafka'],
);

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

const watermark = objectOf<WatermarkSpec>(
  {
    description: 'Event-time watermark: how late a record may arrive, measured on `column`.',
    examples: [{ column: 'event_time', delay: '1m' }],
  },
  {
    column: field({ description: 'Event-time column of the record.', examples: ['event_time'] }, nonEmpty),
    delay: ref('Duration', { description: 'Allowed lateness behind the greatest event time seen.', examples: ['1m', '30s'] }),
  },
  ['column', 'delay'],
);

const routing = objectOf<RoutingSpec>(
  {
    description: 'Routes each record to a table by the value of one top-level field.',
    examples: [{ field: 'event_type', routes: { orders: 'orders', users: 'users' }, unmatched: 'dead_letter' }],
  },
  {
    field: field({ description: 'Top-level record field whose value selects the route.', examples: ['event_type'] }, nonEmpty),
    routes: mapOf(
      { description: 'Field value -> table name. Several values may share a table.', examples: [{ orders: 'orders', order_created: 'orders' }] },
      field({ description: 'Name of a table defined under `tables`.', examples: ['orders'] }, nonEmpty),
      undefined,
      1,
    ),
    unmatched: field(
      {
        description: 'Records whose field matches no route: `dead_letter` writes them to the dead-letter table, `drop` discards them.',
        default: 'dead_letter',
        examples: ['dead_letter', 'drop'],
      },
      { enum: ['dead_letter', 'drop'] },
    ),
  },
  ['field', 'routes'],
);

const table = objectOf<TableSpec>(
  {
    description: 'A gold table: one Delta table directory under `output.path`.',
    examples: [{ mergeKeys: ['id'], sequenceBy: 'seq' }, { mode: 'append' }],
  },
  {
    mode: field(
      {
        description: '`upsert` (the default when `mergeKeys` is set) merges by key, the greatest `sequenceBy` wins; `append` (the default otherwise) only adds rows; `scd2` keeps every version with validity columns.',
        examples: ['upsert', 'append', 'scd2'],
      },
      { enum: ['upsert', 'append', 'scd2'] },
    ),
    mergeKeys: field({ description: 'Columns identifying a row for upsert and scd2.', examples: [['id'], ['tenant_id', 'id']] }, columnList),
    sequenceBy: field(
      { description: 'Column ordering versions of a key (required for upsert and scd2): the greater value wins.', examples: ['seq', 'updated_at'] },
      nonEmpty,
    ),
    partitionBy: field({ description: 'Partition columns (Hive-style directories).', examples: [['event_date']] }, columnList),
    columns: mapOf(
      { description: 'Declared columns: name -> DuckDB type name. Undeclared columns are inferred.', examples: [{ id: 'BIGINT', seq: 'BIGINT', amount: 'DECIMAL(18,2)' }] },
      field({ description: 'A DuckDB type name.', examples: ['VARCHAR', 'BIGINT', 'TIMESTAMP', 'DECIMAL(18,2)'] }, nonEmpty),
      nonEmpty,
    ),
    deleteWhen: field(
      {
        description: 'SQL predicate over the record; matching records delete their key (CDC). Needs `mergeKeys`. A column it names that a record lacks is NULL.',
        examples: ["op = 'd'"],
      },
      nonEmpty,
    ),
    rescuedDataColumn: field(
      {
        description: 'Column that receives, as a JSON object, the values that do not convert to their declared column type; the record is kept with those columns NULL. Without it such a record goes to the dead-letter table.',
        examples: ['_rescued_data'],
      },
      nonEmpty,
    ),
    maxColumns: field(
      { description: 'Most distinct top-level keys (columns) the table takes; a record that would add more goes to the dead-letter table.', default: 1000, examples: [1000] },
      { type: 'integer', minimum: 1, maximum: 10000 },
    ),
    writeMode: field(
      {
        description: 'How upsert and scd2 batches change stored rows: `copy-on-write` rewrites every file holding a replaced row; `merge-on-read` writes only the new rows and marks replaced rows with Delta deletion vectors (reader 3 / writer 7; compaction folds them back). Ignored by `append` tables. Default `copy-on-write`.',
        examples: ['copy-on-write', 'merge-on-read'],
      },
      { enum: ['copy-on-write', 'merge-on-read'] },
    ),
    maintenance: objectOf<TableMaintenance>(
      {
        description: 'Housekeeping the runner does while it writes the table, at each Delta checkpoint (every 10 commits).',
        examples: [{ compactSmallFiles: true, cleanupLog: true }],
      },
      {
        compactSmallFiles: field(
          { description: 'Compact small files (and fold deletion vectors back into files) when at least 10 small files, or any deletion vector, have piled up.', examples: [true] },
          { type: 'boolean' },
        ),
        cleanupLog: field(
          { description: 'Delete JSON commits and checkpoints older than the table\'s `delta.logRetentionDuration` (default 30 days) behind the newest checkpoint.', examples: [true] },
          { type: 'boolean' },
        ),
      },
    ),
  },
);

const deadLetter = objectOf<DeadLetterSpec>(
  {
    description: 'The table receiving records that cannot reach their table (undecodable, unrouted, invalid, or a value that does not convert), and the limits past which a run stops.',
    default: { table: '_dead_letter', maxRatio: 0.5 },
    examples: [{ table: '_dead_letter', maxRatio: 0.01, maxRecords: 10000 }],
  },
  {
    table: ref('TableName', { description: 'Dead-letter table name under `output.path`.', default: '_dead_letter', examples: ['_dead_letter'] }),
    maxRatio: field(
      {
        description: 'Stop the run (exit 1, PIPE_RUN_DEAD_LETTER_LIMIT) once more than this share of the records it consumed went to the dead-letter table; checked after every batch once the run has consumed 100 records, and at its end. 1 never stops.',
        default: 0.5,
        examples: [0.01, 0.5, 1],
      },
      { type: 'number', minimum: 0, maximum: 1 },
    ),
    maxRecords: field(
      { description: 'Stop the run (exit 1, PIPE_RUN_DEAD_LETTER_LIMIT) once more than this many of its records went to the dead-letter table.', examples: [10000] },
      { type: 'integer', minimum: 0 },
    ),
  },
);

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
      { description: 'Checkpoint directory. Default `<output.path>/_checkpoints`.', examples: ['./lake/_checkpoints'] },
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

/** Builds the complete schema document (a fresh object each call). */
export function buildPipelineSchema(): JsonSchema {
  const root = objectOf<PipelineSpec>(
    { description: 'A pipeline spec (v1): consume a Kafka topic, route records by a field, merge them into Delta tables.', examples: [] },
    {
      apiVersion: field({ description: 'Spec format version.', examples: ['pipeline/v1'] }, { const: 'pipeline/v1' }),
      name: field(
        { description: 'Lowercase slug naming the pipeline; it keys checkpoints, consumer groups and table transaction ids, so renaming restarts from scratch.', examples: ['commerce-events'] },
        { type: 'string', pattern: NAME_PATTERN, maxLength: 63 },
      ),
      description: field({ description: 'Free text for people.', examples: ['Route commerce events into per-type gold tables.'] }, { type: 'string' }),
      source,
      streams: field(
        { description: 'Parallel streams; partition p belongs to stream p % streams. Changing it breaks checkpoints.', default: 1, examples: [4] },
        { type: 'integer', minimum: 1, maximum: 1024 },
      ),
      trigger,
      watermark,
      routing,
      tables: mapOf(
        { description: 'Gold tables by name; the name is the directory under `output.path`.', examples: [{ orders: { mergeKeys: ['id'], sequenceBy: 'seq' } }] },
        table,
        { $ref: '#/$defs/TableName' },
        1,
      ),
      deadLetter,
      output,
      checkpoint,
      alerts,
    },
    ['apiVersion', 'name', 'source', 'routing', 'tables', 'output'],
  );
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
