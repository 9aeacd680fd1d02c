/**
 * Checks beyond the shape: routes and tables agree, keys and declared columns agree, no two
 * tables share a directory, secrets are not written literally. Every check tolerates data
 * that failed the schema (it skips what it cannot read), so one run reports everything.
 */
import { posix } from 'node:path';
import { diagnostic, type Code } from './codes.js';
import { checkColumnType } from './column-types.js';
import { reservedColumnReason, systemColumns } from '../lake/system-columns.js';
import { isDuration, parseDuration } from './duration.js';
import { checkFormatSettings } from './format-checks.js';
import { checkEventTime } from './event-time-checks.js';
import { checkSourceKind, deadLetterTableOf } from './source-checks.js';
import { checkStages } from './stage-checks.js';
import { didYouMean } from './suggest.js';
import type { Diagnostic } from './types.js';
import type { PositionLookup } from './schema-validate.js';
import { dotted, type SpecPath } from './yaml-tree.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
function get(root: unknown, path: SpecPath): unknown {
  let cur = root;
  for (const seg of path) {
    if (!isObj(cur) && !Array.isArray(cur)) return undefined;
    cur = (cur as Obj)[seg];
  }
  return cur;
}

/** What the checks need besides the data. */
export interface SemanticContext {
  file: string;
  at: PositionLookup;
  /** Dotted path → written text, for values written with `${…}`. */
  interpolated: Map<string, string>;
}

/** Runs every semantic check over (possibly schema-invalid) spec data. */
/** Tables the runtime writes under `output.path` for itself: the per-batch quality record and the dead-letter replay marks. */
const RESERVED_TABLES = ['_events', '_deadletter_replays'];

export function checkSemantics(data: unknown, ctx: SemanticContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const keyAt = (code: Code, path: SpecPath, params: Record<string, string | number>, hint?: string) =>
    out.push(diagnostic(code, { file: ctx.file, ...ctx.at.key(path), path: dotted(path) }, params, hint));
  const valueAt = (code: Code, path: SpecPath, params: Record<string, string | number>, hint?: string) =>
    out.push(diagnostic(code, { file: ctx.file, ...ctx.at.value(path), path: dotted(path) }, params, hint));

  const tables = isObj(get(data, ['tables'])) ? (get(data, ['tables']) as Obj) : {};
  const tableNames = Object.keys(tables);
  const routes = get(data, ['routing', 'routes']);

  // Routes and tables must agree in both directions.
  if (isObj(routes)) {
    const targets = new Set<string>();
    for (const [route, target] of Object.entries(routes)) {
      if (typeof target !== 'string') continue;
      targets.add(target);
      if (!Object.hasOwn(tables, target)) valueAt('PIPE0040', ['routing', 'routes', route], { route, table: target }, undefinedTargetHint(data, route, target, tableNames));
    }
    for (const name of tableNames) {
      if (!targets.has(name)) {
        keyAt('PIPE0041', ['tables', name], { table: name }, `add a route to it, e.g. \`routing.routes.${name}: ${name}\`, or remove it`);
      }
    }
  }

  for (const [name, table] of Object.entries(tables)) {
    if (!isObj(table)) continue;
    checkTable(name, table, keyAt, valueAt);
  }

  checkDirectories(data, tableNames, keyAt, valueAt);

  // A zero interval would close batches back to back with nothing in them.
  const interval = get(data, ['trigger', 'interval']);
  if (typeof interval === 'string' && isDuration(interval) && parseDuration(interval) === 0) {
    valueAt('PIPE0025', ['trigger', 'interval'], { path: 'trigger.interval', limit: 'longer than 0ms', actual: JSON.stringify(interval) });
  }

  // A Delta source takes no format settings at all (PIPE0076 says so once per setting).
  if (get(data, ['source', 'delta']) === undefined) checkFormatSettings(get(data, ['source']), keyAt);
  if (isObj(data)) checkEventTime(data, keyAt, valueAt);
  checkDerivedUses(data, valueAt);
  checkReservedColumns(['source', 'derive'], get(data, ['source', 'derive']), new Map(), keyAt);
  checkExpectationNames(data, tables, valueAt);
  checkStages(data, keyAt);
  checkSourceKind(data, keyAt, valueAt);

  const password = get(data, ['source', 'kafka', 'sasl', 'password']);
  const passwordPath = ['source', 'kafka', 'sasl', 'password'];
  if (typeof password === 'string' && hasLiteralText(ctx.interpolated.get(dotted(passwordPath)))) {
    valueAt('PIPE0048', passwordPath, { path: dotted(passwordPath) }, 'write `password: ${KAFKA_PASSWORD}` and set the variable where the pipeline runs');
  }
  return out;
}

