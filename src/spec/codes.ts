/**
 * The registry of spec diagnostic codes. Every diagnostic the loader emits is created from
 * an entry here (`diagnostic()` only accepts a registered code), so codes stay stable and
 * the documentation table can be generated from one place. Codes are never reused: a
 * retired check keeps its number.
 */
import type { Diagnostic, Severity } from './types.js';

/** One registered code: its default severity, a short title and a message template. */
export interface CodeInfo {
  severity: Severity;
  /** A few words for tables and annotation titles. */
  title: string;
  /** `{name}` placeholders are filled from the params given to `diagnostic()`. */
  template: string;
}

/** Every code the spec front end can emit, grouped by stage (input, YAML, schema, semantics). */
export const codes = {
  // Reading the file and the YAML document.
  PIPE0001: { severity: 'error', title: 'unreadable file', template: 'cannot read spec file: {reason}' },
  PIPE0002: { severity: 'error', title: 'file too large', template: 'spec file is {size} bytes; the limit is {limit} bytes' },
  PIPE0003: { severity: 'error', title: 'not UTF-8', template: 'spec file is not valid UTF-8: invalid byte 0x{byte} at offset {offset}' },
  PIPE0004: { severity: 'error', title: 'YAML syntax error', template: 'YAML syntax error: {detail}' },
  PIPE0005: { severity: 'error', title: 'tab indentation', template: 'tabs are not allowed as indentation in YAML' },
  PIPE0006: { severity: 'error', title: 'duplicate key', template: 'duplicate key `{key}`' },
  PIPE0007: { severity: 'error', title: 'alias bomb', template: 'too many YAML alias expansions (more than {limit}); refusing to expand' },
  PIPE0008: { severity: 'error', title: 'nesting too deep', template: 'YAML nesting is deeper than {limit} levels' },
  PIPE0009: { severity: 'error', title: 'not a single mapping', template: '{detail}' },
  // Interpolation and overrides.
  PIPE0010: { severity: 'error', title: 'unset variable', template: 'environment variable `{name}` is not set and has no default' },
  PIPE0011: { severity: 'error', title: 'bad interpolation', template: 'malformed interpolation `{text}`: use `${VAR}` or `${VAR:-default}`' },
  PIPE0012: { severity: 'error', title: 'bad --set', template: '--set `{arg}` must look like `path=value`' },
  PIPE0013: { severity: 'error', title: 'unknown --set path', template: '--set path `{path}` does not exist in the spec schema' },
  // Schema (shape) errors.
  PIPE0020: { severity: 'error', title: 'unknown key', template: 'unknown key `{key}` in {where}' },
  PIPE0021: { severity: 'error', title: 'missing field', template: 'missing required field `{key}` in {where}' },
  PIPE0022: { severity: 'error', title: 'wrong type', template: '`{path}` must be {expected}, got {actual}' },
  PIPE0023: { severity: 'error', title: 'not an allowed value', template: '`{path}` must be one of {allowed}, got {actual}' },
  PIPE0024: { severity: 'error', title: 'bad name', template: '`{path}` must be a lowercase slug (a-z, 0-9, `-`, starting with a letter), got {actual}' },
  PIPE0025: { severity: 'error', title: 'out of range', template: '`{path}` must be {limit}, got {actual}' },
  PIPE0026: { severity: 'error', title: 'bad duration', template: '`{path}` must be a duration like `500ms`, `5s`, `1m`, `2h`, `1d`, got {actual}' },
  PIPE0027: { severity: 'error', title: 'unsupported apiVersion', template: 'unsupported apiVersion {actual}; this version of pipeline reads `pipeline/v1`' },
  PIPE0028: { severity: 'error', title: 'empty value', template: '`{path}` must not be empty' },
  PIPE0029: { severity: 'error', title: 'schema violation', template: '`{path}` {detail}' },
  // Semantic checks (beyond the shape).
  PIPE0040: { severity: 'error', title: 'undefined route target', template: 'route `{route}` targets table `{table}`, which is not defined under `tables`' },
  PIPE0041: { severity: 'warning', title: 'unreachable table', template: 'table `{table}` is not the target of any route; it will never receive records' },
  PIPE0042: { severity: 'error', title: 'missing sequenceBy', template: 'table `{table}` is {mode} and needs `sequenceBy` to decide which record wins' },
  PIPE0043: { severity: 'error', title: 'missing mergeKeys', template: 'table `{table}` is {mode} and needs `mergeKeys`' },
  // Retired: key, sequence, partition and watermark columns may be inferred.
  PIPE0044: { severity: 'error', title: 'undeclared column (retired)', template: '{role} column `{column}` is not among the declared `columns` of table `{table}`' },
  PIPE0045: { severity: 'error', title: 'table name collision', template: 'tables `{first}` and `{second}` write to the same directory (names are compared case-insensitively)' },
  PIPE0046: { severity: 'error', title: 'dead-letter collision', template: 'dead-letter table `{table}` collides with the gold table `{other}`' },
  PIPE0047: { severity: 'error', title: 'unsafe table name', template: 'table name {name} is not a safe directory name: {reason}' },
  PIPE0048: { severity: 'warning', title: 'literal secret', template: '`{path}` holds a literal password' },
  PIPE0049: { severity: 'error', title: 'unknown column type', template: 'column `{column}` has unknown DuckDB type `{type}`' },
  PIPE0050: { severity: 'error', title: 'deleteWhen without keys', template: 'table `{table}` has `deleteWhen` but no `mergeKeys`; deletes need a key' },
  PIPE0051: { severity: 'error', title: 'checkpoint collision', template: 'table `{table}` would be written to the checkpoint directory `{path}`' },
  // Sizing and naming advice (`validate --advice` / `--partitions N`).
  PIPE0052: { severity: 'warning', title: 'streams without partitions', template: 'streams: {streams} but the topic has {partitions} partitions: {idle} streams would own no partition and idle' },
  PIPE0053: { severity: 'warning', title: 'streams for few partitions', template: 'streams: {streams} over {partitions} partitions: more than one stream rarely pays under {min} partitions' },
  PIPE0054: { severity: 'warning', title: 'topic naming', template: 'topic `{topic}` does not follow `domain.entity.version` (e.g. `commerce.orders.v1`)' },
  PIPE0055: { severity: 'warning', title: 'uneven partitions per stream', template: '{partitions} partitions over streams: {streams} give some streams {most} partitions and others {fewest}' },
  // Checks that need DuckDB (run by validate, plan and run after the ones above).
  PIPE0056: { severity: 'error', title: 'invalid SQL', template: '`{path}` is not a valid SQL predicate: {detail}' },
  PIPE0057: { severity: 'warning', title: 'cannot run yet', template: '{detail}' },
  PIPE0058: { severity: 'error', title: 'bad object-store location', template: '`{path}` is not a usable object-store location: {reason}' },
  PIPE0059: { severity: 'error', title: 'checkpoint on object storage', template: '`checkpoint.path` cannot be on object storage (`{path}`)' },
  PIPE0060: { severity: 'error', title: 'format settings', template: '{detail}' },
  PIPE0061: { severity: 'error', title: 'bad schema file', template: '`{path}`: {detail}' },
  // Event time: watermarks and windowed aggregations.
  PIPE0062: { severity: 'error', title: 'aggregation without watermark', template: 'aggregation `{name}` needs a `watermark`: windows are on event time' },
  PIPE0063: { severity: 'error', title: 'bad measure', template: '`{path}` is not a measure that merges across batches: {detail}' },
  PIPE0064: { severity: 'error', title: 'unknown aggregation table', template: 'aggregation `{name}` reads table `{table}`, which is not defined under `tables`' },
  PIPE0065: { severity: 'error', title: 'bad window', template: 'aggregation `{name}`: {detail}' },
  PIPE0066: { severity: 'error', title: 'bad aggregation output', template: 'aggregation `{name}`: {detail}' },
  PIPE0067: { severity: 'error', title: 'invalid SQL expression', template: '`{path}` is not a valid SQL expression: {detail}' },
  PIPE0071: { severity: 'error', title: 'expectation without one check', template: 'expectation `{name}` {detail}: give exactly one of `expr` (a SQL boolean) and `unique` (key columns)' },
  PIPE0072: { severity: 'error', title: 'unique expectation that fails', template: 'expectation `{name}` is `unique` with `action: fail`: a duplicate within a batch can be counted (warn), dropped or quarantined, not stop the run' },
  PIPE0070: { severity: 'error', title: 'reserved table name', template: 'table name `{table}` is reserved: `<output.path>/_events` holds the per-batch quality record and `_deadletter_replays` the dead-letter replay marks' },
  PIPE0069: { severity: 'error', title: 'duplicate expectation name', template: 'expectation `{name}` is defined twice for {scope}; names must be unique (they key counts and dead-letter reasons)' },
  PIPE0068: { severity: 'error', title: 'derived column used before it exists', template: '`{path}` names `{column}`, a derived column; derived columns are computed as each table loads, after {stage}' },
  PIPE0090: { severity: 'warning', title: 'window before a table filter (retired)', template: 'aggregation `{name}` reads table `{table}`, whose `where` or drop/quarantine expectations leave records out as the table loads; the window counts every record routed to the table, those included' },
  PIPE0091: { severity: 'warning', title: 'SQL that reads the clock', template: '`{path}` calls {fn}(): a record replayed after a crash, or read again by a re-run, gets another value than the first time' },
  PIPE0080: { severity: 'error', title: 'reserved column name', template: '`{path}` is reserved: {reason}' },
  PIPE0081: { severity: 'warning', title: 'SQL over an inferred column', template: '`{path}` reads {columns}, whose type is inferred from the values seen so far: a batch that widens it (BIGINT → DOUBLE → VARCHAR) can change what the expression gives, or stop the run, depending on how records were batched' },
  PIPE0079: { severity: 'warning', title: 'writeMode on append table', template: 'table `{table}` is `append`: `writeMode: {writeMode}` has no effect (only upsert and scd2 replace rows)' },
  // Delta tables as sources.
  PIPE0075: { severity: 'error', title: 'source kind', template: '`source` {detail}: give exactly one of `kafka` (a topic) and `delta` (a table)' },
  PIPE0076: { severity: 'error', title: 'Kafka-only setting with a Delta source', template: '`{path}` has no meaning with `source.delta`: {detail}' },
  PIPE0077: { severity: 'error', title: 'streams with a Delta source', template: 'a Delta source is read by one stream, not {streams}: its versions form one ordered sequence' },
  PIPE0078: { severity: 'error', title: 'Delta source reads its own output', template: '`source.delta.path` is {detail}, which this pipeline writes' },
  // Staged mode.
  PIPE0073: { severity: 'warning', title: 'unused stages', template: '`stages` has no effect while mode is {mode}' },
  PIPE0074: { severity: 'error', title: 'table named like a staged directory', template: 'table `{table}` would share its directory with staged mode\'s raw or bronze tables' },
} as const satisfies Record<string, CodeInfo>;

/** A registered diagnostic code. */
export type Code = keyof typeof codes;

/** Where a diagnostic points: file, 1-based line/col and the dotted spec path. */
export interface DiagnosticSite {
  file: string;
  line: number;
  col: number;
  path: string;
}

/** Fills `{name}` placeholders; unknown placeholders stay visible rather than vanish. */
export function renderTemplate(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** Builds a diagnostic from a registered code, its params and a site. */
export function diagnostic(
  code: Code,
  site: DiagnosticSite,
  params: Record<string, string | number> = {},
  hint?: string,
): Diagnostic {
  const info: CodeInfo = codes[code];
  const d: Diagnostic = {
    code,
    severity: info.severity,
    file: site.file,
    line: site.line,
    col: site.col,
    path: site.path,
    message: renderTemplate(info.template, params),
  };
  if (hint) d.hint = hint;
  return d;
}

/** True when `code` is registered (used by tests on emitted diagnostics). */
export function isRegisteredCode(code: string): code is Code {
  return Object.hasOwn(codes, code);
}
