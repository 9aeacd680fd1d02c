/**
 * The registry of every runtime error code. A {@link PipelineError} can only be built with a
 * code listed here (the `ErrorCode` union is derived from this table, so an unlisted code fails
 * to typecheck), and the error reference a user reads is generated from it.
 *
 * Each entry holds the message template (`<name>` marks the part filled in where it is thrown),
 * the hint printed when the throw site gives none, and whether retrying can help. `retriable`
 * lives only here: one code never means "retry" in one place and "stop" in another.
 *
 * Spec diagnostics (`PIPE00xx`) have their own registry in `src/spec/codes.ts`.
 */

/** What the registry knows of one code. */
export interface ErrorCodeInfo {
  /** The message, with `<name>` where the throw site fills in the details. */
  readonly message: string;
  /** What the user can do about it. */
  readonly hint: string;
  /** True when the same action can succeed later without anyone changing anything. */
  readonly retriable: boolean;
}

const stop = (message: string, hint: string): ErrorCodeInfo => ({ message, hint, retriable: false });
const retry = (message: string, hint: string): ErrorCodeInfo => ({ message, hint, retriable: true });

const REPLAYED = 'nothing was committed half-way; the next run replays the batch';
const IS_TABLE = 'check the path; a table has a _delta_log folder';
const DEV = 'a development tool (pipeline dev-broker, the test suites); see the tool\'s --help';