/**
 * What to do about a route to an undefined table. Defining it under `tables` is the answer
 * unless the name is the dead-letter table's or a reserved one: defining those is refused too.
 */
function undefinedTargetHint(data: unknown, route: string, target: string, tableNames: string[]): string {
  const deadLetter = deadLetterTableOf(data);
  if (target.toLowerCase() === deadLetter.toLowerCase()) {
    return `\`${target}\` is the dead-letter table, which no route writes to: leave \`${route}\` out of \`routing.routes\` and its records go there as unmatched (\`routing.unmatched: dead_letter\`, the default)`;
  }
  if (RESERVED_TABLES.includes(target.toLowerCase())) return `\`${target}\` is a table the runtime writes for itself: route to a table of your own`;
  return didYouMean(target, tableNames) ?? `define it under \`tables\`, e.g. \`${target}: { mode: append }\``;
}

/**
 * An expectation checks one thing (PIPE0071; a `unique` one cannot `fail`, PIPE0072), and its
 * name identifies its counts and dead-letter reason: one per table (source ones included).
 */
function checkExpectationNames(data: unknown, tables: Obj, valueAt: Reporter): void {
  const listed = (v: unknown): [number, string][] =>
    Array.isArray(v) ? v.flatMap((e, i) => (isObj(e) && typeof e.name === 'string' ? [[i, e.name] as [number, string]] : [])) : [];
  const source = listed(get(data, ['source', 'expectations']));
  const checkKinds = (v: unknown, base: SpecPath) => {
    if (!Array.isArray(v)) return;
    for (const [i, e] of v.entries()) {
      if (!isObj(e)) continue;
      const name = String(e.name ?? i);
      if ((e.expr === undefined) === (e.unique === undefined)) valueAt('PIPE0071', [...base, i], { name, detail: e.expr === undefined ? 'has neither' : 'has both' }, 'split it into two expectations, or remove one');
      else if (e.unique !== undefined && e.action === 'fail') valueAt('PIPE0072', [...base, i, 'action'], { name }, 'use `action: quarantine` to keep the duplicates for a look');
    }
  };
  checkKinds(get(data, ['source', 'expectations']), ['source', 'expectations']);
  for (const [table, t] of Object.entries(tables)) if (isObj(t)) checkKinds(t.expectations, ['tables', table, 'expectations']);
  const report = (names: [number, string][], base: SpecPath, scope: string, taken: Set<string>) => {
    for (const [i, name] of names) {
      if (taken.has(name)) valueAt('PIPE0069', [...base, i, 'name'], { name, scope }, 'rename one of them');
      taken.add(name);
    }
  };
  report(source, ['source', 'expectations'], 'the source', new Set());
  for (const [table, t] of Object.entries(tables)) {
    if (!isObj(t)) continue;
    report(listed(t.expectations), ['tables', table, 'expectations'], `table ${table} (with the source's)`, new Set(source.map(([, n]) => n)));
  }
}

/**
 * Routing and the watermark read each record before it reaches its table, so they cannot
 * use a derived column (computed as each table loads).
 */
