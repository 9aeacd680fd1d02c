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
  ExpectationSpec,
  DeltaSourceSpec,
  KafkaSourceSpec,
  OutputSpec,
  PipelineSpec,
  RoutingSpec,
  SaslSpec,
  SchemaRegistrySpec,
  SourceSchemaSpec,
  RawStageSpec,
  SourceSpec,
  StageSpec,
  StageTriggerSpec,
  StagesSpec,
  TableMaintenance,
  TableSpec,
  TriggerSpec,
  WatermarkSpec,
  AggregationSpec,
  WindowSpec,
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

/** `derive` and `where`, shared by the source (every table) and each table. */
const deriveField = (scope: string) =>
  mapOf(
    {
      description: `Computed columns ${scope}: name -> DuckDB SQL expression over the record's columns and the derived columns listed before it. Usable in partitionBy, mergeKeys and sequenceBy. An expression that errors on a record (a cast that fails) dead-letters that record (stage \`derive\`); write \`TRY_CAST\`/\`TRY\` to get NULL instead. A NULL derived merge key or sequence dead-letters its record.`,
      examples: [{ event_date: 'CAST(event_time AS DATE)' }],
    },
    field({ description: 'A DuckDB SQL expression.', examples: ['CAST(event_time AS DATE)', "lower(country)"] }, nonEmpty),
    nonEmpty,
  );
