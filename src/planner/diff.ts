/**
 * `diffSpecs`: what a reviewer needs to know about a spec change, one entry per semantic
 * change, each with its impact class:
 *  - `safe`: applies on the next start, nothing already written or checkpointed is affected;
 *  - `checkpoint`: per-stream offsets or state no longer match (streams, topic, name, ...);
 *  - `table`: data already in a table must be rewritten, or is orphaned;
 *  - `routing`: records that used to land in a table now go to the dead-letter table, are
 *    dropped, or land elsewhere.
 * Comparison is semantic: key order is irrelevant, defaults are applied, durations are
 * compared in milliseconds, broker lists and merge keys as sets, paths normalised.
 * Values are copied into changes with secrets masked, so a change list is always printable.
 */
import { posix } from 'node:path';
import { parseDuration, type KafkaSourceSpec, type PipelineSpec } from '../spec/index.js';
import { ChangeList, type SpecChange } from './changes.js';
import { sortedKeys, specTablePath, stripCredentials } from './compile.js';
import { describeTable, diffTables } from './diff-tables.js';
import { diffEventTime } from './diff-aggregations.js';
import { diffSourceDerive } from './diff-derive.js';
import { diffStages } from './diff-stages.js';

export { allSafe, IMPACTS, type ChangeImpact, type SpecChange } from './changes.js';

/** Compares two validated specs semantically; the result is in spec order, tables by name. */
export function diffSpecs(before: PipelineSpec, after: PipelineSpec): SpecChange[] {
  const out = new ChangeList();
  if (before.name !== after.name) {
    out.add('name', before.name, after.name, 'checkpoint',
      `renaming the pipeline from ${before.name} to ${after.name}: the checkpoint belongs to ${before.name}, so the runner will refuse to start on it, and the Delta txn appIds (<name>/<stream>) change, so batches already committed are not recognised; ` +
        'give the renamed pipeline a new checkpoint.path and new tables, or keep the name');
  }
  if ((before.description ?? null) !== (after.description ?? null)) {
    out.add('description', before.description, after.description, 'safe', 'description changed (documentation only)');
  }
  diffSource(before, after, out);
  if (before.streams !== after.streams) {
    out.add('streams', before.streams, after.streams, 'checkpoint',
      `streams changes from ${before.streams} to ${after.streams}: partition ownership (p % streams) changes, so the per-stream checkpoints no longer match their partitions. ` +
        'Checkpoint-breaking: the runner will refuse to start unless the checkpoints are re-sharded (pipeline run --reshard) or reset');
  }
  diffTriggerAndWatermark(before, after, out);
  diffStages(before, after, out);
  diffRouting(before, after, out);
  diffSourceDerive(before, after, out);
  diffTables(before, after, out);
  diffEventTime(before, after, out);
  if (before.deadLetter.table !== after.deadLetter.table) {
    out.add('deadLetter.table', before.deadLetter.table, after.deadLetter.table, 'table',
      `dead-letter records go to table ${after.deadLetter.table} instead of ${before.deadLetter.table}: ` +
        `the old dead-letter table at ${specTablePath(before, before.deadLetter.table)} is no longer written (orphaned)`);
  }
  if (normalisePath(before.output.path) !== normalisePath(after.output.path)) {
    out.add('output.path', before.output.path, after.output.path, 'table',
      `every table moves from ${before.output.path} to ${after.output.path}: the tables at the old path are orphaned and the new ones start empty; move the data first`);
  }
  if (normalisePath(before.checkpoint.path) !== normalisePath(after.checkpoint.path)) {
    out.add('checkpoint.path', before.checkpoint.path, after.checkpoint.path, 'checkpoint',
      `checkpoints move from ${before.checkpoint.path} to ${after.checkpoint.path}: the streams find no checkpoint there and start over from startingOffsets; move the checkpoint directories first`);
  }
  diffUnknown(before, after, out);
  return out.changes;
}

/**
 * The changes for a pipeline that did not exist before (e.g. `diff --against` a ref where
 * the file is absent): nothing is deployed, so every table is a safe addition.
 */
export function diffNewPipeline(after: PipelineSpec): SpecChange[] {
  const out = new ChangeList();
  out.add('name', null, after.name, 'safe', `new pipeline ${after.name}: nothing is deployed yet, so nothing can break`);
  for (const table of sortedKeys(after.tables)) {
    out.add(`tables.${table}`, null, after.tables[table], 'safe', `new table ${describeTable(after, table)}`);
  }
  return out.changes;
}