const CODES = {
  // The test brokers (pipeline dev-broker and the test suites).
  PIPE_BROKER_BUILD: stop('compiling the test broker failed: <compiler output>', 'install the toolchain with `apt-get install gcc librdkafka-dev`'),
  PIPE_BROKER_COMMAND: stop('test broker refused \'<command>\': <reason>', DEV),
  PIPE_BROKER_EXITED: stop('test broker exited (<signal or code>): <stderr>', 'read the broker output above; start it again'),
  PIPE_BROKER_NO_LIBRDKAFKA: stop('the test broker needs librdkafka\'s mock cluster (<header> is missing)', 'install it with `apt-get install librdkafka-dev gcc` (or run `node scripts/setup.mjs`)'),
  PIPE_BROKER_PORT: stop('port <port> is already in use', 'stop whatever listens there (another broker?) or pick another --port'),
  PIPE_BROKER_ROOT: stop('cannot find the pipeline repository root', 'run the command from inside the pipeline repository'),
  PIPE_BROKER_START: stop('test broker not ready after <ms> ms', 'read the broker output; the machine may be overloaded'),
  PIPE_DELTA_SOURCE_CHANGED: stop('version <v> of <table> (<operation>) updated or deleted rows; a streaming read of it would miss or repeat them', 'set source.delta.removes: ignore when the consumer upserts by key, or read an append-only table'),
  PIPE_DELTA_SOURCE_DELETION_VECTOR: stop('version <v> of <table> adds <file> with a deletion vector, which this source cannot apply', 'purge the deletion vectors of the source table, or read a table written without them'),
  PIPE_DELTA_SOURCE_VERSION_GONE: stop('the log of <table> starts at version <v>; versions <range> this source still needs were cleaned up', 'keep the source table\'s log longer (delta.logRetentionDuration), or re-derive the consumer\'s tables from the start with a new checkpoint'),
  PIPE_KAFKA_JARS: stop('could not resolve Apache Kafka <version> with Maven: <output>', 'Maven (mvn) and a JDK 17+ must be installed, and Maven Central reachable'),
  PIPE_KAFKA_START: stop('formatting Kafka storage failed: <output>', 'a JDK 17+ must be installed; read the Kafka output'),

  // Checkpoints: the per-stream write-ahead log under checkpoint.path.
  PIPE_CHECKPOINT_CORRUPT: stop('cannot read <checkpoint file>', 'restore the checkpoint from a backup, or delete the checkpoint and the tables to start over'),
  PIPE_CHECKPOINT_LOCKED: stop('checkpoint of stream <i> is in use by <pid> on <host>', 'stop that run first; if it is gone for good (another host crashed), delete the lock file'),
  PIPE_CHECKPOINT_METADATA: stop('checkpoint <path> has stream directories but no metadata.json', 'restore metadata.json (pipeline, topic, streams), or delete the checkpoint and the tables to start over'),
  PIPE_CHECKPOINT_PIPELINE: stop('checkpoint <path> belongs to pipeline \'<name>\', not \'<name>\'', 'give each pipeline its own checkpoint.path'),
  PIPE_CHECKPOINT_RESHARD_PENDING: stop('stream <i> has batch <id> planned but not committed, so its partitions\' next offsets are not final', 'run once more with the old streams count (it replays and commits that batch), then re-shard'),
  PIPE_CHECKPOINT_RESET_WINDOWS: stop('--reset would count the records of <appId> again into aggregation <name> (<table>), whose update rows already hold them', 'move the window table aside (it is counted again from the records read) or give the aggregation a new name, then run with --reset; or restore the checkpoint directory'),
  PIPE_CHECKPOINT_SOURCE_REPLACED: stop('checkpoint <dir> read Delta table <path> (id <id>) up to version <v>, but the table there now is another one (id <id>)', 'to read the new table from its start, delete the checkpoint and run with --reset; or restore the old table'),
  PIPE_CHECKPOINT_STREAMS: stop('checkpoint <path> was written with streams: <n>, but the spec now says streams: <m>', 'restore the old streams count, or re-shard with `pipeline run <spec> --reshard`'),
  PIPE_CHECKPOINT_TABLES_AHEAD: stop('the checkpoint of stream <i> is new, but table \'<table>\' already holds batch <id> of <appId>', 'restore the checkpoint that wrote those tables, or write to new tables (output.path)'),
  PIPE_CHECKPOINT_TOPIC: stop('checkpoint <path> holds positions of topic \'<topic>\', but the spec reads \'<topic>\'', 'offsets of one topic mean nothing in another: use a new checkpoint.path (and new tables), or restore the topic'),

  // Command line.
  PIPE_CLI_BAD_REF: stop('--against: \'<ref>\' is not a commit in this repository', 'name a commit, branch or tag that holds the spec'),
  PIPE_CLI_NOT_GIT: stop('--against: <file> is not inside a git work tree', 'run diff --against on a spec inside a git repository, or give two spec files'),
  PIPE_CLI_NO_GIT: stop('--against needs git, which is not installed', 'install git, or give two spec files'),
  PIPE_CLI_NO_SPEC: stop('spec file not found: <file>', 'check the path of the spec file'),
  PIPE_CLI_USAGE: stop('<what is wrong with the arguments>', 'see the command\'s --help'),
  PIPE_DEMO_OUT_EXISTS: stop('<dir> exists and was not created by the demo; refusing to replace it', 'pass --out <new dir>'),
  PIPE_DEMO_RUN_FAILED: stop('pipeline run exited with code <code> (see the error above)', 'read the error above; `pipeline demo --help` lists the demo\'s options'),
  PIPE_REPLAY_APPEND_HELD: stop('table <table> is an append table that still holds records the pipeline wrote (txn <appIds>); replaying into it would append them again', 'delete the table and replay it whole, or replay an upsert table; upserts converge'),
  PIPE_REPLAY_NOT_STAGED: stop('--from-raw needs a staged pipeline; <name> has mode: fused, so it keeps no raw table', 'set mode: staged to keep a raw table from now on'),
  PIPE_REPLAY_NO_RAW: stop('no raw table at <path>', 'run the raw job first (pipeline run <spec> --job raw)'),
  PIPE_REPLAY_NO_TIME_INDEX: stop('the brokers of topic \'<topic>\' do not look offsets up by time', 'replay with --from-offsets, or from a broker with a time index (Apache Kafka, Redpanda)'),
  PIPE_REPLAY_OFFSETS_FILE: stop('the offsets file <file>: <problem>', 'write a JSON object of partition -> offset, or partition -> [from, to] (to exclusive), e.g. {"0": 0, "1": [100, 200]}'),
  PIPE_REPLAY_RANGE_GONE: stop('partition <p>: the replay starts at offset <from>, but retention deleted offsets <from>..<low - 1>', 'replay from the topic\'s earliest offset or later, or rebuild the table from the raw table a staged pipeline keeps (--from-raw)'),
  PIPE_REPLAY_UNKNOWN_TABLE: stop('table <table> is not declared in <pipeline>', 'name one of the spec\'s tables'),
  PIPE_REPORT_WRITE: stop('cannot write <file>: <reason>', 'choose a writable --out path'),
  PIPE_TEST_CASE: stop('<file>:<line>: <what is wrong with the case>', 'see `pipeline test --help` for the case format'),
  PIPE_TEST_NO_CASES: stop('no test cases under <dir>', 'create <case>/events.jsonl and <case>/expected/<table>.jsonl there, or name case directories'),

  // Several runner processes (--instance i/K).
  PIPE_INSTANCE_AGGREGATION: stop('--instance <i>/<K>: aggregation <names> has outputMode: <mode>, which one process must write', 'run the pipeline as one process (more streams scale it within the process), or move the aggregation to its own pipeline'),
  PIPE_INSTANCE_COUNT: stop('--instance <i>/<K>: <K> instances but the spec has streams: <n>', 'run at most as many instances as streams, or raise streams'),
  PIPE_INSTANCE_DUPLICATE: stop('instance <i>/<K> is already running: <checkpoint> is in use by <pid> on <host>', 'each instance number runs once; check the --instance / PIPELINE_INSTANCE of every process'),
  PIPE_INSTANCE_RESHARD: stop('--reshard cannot be combined with --instance <i>/<K>', 'stop every instance, re-shard with one process without --instance, then start the instances again'),

  // Delta tables (src/lake).
  PIPE_LAKE_APPEND_ONLY: stop('table <path> is append-only (delta.appendOnly=true); this merge would rewrite files', 'use mode: append for this table, or write to a table without delta.appendOnly'),
  PIPE_LAKE_BAD_BATCH: stop('column <name>: an integer outside the 64-bit range cannot be stored', 'fix the records upstream; column names are case-insensitive and integers are 64-bit'),
  PIPE_LAKE_BAD_DELETE_WHEN: stop('deleteWhen of <table> is not a valid predicate over the batch: <reason>', 'fix the table\'s deleteWhen expression; `pipeline validate` checks it'),
  PIPE_LAKE_BAD_DERIVE: stop('table <table>: derive <column> = <expression> does not bind over the batch: <reason>', 'declare the type the expression needs for the columns it reads (an undeclared column has the type its values so far give it), or fix the expression, and restart; ' + REPLAYED),
  PIPE_LAKE_BAD_LOCATION: stop('<location> is not an s3://bucket/prefix location', 'write the location as s3://bucket/prefix, without . or .. segments'),
  PIPE_LAKE_BAD_TARGET_SIZE: stop('compaction target size must be positive, got <n>', 'pass a positive --target-size'),
  PIPE_LAKE_COMMIT_WRITE: retry('cannot write commit <version> of <table>', REPLAYED),
  PIPE_LAKE_COMPACT_CONFLICT: retry('compaction of <table> gave up after <n> attempt(s): <reason>; the table is unchanged', 'concurrent writers rewrote the same files; run compact again'),
  PIPE_LAKE_CONFLICT: retry('another writer committed version <version> of <table> first', 're-read the table and write again; the runner does this by itself'),
  PIPE_LAKE_CONSTRAINT: stop('table <path>: <n> row(s) break <constraint>', 'fix or filter the records upstream (expectations), or relax the table schema'),
  PIPE_LAKE_DATA_MISSING: stop('data file <url> is missing', 'the log references a file that was deleted from the bucket'),
  PIPE_LAKE_DATA_READ: stop('cannot read the data files of <table> at version <version>: <reason>', 'the log references a data file that is missing or unreadable'),
  PIPE_LAKE_DISK_FULL: stop('<the storage error>', `free space where output.path and checkpoint.path live, then run again: ${REPLAYED}`),
  PIPE_LAKE_DV_CORRUPT: stop('deletion vector of <table> is unreadable: <reason>', 'the table\'s deletion vector file is damaged or truncated; restore it from backup or rewrite the table without it'),
  PIPE_LAKE_EXPECTATION_FAILED: stop('table <table>: expectation \'<name>\' (<expression>) failed (<values>)', 'nothing of this batch was committed; fix the producer or the expectation, then run again'),
  PIPE_LAKE_INTERNAL: stop('merge rewrote <file>, which is not a candidate file', 'a bug in the runner: report it with the table\'s _delta_log'),
  PIPE_LAKE_LAYOUT_CHANGED: stop('table <path> was written with another layout: <changes>', 'rewrite the table under the new layout in one commit with `pipeline run <spec> --allow-layout-change`, or write to a new table'),
  PIPE_LAKE_LAYOUT_CONVERT: stop('table <path>: <n> stored row(s) do not convert to the new layout (<changes>), e.g. <reason>; nothing was changed', 'declare a type every stored value converts to exactly (e.g. a wider DECIMAL), or write the new layout to a new table'),
  PIPE_LAKE_WINDOW_CHANGED: stop('aggregation <name> was counted under another definition: <changes>', 'give the aggregation a new name (a new window table, counted from the records read from then on) and archive the old table: windows counted one way cannot take records counted another'),
  PIPE_LAKE_LAYOUT_REBUILD: stop('table <path>: cannot rebuild scd2 history under another mode, keys or sequence (<changes>)', 'write the new layout to a new table; only partitionBy and declared column types of an scd2 table can change in place'),
  PIPE_LAKE_LOG_CORRUPT: stop('commit <version> of <table> is not valid JSON', 'restore the _delta_log file from a backup; the table cannot be read past it'),
  PIPE_LAKE_LOG_GAP: stop('<table> is missing commit <version>', 'restore the missing _delta_log file; a log must hold every version after its newest checkpoint'),
  PIPE_LAKE_LOG_READ: retry('cannot read commit <version> of <table>', 'check that the table\'s storage is reachable and readable, then run again'),
  PIPE_LAKE_MISSING_COLUMN: stop('table <path>: <role> column <name> is not in the table or the batch', 'declare the column, or fix mergeKeys / sequenceBy / partitionBy'),
  PIPE_LAKE_NOT_SCD2: stop('table <path> has no __valid_from/__valid_to/__current columns: it was not written in scd2 mode', 'keep the table\'s mode, or write scd2 history to a new table'),
  PIPE_LAKE_NOT_WRITABLE: stop('<the storage error>', `make output.path and checkpoint.path writable and run again: ${REPLAYED}`),
  PIPE_LAKE_MAX_COLUMNS: stop('table <path>: this batch would give it <n> columns, more than maxColumns (<limit>); its new fields: <names>', 'raise tables.<table>.maxColumns (up to 10,000), or keep those fields out of the records, then run again: the batch is replayed (tables that already took it skip it)'),
  PIPE_LAKE_NO_KEYS: stop('<mode> into <table> needs mergeKeys', 'declare mergeKeys for the table'),
  PIPE_LAKE_NO_SEQUENCE: stop('scd2 into <table> needs sequenceBy', 'declare sequenceBy for the table'),
  PIPE_LAKE_NO_TABLE: stop('<path> is not a Delta table (no _delta_log commits)', IS_TABLE),
  PIPE_LAKE_NO_VERSION: stop('<table> has no version <version> (latest is <latest>)', 'ask for a version between 0 and the latest (`pipeline table history`)'),
  PIPE_LAKE_PROTOCOL: stop('<table> needs Delta reader <r>/writer <w>; this lake supports <r>/<w>', 'the table uses Delta features this runner cannot read or write; use a new table'),
  PIPE_LAKE_REMOTE_PATH: stop('unsupported data file URI <uri>', 'the table references data files outside its own location, which this runner does not read'),
  PIPE_LAKE_SCHEMA_CORRUPT: stop('schemaString of <table> is not valid JSON', 'the table\'s metaData is damaged; restore the _delta_log from a backup'),
  PIPE_LAKE_SQL: stop('<DuckDB error>', 'read the DuckDB error; the statement is attached to the error for logs'),
  PIPE_LAKE_STORAGE_AUTH: stop('<operation> was refused: <reason>', 'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the AWS profile or role) and the bucket policy'),
  PIPE_LAKE_STORAGE_NO_BUCKET: stop('<operation> failed: the bucket does not exist', 'create the bucket, or fix output.path'),
  PIPE_LAKE_STORAGE_NO_CONDITIONAL_WRITES: stop('the object store holding s3://<bucket> ignores If-None-Match on PutObject', 'use a store with conditional writes (AWS S3, MinIO, R2, …), or keep the tables on a local or shared file system'),
  PIPE_LAKE_STORAGE_REQUEST: stop('<operation> failed: <reason>', 'read the object store\'s answer; retrying will not help'),
  PIPE_LAKE_STORAGE_UNAVAILABLE: retry('<operation> still failing after <s> s of retries: <reason>', `check that the object store (AWS_ENDPOINT_URL) is reachable; ${REPLAYED}`),
  PIPE_LAKE_TABLE_EXISTS: stop('table <path> already exists', 'pick another table path, or write to the existing table'),
  PIPE_LAKE_VACUUM_DELETE: stop('cannot delete <file> of <table>', 'check the table\'s storage permissions and run vacuum again; it resumes where it stopped'),
  PIPE_LAKE_VACUUM_RETENTION: stop('refusing to vacuum <table> with a retention of <duration> (below the <duration> safety minimum)', 'use a longer retention, or pass --force when no reader or writer uses older versions'),

  // Planning a spec that loaded (checks the spec layer leaves to the planner).
  PIPE_PLAN_DEAD_LETTER_CLASH: stop('table \'<name>\' has the same name as the dead-letter table', 'rename the table or deadLetter.table'),
  PIPE_PLAN_NOT_STAGED: stop('pipeline <name> is not staged', 'set mode: staged to run its jobs one by one'),
  PIPE_PLAN_PARTITIONS: stop('partitions must be a positive integer, got <n>', 'pass a positive --partitions'),
  PIPE_PLAN_UNKNOWN_TABLE: stop('route \'<value>\' targets table \'<table>\', which is not declared under tables', 'declare the table under tables, or fix the route'),

  // Running a plan.
  PIPE_METRICS_PORT: stop('cannot serve metrics on <host>:<port>: <reason>', 'pick another --metrics-port (0 picks a free one), or check --metrics-host'),
  PIPE_RUN_DEAD_LETTER_LIMIT: stop('<n> records went to the dead-letter table, <limit>; top reasons: <reasons>', 'nothing is lost: read them with `pipeline table head <dead-letter table>`, fix the spec or the producer, then run again; raise deadLetter.maxRatio / maxRecords to accept this rate'),
  PIPE_RUN_EXPECTATION_FAILED: stop('expectation \'<name>\' (<expression>) failed for table <table> on the record at <topic> partition <p> offset <o>: <values>', 'nothing of this batch was committed; fix the producer or the spec (the expectation, or its action), then run again: the batch is replayed exactly'),
  PIPE_RUN_FAILPOINT: stop('malformed PIPELINE_FAILPOINT \'<text>\'', 'use <name>[:<n>] with n >= 1'),
  PIPE_RUN_FORMAT: stop('<why this format cannot run yet>', 'use format: json, or validate/plan the spec without running it'),
  PIPE_RUN_JOB: stop('<the job\'s failure>', 'read the failed job\'s message; the other jobs went on'),
  PIPE_RUN_NOT_RUNNABLE: stop('node <id>: <why the operator cannot run>', 'validate reports this as PIPE0057'),
  PIPE_RUN_NOT_STAGED: stop('--job needs a staged pipeline; <name> has mode: fused', 'set mode: staged, or run without --job'),
  PIPE_RUN_PLAN: stop('node <id> has no edge for port \'<port>\'', 'a bug in the planner: report it with the spec (`pipeline plan --format json`)'),
  PIPE_RUN_REGISTRY: stop('schema registry <url> answered HTTP <status> for schema id <id>', 'check source.schema.registry.url and that the producer registered the schema'),
  PIPE_RUN_REGISTRY_AUTH: stop('schema registry <url> refused the credentials (HTTP <status>)', 'check source.schema.registry.basicAuthEnv / bearerTokenEnv and the variable they name'),
  PIPE_RUN_REGISTRY_UNAVAILABLE: retry('schema registry <url> unreachable for <s>s (<n> attempts, last: <reason>) while fetching schema id <id>', `restart once the registry is up: ${REPLAYED}`),
  PIPE_RUN_SCHEMA: stop('Avro schema <file>: <problem>', '`pipeline validate` checks schema files'),
  PIPE_RUN_STREAM: stop('stream <i> crashed: <reason>', 'the next run resumes from the checkpoint'),
  PIPE_RUN_WINDOW_EMIT: stop('append windows could not be written: <reason>', 'nothing is lost: the streams keep the windows in their checkpoints and the next run writes them'),
  PIPE_RUN_WINDOW_ROWS: stop('aggregation <name>: <n> window rows could not be stored: <reason>', 'a group key or measure changed type; check the columns of the aggregation\'s tables'),

  // The Kafka source.
  PIPE_SOURCE_CONNECT: retry('cannot read topic \'<topic>\' from <brokers>: <reason>', 'check source.kafka.brokers, ssl and sasl, and that the brokers are up'),
  PIPE_SOURCE_DATA_LOSS: stop('partition <p>: the checkpoint is at offset <n> but the topic now holds <low>..<high>', 'set source.kafka.failOnDataLoss: false to skip ahead, or reset the checkpoint and tables'),
  PIPE_SOURCE_KAFKA: stop('kafka consumer stopped: <reason>', 'check the brokers; the next run resumes from the checkpoint'),
  PIPE_SOURCE_NOT_KAFKA: stop('<command> reads a Kafka topic; <pipeline> reads the Delta table <path>', 'use it on a pipeline with source.kafka; a Delta source keeps its position in the checkpoint (pipeline status shows it)'),
  PIPE_SOURCE_TOPIC: stop('topic \'<topic>\' does not exist', 'create it first, or fix source.kafka.topic'),

  // Values given outside a spec (flags, environment).
  PIPE_SPEC_DURATION: stop('invalid duration \'<text>\'', 'use <number><ms|s|m|h|d>, e.g. 500ms, 5s, 1m'),
} satisfies Record<`PIPE_${string}`, ErrorCodeInfo>;

/** Every registered runtime error code; nothing else can be thrown as a PipelineError. */
export type ErrorCode = keyof typeof CODES;

/** One registry entry with its code, for generated references. */
export interface ErrorRegistryEntry extends ErrorCodeInfo {
  readonly code: ErrorCode;
}

/** The registry, sorted by code. */
export const ERROR_REGISTRY: readonly ErrorRegistryEntry[] = Object.freeze(
  (Object.keys(CODES) as ErrorCode[]).sort().map((code) => Object.freeze({ code, ...CODES[code] })),
);

/** True when `code` is registered (for codes that crossed a process or worker boundary as text). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(CODES, code);
}

/** The registry entry of `code`. */
export function errorCodeInfo(code: ErrorCode): ErrorCodeInfo {
  return CODES[code];
}
