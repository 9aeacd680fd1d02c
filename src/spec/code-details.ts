/**
 * What triggers each spec diagnostic, in more words than its title: the "meaning" column of
 * the generated diagnostics reference (`npm run docs`). Kept beside the registry (`codes.ts`)
 * so a new code can be documented where it is defined; a code without an entry is documented
 * by its title and message template alone.
 */
import type { Code } from './codes.js';

/** Longer explanations by code (optional per code). */
export const codeDetails: Partial<Record<Code, string>> = {
  PIPE0001: 'The spec file cannot be read (missing, a directory, no permission). `validate` exits 2.',
  PIPE0002: 'The file is larger than 1 MiB.',
  PIPE0003: 'The file is not valid UTF-8. The diagnostic points at the first bad byte.',
  PIPE0004: 'YAML syntax error (bad indentation, unclosed quote, non-string key, …).',
  PIPE0005: 'Tabs used as indentation.',
  PIPE0006: 'Duplicate key in a mapping.',
  PIPE0007: 'Too many alias expansions (more than 100): a possible YAML bomb.',
  PIPE0008: 'Nesting deeper than 64 levels.',
  PIPE0009: 'The file is empty, its top level is not a mapping, or it holds several YAML documents.',
  PIPE0010: '`${VAR}` refers to an unset variable and has no default.',
  PIPE0011: 'Malformed `${…}` (bad variable name, unclosed brace).',
  PIPE0012: 'A `--set` argument is not `path=value`.',
  PIPE0013: 'A `--set` path does not exist in the schema.',
  PIPE0020: 'Unknown key (with a "did you mean" hint).',
  PIPE0021: 'A required field is missing.',
  PIPE0022: 'Wrong type (e.g. text where a number belongs).',
  PIPE0023: 'The value is not one of the allowed values (with a "did you mean" hint).',
  PIPE0024: '`name` is not a lowercase slug.',
  PIPE0025: 'A number is out of range (e.g. `streams: 0`).',
  PIPE0026: 'Malformed duration.',
  PIPE0027: 'Unsupported `apiVersion`.',
  PIPE0028: 'Empty string or empty list where a value is needed.',
  PIPE0029: 'Other schema violation (e.g. a list that repeats an item).',
  PIPE0040: 'A route targets a table that is not defined.',
  PIPE0041: 'A table that no route targets.',
  PIPE0042: 'An `upsert` or `scd2` table without `sequenceBy`.',
  PIPE0043: 'An `upsert` or `scd2` table without `mergeKeys`.',
  PIPE0044: 'Retired: key, sequence, partition and watermark columns no longer need declaring (they are inferred).',
  PIPE0045: 'Two tables whose names differ only in case (they would share a directory).',
  PIPE0046: 'The dead-letter table collides with a gold table.',
  PIPE0047: 'A table name is not a safe directory name (`..`, `/`, `\\`, an absolute path, other characters).',
  PIPE0048: 'A literal SASL password; use `${ENV_VAR}`.',
  PIPE0049: 'Unknown DuckDB type in `columns`.',
  PIPE0050: '`deleteWhen` on a table without `mergeKeys`.',
  PIPE0051: 'A table would be written to the checkpoint directory.',
  PIPE0052: 'Advice (`--partitions N`): more streams than partitions; the extra streams own nothing and idle.',
  PIPE0053: 'Advice (`--partitions N`): more than one stream over fewer than 10 partitions rarely pays.',
  PIPE0054: 'Advice (`--advice`): the topic name does not follow `domain.entity.version` (e.g. `commerce.orders.v1`).',
  PIPE0055: 'Advice (`--partitions N`): the partitions do not divide evenly between the streams.',
  PIPE0056: 'A SQL fragment (`deleteWhen`) does not parse as one predicate or does not bind against the declared columns (undeclared ones bind as text); checked by `validate`, `plan` and `run`.',
  PIPE0057: 'The spec uses an operator this version cannot run yet; `plan`/`diff` work, `run` refuses it. (Every operator of this version runs; the code is kept for operators that plan before they run.)',
  PIPE0058: 'An `output.path` URL that is not `s3://bucket/prefix` (another scheme, a bad bucket name, credentials in the URL, `.`/`..` segments).',
  PIPE0059: '`checkpoint.path` on object storage: checkpoints are kept on a local or shared file system.',
  PIPE0060: '`source.format` settings that do not fit together: avro/protobuf without a schema, a `.proto` file without `messageType` (or a registry with one), `schema.file` and `schema.registry` both set, a registry with `wireFormat: raw`, an avro-only or protobuf-only setting on the other format, `wireFormat`/`schema` with json, credentials in the registry URL.',
  PIPE0061: 'A schema file that is missing or does not parse, an Avro schema whose top level is not a record, or a Protobuf `messageType` the file does not define; checked by `validate` and `plan` at the line naming the file.',
};