function diffSource(before: PipelineSpec, after: PipelineSpec, out: ChangeList): void {
  const a = before.source.kafka;
  const b = after.source.kafka;
  if (!a || !b) diffSourceKind(before, after, out);
  else diffKafka(before, after, a, b, out);
  if (before.source.format !== after.source.format) {
    out.add('source.format', before.source.format, after.source.format, 'checkpoint',
      `record format changes from ${before.source.format} to ${after.source.format}: records after the checkpointed offsets are decoded as ${after.source.format}, those that are not go to the dead-letter table. ` +
        'Checkpoint-breaking unless the producers switched encoding exactly there; reset the checkpoints or confirm');
  }
  diffSchemaSource(before, after, out);
}

/**
 * A switch between a topic and a table, or a Delta source's own settings: the checkpoint of a
 * Delta source holds table versions, which mean nothing for a topic or another table.
 */
function diffSourceKind(before: PipelineSpec, after: PipelineSpec, out: ChangeList): void {
  const a = before.source;
  const b = after.source;
  const kind = (s: typeof a) => (s.delta ? `Delta table ${s.delta.path}` : `Kafka topic ${s.kafka?.topic}`);
  if (!a.delta !== !b.delta) {
    out.add(a.delta ? 'source.delta' : 'source.kafka', kind(a), kind(b), 'checkpoint',
      `source changes from ${kind(a)} to ${kind(b)}: the checkpoint holds positions in the old source, which mean nothing in the new one, so the runner will refuse to start on it; use a new checkpoint.path (and new tables)`);
    return;
  }
  const x = a.delta!;
  const y = b.delta!;
  if (x.path !== y.path) {
    out.add('source.delta.path', x.path, y.path, 'checkpoint',
      `source table changes from ${x.path} to ${y.path}: the checkpoint holds versions of the old table, so the runner will refuse to start on it; use a new checkpoint.path (and new tables), or keep the path`);
  }
  if ((x.removes ?? 'fail') !== (y.removes ?? 'fail')) {
    out.add('source.delta.removes', x.removes ?? 'fail', y.removes ?? 'fail', 'safe',
      y.removes === 'ignore' ? 'versions that update or delete rows are read (their added files in full) instead of stopping the run' : 'a version that updates or deletes rows stops the run');
  }
  if ((x.startingVersion ?? 'earliest') !== (y.startingVersion ?? 'earliest')) {
    out.add('source.delta.startingVersion', x.startingVersion ?? 'earliest', y.startingVersion ?? 'earliest', 'safe', 'startingVersion applies only to a first run; a checkpointed source keeps its position');
  }
}

/** Topic, brokers, group and connection settings of a Kafka source on both sides. */
function diffKafka(before: PipelineSpec, after: PipelineSpec, a: KafkaSourceSpec, b: KafkaSourceSpec, out: ChangeList): void {
  if (a.topic !== b.topic) {
    out.add('source.kafka.topic', a.topic, b.topic, 'checkpoint',
      `source topic changes from ${a.topic} to ${b.topic}: the checkpoint holds offsets of ${a.topic}, which mean nothing in ${b.topic}, so the runner will refuse to start on it; use a new checkpoint.path (and new tables), or keep the topic`);
  }
  const oldBrokers = [...new Set(a.brokers.map(stripCredentials))].sort();
  const newBrokers = [...new Set(b.brokers.map(stripCredentials))].sort();
  if (oldBrokers.join(',') !== newBrokers.join(',')) {
    const kept = newBrokers.filter((x) => oldBrokers.includes(x));
    if (kept.length > 0) {
      out.add('source.kafka.brokers', oldBrokers, newBrokers, 'safe',
        `bootstrap servers changed; ${kept.join(', ')} ${kept.length === 1 ? 'is' : 'are'} kept, so this is taken to be the same cluster (offsets stay valid)`);
    } else {
      out.add('source.kafka.brokers', oldBrokers, newBrokers, 'checkpoint',
        'every bootstrap server is replaced: if this is a different Kafka cluster, the checkpointed offsets do not apply there; reset the checkpoints, or approve if it is the same cluster under new addresses');
    }
  }
  if (a.startingOffsets !== b.startingOffsets) {
    out.add('source.kafka.startingOffsets', a.startingOffsets, b.startingOffsets, 'safe',
      `startingOffsets becomes ${b.startingOffsets}: it applies only to streams without a checkpoint; running streams keep their positions`);
  }
  const oldGroup = a.groupIdPrefix ?? `pipeline-${before.name}`;
  const newGroup = b.groupIdPrefix ?? `pipeline-${after.name}`;
  // With both prefixes defaulted, only a rename moves the groups, and the rename says so.
  const explicitPrefix = a.groupIdPrefix !== undefined || b.groupIdPrefix !== undefined;
  if (explicitPrefix && oldGroup !== newGroup) {
    out.add('source.kafka.groupIdPrefix', oldGroup, newGroup, 'safe',
      `consumer groups become ${newGroup}-<stream>: lag monitoring sees new groups; offsets come from the checkpoint, not the group`);
  }
  const connection: Array<[string, unknown, unknown]> = [
    ['clientId', a.clientId, b.clientId],
    ['ssl', a.ssl ?? false, b.ssl ?? false],
    ['sasl.mechanism', a.sasl?.mechanism, b.sasl?.mechanism],
    ['sasl.username', a.sasl?.username, b.sasl?.username],
  ];
  for (const [key, x, y] of connection) {
    if ((x ?? null) !== (y ?? null)) {
      out.add(`source.kafka.${key}`, x, y, 'safe', `${key} changed (connection setting only: offsets and state are unaffected)`);
    }
  }
  if ((a.sasl?.password ?? null) !== (b.sasl?.password ?? null)) {
    out.add('source.kafka.sasl.password', a.sasl ? '***' : null, b.sasl ? '***' : null, 'safe',
      'sasl.password changed (value redacted; connection setting only)');
  }
  if (a.failOnDataLoss !== b.failOnDataLoss) {
    out.add('source.kafka.failOnDataLoss', a.failOnDataLoss, b.failOnDataLoss, 'safe',
      b.failOnDataLoss
        ? 'streams stop with an error when retention removed offsets the checkpoint needs'
        : 'streams skip offsets that retention removed instead of stopping (those records are lost without an error)');
  }
}