const expectation = objectOf<ExpectationSpec>(
  {
    description: 'A data-quality rule: a DuckDB SQL boolean over the record\'s columns (derived ones included). It holds only when true (false, NULL or an error fail it).',
    examples: [{ name: 'amount_non_negative', expr: 'amount >= 0', action: 'quarantine' }, { name: 'one_per_order', unique: ['order_id'], action: 'drop' }],
  },
  {
    name: field({ description: 'Name reported in counts, logs and dead-letter reasons; unique within its list.', examples: ['amount_non_negative'] }, { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' }),
    expr: field({ description: 'DuckDB SQL boolean expression. Exactly one of `expr` and `unique`.', examples: ['amount >= 0', 'email LIKE \'%@%\''] }, nonEmpty),
    unique: field(
      {
        description: 'Columns (derived ones included) that no two records of one batch may share for the table: the first record of each key, in the batch\'s input order, holds; each later one fails (a record with a NULL key column never does). Scoped to a batch: keys are not checked against earlier batches or the table. Action `warn`, `drop` or `quarantine`, not `fail`.',
        examples: [['order_id'], ['customer_id', 'day']],
      },
      { type: 'array', minItems: 1, items: nonEmpty },
    ),
    action: field(
      {
        description: '`warn` keeps the record and counts it; `drop` discards and counts it; `quarantine` sends it to the dead-letter table (stage `expectation`, the name in the reason); `fail` stops the run naming the record, and commits nothing of its batch.',
        default: 'warn',
        examples: ['warn', 'drop', 'quarantine', 'fail'],
      },
      { enum: ['warn', 'drop', 'quarantine', 'fail'] },
    ),
  },
  ['name'],
);
const expectationsField = (scope: string) =>
  field(
    {
      description: `Data-quality rules ${scope}, checked in order; the first failing drop, quarantine or fail one decides a record's fate.`,
      examples: [[{ name: 'amount_non_negative', expr: 'amount >= 0', action: 'quarantine' }]],
    },
    { type: 'array', minItems: 1, items: expectation },
  );

const whereField = (scope: string) =>
  field(
    {
      description: `SQL predicate over the record's columns (derived ones included) ${scope}; records for which it is not true are dropped and counted (not dead-lettered).`,
      examples: ["status <> 'test'"],
    },
    nonEmpty,
  );

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
        description: 'SASL password. Write it as `${ENV_VAR}`; a literal password is a warning (PIPE0048), and so is a literal default in `${VAR:-default}`. Redacted in every output.',
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
        description: 'Bootstrap brokers as `host:port`: a list, or one comma-separated string. Either way the loaded spec holds a list.',
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

const delta = objectOf<DeltaSourceSpec>(
  {
    description: 'A Delta table read as a stream (instead of `kafka`): each batch reads the rows the versions after the last one processed added, in version, file and row order; rewrites without data change (compaction) are skipped. Rows arrive typed and go through derive, where, expectations, routing and tables like decoded records. Read by one stream; its position (the last version read) is kept in the checkpoint and every table write carries the pipeline\'s txn, so a restart neither loses nor repeats rows.',
    examples: [{ path: './lake/analytics' }, { path: 's3://lake/gold/orders', removes: 'ignore', startingVersion: 'latest' }],
  },
  {
    path: field({ description: 'Location of the table to read: a local path (relative to the working directory) or an `s3://bucket/prefix` URI.', examples: ['./lake/analytics'] }, nonEmpty),
    removes: field(
      {
        description: 'A version that updated or deleted rows (a copy-on-write MERGE, a delete): `fail` stops the run with PIPE_DELTA_SOURCE_CHANGED; `ignore` reads the files it added in full (unchanged rows of rewritten files come again, so the tables fed must upsert by key) and does not propagate deletions.',
        default: 'fail',
        examples: ['fail', 'ignore'],
      },
      { enum: ['fail', 'ignore'] },
    ),
    startingVersion: field(
      {
        description: 'Where the first run begins: `earliest` (version 0: every row the table holds), `latest` (only versions committed after the first start) or a version number (that version and later ones). Later runs resume from the checkpoint.',
        default: 'earliest',
        examples: ['earliest', 'latest', 12],
      },
      { anyOf: [{ enum: ['earliest', 'latest'] }, { type: 'integer', minimum: 0 }] },
    ),
  },
  ['path'],
);

const registry = objectOf<SchemaRegistrySpec>(
  {
    description: 'A Confluent-compatible schema registry (avro, protobuf): schemas are fetched by the id in each value\'s header (cached by id). Credentials are read from environment variables named here.',
    examples: [{ url: 'http://schema-registry:8081', basicAuthEnv: 'SCHEMA_REGISTRY_AUTH' }],
  },
  {
    url: field({ description: 'Base URL of the registry; each schema id is fetched once per process (`GET /schemas/ids/{id}`). Use it or `schema.file`, not both.', examples: ['http://schema-registry:8081'] }, { type: 'string', pattern: '^(https?://|\\$\\{)' }),
    basicAuthEnv: field({ description: 'Name of the environment variable holding `user:password` for basic auth. Never write credentials in the URL (PIPE0060).', examples: ['SCHEMA_REGISTRY_AUTH'] }, envName),
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
    file: field({ description: 'Schema file: a JSON Schema (json: draft-07, or 2019-09/2020-12 by its `$schema`; a record that does not match is dead-lettered, stage `decode`, with the first violation), `.avsc` (avro writer schema) or `.proto` (protobuf). `validate` checks that it exists and parses, and that an Avro schema is a record (PIPE0061). Relative paths resolve from the working directory.', examples: ['schemas/order.schema.json', 'schemas/order.avsc', 'schemas/order.proto'] }, nonEmpty),
    messageType: field({ description: 'Protobuf with `file`, required: fully qualified message type of the values (`validate` checks the file defines it; with a registry, each value\'s message-index array names it).', examples: ['shop.Order'] }, nonEmpty),
    reader: field({ description: 'Avro: reader schema file every writer schema resolves to (Avro resolution rules), so evolving writer schemas give one table shape.', examples: ['schemas/order.avsc'] }, nonEmpty),
    registry,
  },
);

const source = objectOf<SourceSpec>(
  { description: 'Where records come from and how their values are encoded: a Kafka topic (`kafka`) or a Delta table (`delta`), exactly one of them.', examples: [{ kafka: { brokers: ['localhost:9092'], topic: 'events_topic' }, format: 'json' }, { delta: { path: './lake/analytics' } }] },
  {
    kafka,
    delta,
    format: field(
      { description: 'Record value encoding.', default: 'json', examples: ['json', 'avro', 'protobuf'] },
      { enum: ['json', 'avro', 'protobuf'] },
    ),
    wireFormat: field(
      {
        description: 'Framing of avro/protobuf values: `confluent` (magic byte 0 + 4-byte schema id; protobuf adds the message-index array) or `raw` (the encoded value alone, with `schema.file`). Default `confluent` for avro and protobuf; not allowed with `json` (PIPE0060), which takes only `schema.file`.',
        examples: ['confluent', 'raw'],
      },
      { enum: ['confluent', 'raw'] },
    ),
    schema: sourceSchema,
    derive: deriveField('of every table (computed before each table\'s own `derive`)'),
    where: whereField('that every record must meet to reach its table (applied with each table\'s own `where`)'),
    expectations: expectationsField('for every table (before each table\'s own)'),
    metadataColumns: field(
      {
        description: 'Kafka coordinates written as columns of every table: `key` → `_kafka_key` (per `keyFormat`), `headers` → `_kafka_headers` (JSON object), `partition` → `_kafka_partition`, `offset` → `_kafka_offset`, `timestamp` → `_kafka_timestamp` (TIMESTAMPTZ), `topic` → `_kafka_topic`. A record\'s own field of such a name gives way. Usable in `derive`, `where`, expectations and as keys.',
        examples: [['key', 'headers', 'partition', 'offset', 'timestamp']],
      },
      { type: 'array', items: { enum: ['key', 'headers', 'partition', 'offset', 'timestamp', 'topic'] }, minItems: 1, uniqueItems: true },
    ),
    keyFormat: field(
      {
        description: 'How `_kafka_key` reads record keys: `string` (UTF-8 text, VARCHAR), `json` (a JSON column: read fields with `_kafka_key->>\'id\'`), `bytes` (BLOB). A key that is not valid UTF-8 or JSON sends its record to the dead-letter table. Default `string`.',
        examples: ['string', 'json', 'bytes'],
      },
      { enum: ['string', 'json', 'bytes'] },
    ),
  },
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

/** A stage's trigger: no defaults here, an absent field keeps the top-level trigger's value. */
const stageTrigger = objectOf<Partial<TriggerSpec>>(
  { description: 'This job\'s trigger; absent fields keep the top-level `trigger` values.', examples: [{ interval: '15m' }] },
  {
    interval: ref('Duration', { description: 'Longest time a batch of this job stays open.', examples: ['15m', '1s'] }),
    maxRecordsPerBatch: field({ description: 'Most records in one batch of this job.', examples: [500000] }, { type: 'integer', minimum: 1 }),
  },
);

const rawStage = objectOf<RawStageSpec>(
  { description: 'The raw job: Kafka to the raw table, no decode.', examples: [{ streams: 4, trigger: { interval: '1s' } }] },
  {
    trigger: stageTrigger,
    streams: field({ description: 'Parallel streams of the raw job (default: top-level `streams`).', examples: [4] }, { type: 'integer', minimum: 1, maximum: 1024 }),
    partitionByDate: field(
      {
        description: 'Partition the raw table by `ingest_date`, the UTC date of each record\'s Kafka timestamp (records without one: a NULL partition), so old days can be read, expired or rebuilt alone. Fixed when the raw table is created. Default false.',
        examples: [true],
      },
      { type: 'boolean' },
    ),
  },
);

const versionTrigger = objectOf<StageTriggerSpec>(
  { description: 'When this job, once caught up, looks for new versions of the table it reads (a batch reads up to 1000 versions).', examples: [{ interval: '15m' }] },
  { interval: ref('Duration', { description: 'Wait between looks once caught up (default: top-level `trigger.interval`).', examples: ['15m', '10s'] }) },
);

const stage = (description: string) => objectOf<StageSpec>({ description, examples: [{ trigger: { interval: '15m' } }] }, { trigger: versionTrigger });

const stages = objectOf<StagesSpec>(
  {
    description: '`mode: staged`: per-job overrides. raw lands Kafka records as bytes in `<output.path>/_raw/<name>`; bronze decodes, validates and routes them into `<output.path>/_bronze/<table>`; gold merges bronze into the tables.',
    examples: [{ raw: { streams: 4 }, gold: { trigger: { interval: '15m' } } }],
  },
  {
    raw: rawStage,
    bronze: stage('The bronze job: raw table to the bronze tables and the dead-letter table.'),
    gold: stage('The gold job: bronze tables merged into the tables.'),
  },
);

const watermark = objectOf<WatermarkSpec>(
  {
    description: 'Event-time watermark: how late a record may arrive, measured on `column`.',
    examples: [{ column: 'event_time', delay: '1m' }],
  },
  {
    column: field({ description: 'Event-time column of the record.', examples: ['event_time'] }, nonEmpty),
    delay: ref('Duration', { description: 'Allowed lateness behind the greatest event time seen in the same partition.', examples: ['1m', '30s'] }),
    lateData: field(
      {
        description: 'Records behind their partition\'s watermark: `dead_letter` writes them to the dead-letter table (stage `late`), `drop` discards them, `keep` stores them in their table but leaves them out of windows. Always counted.',
        default: 'dead_letter',
        examples: ['dead_letter', 'drop', 'keep'],
      },
      { enum: ['drop', 'dead_letter', 'keep'] },
    ),
    idleTimeout: ref('Duration', { description: 'A partition with no records for this long stops holding its stream\'s watermark back (append windows close without it).', examples: ['5m'] }),
  },
  ['column', 'delay'],
);

const window = objectOf<WindowSpec>(
  { description: 'An event-time window.', examples: [{ type: 'tumbling', size: '1m' }, { type: 'sliding', size: '1m', slide: '30s' }] },
  {
    type: field({ description: '`tumbling` (back to back) or `sliding` (overlapping, one every `slide`).', examples: ['tumbling'] }, { enum: ['tumbling', 'sliding'] }),
    size: ref('Duration', { description: 'Window length.', examples: ['1m'] }),
    slide: ref('Duration', { description: 'Sliding windows: time between window starts; must divide `size`.', examples: ['30s'] }),
  },
  ['type', 'size'],
);

const aggregation = objectOf<AggregationSpec>(
  {
    description: 'A windowed aggregation over routed tables, written to its own Delta table (`window_start`, `window_end`, group keys, measures).',
    examples: [{ from: ['orders'], window: { type: 'tumbling', size: '1m' }, groupBy: ['event_type'], measures: { events: 'count(*)' }, outputMode: 'update' }],
  },
  {
    from: field({ description: 'Tables whose records feed the windows (after routing and shaping).', examples: [['orders', 'payments']] }, columnList),
    window,
    groupBy: field({ description: 'Group key columns.', examples: [['event_type']] }, { type: 'array', items: nonEmpty, uniqueItems: true }),
    measures: mapOf(
      { description: 'Output column -> DuckDB aggregate over one column: `count(*)`, `count(c)`, `sum(c)`, `min(c)`, `max(c)`, `avg(c)` (they merge exactly across batches and streams).', examples: [{ events: 'count(*)', revenue: 'sum(amount)' }] },
      field({ description: 'A DuckDB aggregate expression.', examples: ['count(*)'] }, nonEmpty),
      undefined,
      1,
    ),
    outputMode: field(
      { description: '`update`: every batch merges its partial results into the window rows; `append`: a window is written once, after the watermark passes its end.', default: 'update', examples: ['update', 'append'] },
      { enum: ['update', 'append'] },
    ),
    partitionBy: field({ description: 'Partition columns of the output table: group keys, `window_date` (YYYY-MM-DD) or `window_hour` (YYYY-MM-DDTHH) of `window_start` (UTC).', examples: [['window_hour']] }, columnList),
  },
  ['from', 'window', 'measures'],
);

const routing = objectOf<RoutingSpec>(
  {
    description: 'Routes each record to a table by the value of one top-level field.',
    examples: [{ field: 'event_type', routes: { orders: 'orders', users: 'users' }, unmatched: 'dead_letter' }],
  },
  {
    field: field({ description: 'Top-level record field whose value selects the route.', examples: ['event_type'] }, nonEmpty),
    routes: mapOf(
      { description: 'Field value -> table name. Several values may share a table; every target must be defined under `tables`.', examples: [{ orders: 'orders', order_created: 'orders' }] },
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
        description: '`upsert` (the default when `mergeKeys` is set) merges by key, the greatest `sequenceBy` wins; `append` (the default otherwise) only adds rows; `scd2` keeps every version with validity columns. `upsert` and `scd2` require both `mergeKeys` and `sequenceBy`.',
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
      { description: 'Declared columns: name -> DuckDB type name. Their types are fixed: a value that does not convert fails its record alone. Undeclared columns are inferred through the type lattice.', examples: [{ id: 'BIGINT', seq: 'BIGINT', amount: 'DECIMAL(18,2)' }] },
      field({ description: 'A DuckDB type name.', examples: ['VARCHAR', 'BIGINT', 'TIMESTAMP', 'DECIMAL(18,2)'] }, nonEmpty),
      nonEmpty,
    ),
    deleteWhen: field(
      {
        description: 'SQL predicate over the record; matching records delete their key (CDC). Needs `mergeKeys`. Parsed and bound by `validate` (PIPE0056); a column it names that a record lacks is NULL.',
        examples: ["op = 'd'"],
      },
      nonEmpty,
    ),
    derive: deriveField('of this table (after the source\'s)'),
    where: whereField('that a record must meet to be written to this table'),
    expectations: expectationsField('for this table (after the source\'s)'),
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
    table: ref('TableName', { description: 'Dead-letter table name under `output.path`; it must not collide with a gold table.', default: '_dead_letter', examples: ['_dead_letter'] }),
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

/** Builds the complete schema document (a fresh object each call). */
export function buildPipelineSchema(): JsonSchema {
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
      watermark,
      routing,
      tables: mapOf(
        { description: 'Gold tables by name; the name is the directory under `output.path`. Names are compared case-insensitively.', examples: [{ orders: { mergeKeys: ['id'], sequenceBy: 'seq' } }] },
        table,
        { $ref: '#/$defs/TableName' },
        1,
      ),
      aggregations: mapOf(
        { description: 'Windowed aggregations by output table name (a directory under `output.path`).', examples: [{ events_per_minute: { from: ['orders'], window: { type: 'tumbling', size: '1m' }, measures: { events: 'count(*)' } } }] },
        aggregation,
        { $ref: '#/$defs/TableName' },
      ),
      deadLetter,
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
