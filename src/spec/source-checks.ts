/**
 * Checks of the source's kind: a pipeline reads exactly one Kafka topic or one Delta table,
 * and a Delta source takes none of the settings that describe Kafka records (its rows arrive
 * typed), one stream, no staged mode, and not a table the pipeline itself writes.
 */
import { posix } from 'node:path';
import type { Code } from './codes.js';
import type { SpecPath } from './yaml-tree.js';

/** The dead-letter table's name in (possibly schema-invalid) spec data: `deadLetter.table`, else the default. */
export function deadLetterTableOf(data: unknown): string {
  const dl = (data as { deadLetter?: { table?: unknown } } | null)?.deadLetter;
  return typeof dl === 'object' && dl !== null && typeof dl.table === 'string' ? dl.table : '_dead_letter';
}

type Reporter = (code: Code, path: SpecPath, params: Record<string, string | number>, hint?: string) => void;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Settings of `source` that describe Kafka records, meaningless for rows read from a table. */
const KAFKA_RECORD_SETTINGS = ['wireFormat', 'schema', 'metadataColumns', 'keyFormat'];

/** Reports a source that is not exactly one of kafka/delta, and settings a Delta source cannot honour. */
export function checkSourceKind(data: unknown, keyAt: Reporter, valueAt: Reporter): void {
  if (!isObj(data) || !isObj(data.source)) return;
  const source = data.source;
  const hasKafka = source.kafka !== undefined;
  const hasDelta = source.delta !== undefined;
  if (hasKafka && hasDelta) keyAt('PIPE0075', ['source', 'delta'], { detail: 'has both `kafka` and `delta`' }, 'remove one: a pipeline reads one topic or one table');
  if (!hasKafka && !hasDelta) keyAt('PIPE0075', ['source'], { detail: 'has neither `kafka` nor `delta`' }, 'e.g. `kafka: { brokers: [localhost:9092], topic: events }` or `delta: { path: ./lake/orders }`');
  if (!hasDelta || hasKafka) return;
  const avoid = (path: SpecPath, detail: string, hint: string) => keyAt('PIPE0076', path, { path: path.join('.'), detail }, hint);
  if (source.format !== undefined && source.format !== 'json') {
    avoid(['source', 'format'], 'rows of a Delta table arrive typed, not as encoded values', 'remove `format` (the rows are read as they are stored)');
  }
  for (const key of KAFKA_RECORD_SETTINGS) {
    if (key in source) avoid(['source', key], 'it describes Kafka records', `remove \`source.${key}\``);
  }
  if (data.mode === 'staged') avoid(['mode'], 'staged mode lands a Kafka topic in its raw table', 'remove `mode: staged`; a pipeline reading a table already runs as its own job');
  if (typeof data.streams === 'number' && data.streams > 1) {
    valueAt('PIPE0077', ['streams'], { streams: data.streams }, 'set `streams: 1` (or remove it)');
  }
  const path = isObj(source.delta) ? source.delta.path : undefined;
  const output = isObj(data.output) ? data.output.path : undefined;
  if (typeof path !== 'string' || typeof output !== 'string') return;
  const own = ownTable(path, output, data);
  if (own) valueAt('PIPE0078', ['source', 'delta', 'path'], { detail: own }, 'read a table of another pipeline (or give this one a different `output.path`)');
}

/** The name of this pipeline's own table at `path`, if it is one ("table `orders`"). */
function ownTable(path: string, output: string, data: Obj): string | undefined {
  const norm = (p: string) => posix.normalize(p.replace(/\\/g, '/')).replace(/\/+$/, '').toLowerCase();
  const out = norm(output);
  const target = norm(path);
  if (posix.dirname(target) !== out) return undefined;
  const name = posix.basename(target);
  const tables = isObj(data.tables) ? Object.keys(data.tables) : [];
  const aggregations = isObj(data.aggregations) ? Object.keys(data.aggregations) : [];
  const deadLetter = deadLetterTableOf(data);
  const hit = [...tables, ...aggregations, deadLetter, '_events'].find((t) => t.toLowerCase() === name);
  return hit === undefined ? undefined : `table \`${hit}\` under \`output.path\``;
}