/** `source.wireFormat` and `source.schema.*`: how values decode (tables), or where schemas come from (safe). */
function diffSchemaSource(before: PipelineSpec, after: PipelineSpec, out: ChangeList): void {
  const a = before.source.schema ?? {};
  const b = after.source.schema ?? {};
  if ((before.source.wireFormat ?? null) !== (after.source.wireFormat ?? null)) {
    out.add('source.wireFormat', before.source.wireFormat, after.source.wireFormat, 'checkpoint',
      'values after the checkpointed offsets are read with the new framing; those framed the old way go to the dead-letter table');
  }
  for (const key of ['file', 'messageType', 'reader'] as const) {
    if ((a[key] ?? null) === (b[key] ?? null)) continue;
    out.add(`source.schema.${key}`, a[key], b[key], 'table',
      key === 'reader'
        ? 'records resolve to a different reader schema: new columns appear and dropped fields stop arriving in every table'
        : 'values decode with a different schema: table columns may change, and values that do not match go to the dead-letter table');
  }
  if (canonical(a.registry ?? null) !== canonical(b.registry ?? null)) {
    out.add('source.schema.registry', a.registry, b.registry, a.registry && b.registry ? 'safe' : 'table',
      a.registry && b.registry ? 'schemas are fetched from a different registry address or with other credentials (schema ids must mean the same schemas there)' : 'writer schemas switch between a file and a registry');
  }
}

function diffTriggerAndWatermark(before: PipelineSpec, after: PipelineSpec, out: ChangeList): void {
  if (parseDuration(before.trigger.interval) !== parseDuration(after.trigger.interval)) {
    out.add('trigger.interval', before.trigger.interval, after.trigger.interval, 'safe',
      `batches close every ${after.trigger.interval} instead of ${before.trigger.interval}`);
  }
  if (before.trigger.maxRecordsPerBatch !== after.trigger.maxRecordsPerBatch) {
    out.add('trigger.maxRecordsPerBatch', before.trigger.maxRecordsPerBatch, after.trigger.maxRecordsPerBatch, 'safe',
      `batches are capped at ${after.trigger.maxRecordsPerBatch} records instead of ${before.trigger.maxRecordsPerBatch}`);
  }
  const a = before.watermark;
  const b = after.watermark;
  if (!a && b) {
    out.add('watermark', null, b, 'safe', `an event-time watermark on ${b.column} (delay ${b.delay}) is tracked from now on`);
  } else if (a && !b) {
    out.add('watermark', a, null, 'safe', `the event-time watermark on ${a.column} is no longer tracked`);
  } else if (a && b) {
    if (a.column !== b.column) {
      out.add('watermark.column', a.column, b.column, 'checkpoint',
        `the watermark moves from column ${a.column} to ${b.column}: the watermark kept in each stream's checkpoint was computed over the old column; reset the checkpoints${Object.keys(after.aggregations ?? {}).length > 0 ? ' (the aggregations\' windows were assigned by the old column too: run stops with PIPE_LAKE_WINDOW_CHANGED once they have a table or open windows)' : ''}`);
    }
    if (parseDuration(a.delay) !== parseDuration(b.delay)) {
      out.add('watermark.delay', a.delay, b.delay, 'safe', `records count as late after ${b.delay} instead of ${a.delay}`);
    }
  }
}

