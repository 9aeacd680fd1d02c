/**
 * source-kafka: the graph's entry. Its runtime piece is the stream's consumer (the runtime
 * owns connections, positions and the write-ahead log); each record's value enters the
 * graph at the node its `out` edge names.
 *
 * Spec fields it owns: `source.kafka` (the topic and the connection) and the Kafka
 * coordinates it hands on as columns, `source.metadataColumns` and `source.keyFormat`.
 */
import type { KafkaSourceSpec, SaslSpec } from '../spec/index.js';
import type { OperatorDefinition } from './api.js';
import { field, nonEmpty, objectOf } from './schema-builder.js';

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

/** `source.kafka`: the topic and the connection. */
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

/** `source.metadataColumns`: the coordinates handed on as columns. */
const metadataColumns = field(
  {
    description: 'Kafka coordinates written as columns of every table: `key` → `_kafka_key` (per `keyFormat`), `headers` → `_kafka_headers` (JSON object), `partition` → `_kafka_partition`, `offset` → `_kafka_offset`, `timestamp` → `_kafka_timestamp` (TIMESTAMPTZ), `topic` → `_kafka_topic`. A record\'s own field of such a name gives way. Usable in `derive`, `where`, expectations and as keys.',
    examples: [['key', 'headers', 'partition', 'offset', 'timestamp']],
  },
  { type: 'array', items: { enum: ['key', 'headers', 'partition', 'offset', 'timestamp', 'topic'] }, minItems: 1, uniqueItems: true },
);

/** `source.keyFormat`: how the key column reads keys. */
const keyFormat = field(
  {
    description: 'How `_kafka_key` reads record keys: `string` (UTF-8 text, VARCHAR), `json` (a JSON column: read fields with `_kafka_key->>\'id\'`), `bytes` (BLOB). A key that is not valid UTF-8 or JSON (or whose JSON spells half a surrogate pair, `\\ud800`) sends its record to the dead-letter table. Default `string`.',
    examples: ['string', 'json', 'bytes'],
  },
  { enum: ['string', 'json', 'bytes'] },
);

export const sourceKafka: OperatorDefinition = {
  kind: 'source-kafka',
  role: 'source',
  summary: 'Reads the topic; stream i of N owns every partition p with p % N == i, each with its own consumer and checkpoint.',
  spec: { fields: { source: { kafka, metadataColumns, keyFormat } } },
  ports: { out: 'record values with their coordinates' },
};