function checkDerivedUses(data: unknown, valueAt: Reporter): void {
  const derived = get(data, ['source', 'derive']);
  if (!isObj(derived)) return;
  const names = new Set(Object.keys(derived).map((k) => k.toLowerCase()));
  for (const [path, stage] of [[['routing', 'field'], 'routing'], [['watermark', 'column'], 'the watermark']] as const) {
    const column = get(data, [...path]);
    if (typeof column === 'string' && names.has(column.toLowerCase())) {
      valueAt('PIPE0068', [...path], { path: path.join('.'), column, stage: `${stage} has read the record` }, 'use a field the record carries itself');
    }
  }
}

/**
 * True when a written value holds literal text besides `${VAR}` references: a plain
 * password, or a `${VAR:-default}` whose default is itself the secret.
 */
function hasLiteralText(written: string | undefined): boolean {
  if (written === undefined) return true;
  return written.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*(:-)?\}/g, '').trim() !== '';
}

type Reporter = (code: Code, path: SpecPath, params: Record<string, string | number>, hint?: string) => void;

function checkTable(name: string, table: Obj, keyAt: Reporter, valueAt: Reporter): void {
  const base = ['tables', name];
  const hasKeys = Array.isArray(table.mergeKeys) && table.mergeKeys.length > 0;
  const mode = typeof table.mode === 'string' ? table.mode : hasKeys ? 'upsert' : 'append';
  if ((mode === 'upsert' || mode === 'scd2') && !hasKeys) {
    keyAt('PIPE0043', 'mode' in table ? [...base, 'mode'] : base, { table: name, mode }, 'add `mergeKeys: [id]`, or use `mode: append`');
  }
  if ((mode === 'upsert' || mode === 'scd2') && hasKeys && table.sequenceBy === undefined) {
    keyAt('PIPE0042', [...base, 'mergeKeys'], { table: name, mode },
      'add `sequenceBy: <column>` (e.g. a version or update time), or use `mode: append` to keep every record');
  }
  if (table.deleteWhen !== undefined && !hasKeys) {
    keyAt('PIPE0050', [...base, 'deleteWhen'], { table: name }, 'add `mergeKeys` naming the key a delete removes');
  }
  if (mode === 'append' && typeof table.writeMode === 'string') {
    keyAt('PIPE0079', [...base, 'writeMode'], { table: name, writeMode: table.writeMode }, 'remove `writeMode`, or give the table `mergeKeys` to merge by key');
  }
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  checkReservedColumns([...base, 'derive'], table.derive, systemColumns({ mode, sequenceBy: text(table.sequenceBy), deleteWhen: text(table.deleteWhen) }), keyAt);
  checkReservedColumns([...base, 'columns'], table.columns, new Map(), keyAt);
  const columns = table.columns;
  if (!isObj(columns)) return;
  for (const [column, type] of Object.entries(columns)) {
    if (typeof type !== 'string') continue;
    const problem = checkColumnType(type);
    if (problem) valueAt('PIPE0049', [...base, 'columns', column], { column, type }, problem);
  }
  // Key, sequence and partition columns need no declaration: undeclared ones are inferred
  // from the records (and a record lacking a merge key is dead-lettered with that reason).
}

/**
 * Derived and declared columns named like the columns loading and merging use (`rowid`,
 * `__lake_…`), or a derived column named like one the table sets itself (`system`): such a
 * column silently broke the batch's deduplication or merge.
 */
function checkReservedColumns(path: SpecPath, columns: unknown, system: ReadonlyMap<string, string>, keyAt: Reporter): void {
  if (!isObj(columns)) return;
  for (const column of Object.keys(columns)) {
    const reason = reservedColumnReason(column.toLowerCase(), system);
    if (reason !== undefined) keyAt('PIPE0080', [...path, column], { path: dotted([...path, column]), reason }, 'give the column another name');
  }
}