function diffRouting(before: PipelineSpec, after: PipelineSpec, out: ChangeList): void {
  const field = after.routing.field;
  const lostTo = after.routing.unmatched === 'drop' ? 'are now dropped' : `now go to the dead-letter table ${after.deadLetter.table}`;
  if (before.routing.field !== field) {
    out.add('routing.field', before.routing.field, field, 'routing',
      `records are routed by ${field} instead of ${before.routing.field}: records whose ${field} matches no route ${lostTo}`);
  }
  const oldRoutes = before.routing.routes;
  const newRoutes = after.routing.routes;
  for (const value of sortedKeys({ ...oldRoutes, ...newRoutes })) {
    const was = Object.hasOwn(oldRoutes, value) ? oldRoutes[value]! : undefined;
    const now = Object.hasOwn(newRoutes, value) ? newRoutes[value]! : undefined;
    if (was === now) continue;
    const path = `routing.routes.${value}`;
    if (was !== undefined && now === undefined) {
      out.add(path, was, null, 'routing', `records with ${field} = '${value}' no longer land in table ${was}; they ${lostTo}`);
    } else if (was !== undefined && now !== undefined) {
      out.add(path, was, now, 'routing', `records with ${field} = '${value}' now land in table ${now} instead of ${was}`);
    } else if (now !== undefined) {
      const formerly = before.routing.unmatched === 'drop' ? 'were dropped' : `went to the dead-letter table ${before.deadLetter.table}`;
      const fresh = Object.hasOwn(before.tables, now) ? '' : ' (a new table)';
      out.add(path, null, now, 'safe', `records with ${field} = '${value}' now land in table ${now}${fresh}; before, they ${formerly}`);
    }
  }
  const a = before.routing.unmatched;
  const b = after.routing.unmatched;
  if (a !== b) {
    if (b === 'drop') {
      out.add('routing.unmatched', a, b, 'routing',
        `records whose ${field} matches no route are now dropped instead of written to the dead-letter table ${before.deadLetter.table}`);
    } else {
      out.add('routing.unmatched', a, b, 'safe',
        `records whose ${field} matches no route are now written to the dead-letter table ${after.deadLetter.table} instead of dropped`);
    }
  }
}

/** `./lake/` and `lake` name the same directory. */
export function normalisePath(p: string): string {
  const n = posix.normalize(p.replace(/\\/g, '/'));
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/**
 * Settings this module does not know (added to the spec later) are still reported, and
 * conservatively: an unclassified change must be reviewed, so it is not `safe`.
 */
const KNOWN: Record<string, unknown> = {
  apiVersion: true, name: true, description: true, streams: true,
  source: { format: true, wireFormat: true, schema: true, derive: true, where: true, expectations: true, metadataColumns: true, keyFormat: true, kafka: { brokers: true, topic: true, startingOffsets: true, groupIdPrefix: true, clientId: true, ssl: true, sasl: true, failOnDataLoss: true }, delta: { path: true, removes: true, startingVersion: true } },
  trigger: { interval: true, maxRecordsPerBatch: true },
  watermark: { column: true, delay: true, lateData: true, idleTimeout: true },
  aggregations: { '*': { from: true, window: true, groupBy: true, measures: true, outputMode: true, partitionBy: true } },
  routing: { field: true, routes: true, unmatched: true },
  tables: { '*': { mode: true, mergeKeys: true, sequenceBy: true, partitionBy: true, columns: true, deleteWhen: true, derive: true, where: true, expectations: true, writeMode: true, maintenance: true } },
  deadLetter: { table: true },
  output: { path: true },
  checkpoint: { path: true },
  mode: true,
  stages: true,
};

function diffUnknown(before: unknown, after: unknown, out: ChangeList, known: unknown = KNOWN, path = ''): void {
  if (known === true) return;
  const a = isRecord(before) ? before : {};
  const b = isRecord(after) ? after : {};
  const knownKeys = isRecord(known) ? known : {};
  for (const key of sortedKeys({ ...a, ...b })) {
    const sub = knownKeys[key] ?? knownKeys['*'];
    const keyPath = path ? `${path}.${key}` : key;
    if (sub !== undefined) {
      // A whole entry of a map (a table, a route) added or removed is reported by its own differ.
      const wholeEntry = knownKeys[key] === undefined && (a[key] === undefined || b[key] === undefined);
      if (isRecord(sub) && !wholeEntry) diffUnknown(a[key], b[key], out, sub, keyPath);
      continue;
    }
    if (canonical(a[key]) !== canonical(b[key])) {
      out.add(keyPath, maskSecrets(a[key]), maskSecrets(b[key]), 'checkpoint',
        `${keyPath} changed; pipeline diff does not know this setting's impact, so treat it as checkpoint-breaking until reviewed`);
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** JSON with sorted keys, so key order never counts as a change. */
export function canonical(v: unknown): string {
  if (v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isRecord(v)) return `{${sortedKeys(v).map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

const SECRET_KEY = /password|secret|token|credential/i;

function maskSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(maskSecrets);
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_KEY.test(k) ? '***' : maskSecrets(x)]));
  return v;
}