/** A `scheme://` location (as opposed to a local path, `C:\\` included). */
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Why an object-store `output.path` cannot be used, or undefined when it can (`s3://bucket/prefix`). */
function objectStoreProblem(location: string): string | undefined {
  const m = /^s3a?:\/\/([^/]*)(\/.*)?$/i.exec(location);
  if (!m) return 'only `s3://` object storage is supported (any S3-compatible store: set AWS_ENDPOINT_URL)';
  const bucket = m[1]!;
  if (bucket.includes('@')) return 'credentials do not belong in the path';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) return `\`${bucket}\` is not a bucket name (3-63 lower-case letters, digits, dots, hyphens)`;
  if ((m[2] ?? '').split('/').some((seg) => seg === '.' || seg === '..')) return '`.` and `..` are not allowed in an object-store prefix';
  return undefined;
}

/** Directory of a table or checkpoint, normalised and case-folded for comparison. */
function dirKey(p: string): string {
  return posix.normalize(p.replace(/\\/g, '/')).replace(/\/+$/, '').toLowerCase();
}

function checkDirectories(data: unknown, tableNames: string[], keyAt: Reporter, valueAt: Reporter): void {
  // Case-insensitive, because lakes live on case-insensitive file systems too (macOS, S3 tools).
  const seen = new Map<string, string>();
  for (const name of tableNames) {
    const folded = name.toLowerCase();
    const first = seen.get(folded);
    if (first !== undefined) keyAt('PIPE0045', ['tables', name], { first, second: name }, 'rename one of them');
    else seen.set(folded, name);
  }
  const deadLetter = get(data, ['deadLetter', 'table']);
  // `_events` is the quality record's table (written by every run).
  const reserved = (name: string) => RESERVED_TABLES.includes(name.toLowerCase());
  for (const name of tableNames) if (reserved(name)) keyAt('PIPE0070', ['tables', name], { table: name }, 'rename the table');
  if (typeof deadLetter === 'string' && reserved(deadLetter)) valueAt('PIPE0070', ['deadLetter', 'table'], { table: deadLetter }, 'the default dead-letter table is `_dead_letter`');
  if (typeof deadLetter === 'string' && seen.has(deadLetter.toLowerCase())) {
    valueAt('PIPE0046', ['deadLetter', 'table'], { table: deadLetter, other: seen.get(deadLetter.toLowerCase())! },
      'the dead-letter table has its own columns; give it its own name (the default is `_dead_letter`)');
  }
  const outputPath = get(data, ['output', 'path']);
  const checkpointPath = get(data, ['checkpoint', 'path']);
  if (typeof checkpointPath === 'string' && URL_SCHEME.test(checkpointPath)) {
    valueAt('PIPE0059', ['checkpoint', 'path'], { path: checkpointPath },
      'checkpoints need a local or shared file system: set `checkpoint.path` to a directory (by default it is `_checkpoints/<bucket>/<prefix>` in the working directory)');
  }
  if (typeof outputPath !== 'string') return;
  if (URL_SCHEME.test(outputPath)) {
    const reason = objectStoreProblem(outputPath);
    if (reason) valueAt('PIPE0058', ['output', 'path'], { path: outputPath.replace(/\/\/[^/@]*@/, '//***@'), reason }, 'write `s3://<bucket>/<prefix>`; credentials come from the AWS environment, never from the path');
    // A local checkpoint folder never collides with tables in a bucket.
    return;
  }
  const checkpoint = dirKey(typeof checkpointPath === 'string' ? checkpointPath : `${outputPath}/_checkpoints`);
  const all = typeof deadLetter === 'string' ? [...tableNames, deadLetter] : tableNames;
  for (const name of all) {
    const dir = dirKey(`${outputPath}/${name}`);
    if (checkpoint === dir || checkpoint.startsWith(`${dir}/`)) {
      const path = name === deadLetter && !tableNames.includes(name) ? ['deadLetter', 'table'] : ['tables', name];
      keyAt('PIPE0051', path, { table: name, path: typeof checkpointPath === 'string' ? checkpointPath : `${outputPath}/_checkpoints` },
        'rename the table, or set `checkpoint.path` outside the table directories');
    }
  }
}
