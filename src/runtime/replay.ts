/**
 * `pipeline replay --table T --from-raw`: re-derives one table from a staged pipeline's raw
 * table — every raw version, through the same graph (decode → route → table shaping) — and
 * merges (or appends) T's records with their Kafka coordinates, exactly as bronze and gold
 * would have. It writes T, and the dead-letter table for the records T refuses (see
 * replay-dead-letters.ts): other tables and every job's checkpoint are left as they are.
 *
 * Idempotent: each write carries txn(`<pipeline>/replay/<T>`, last raw version read), and a
 * replay starts after the version T's txn for that app id holds. So a second replay of an
 * unchanged raw table reads nothing, and a replay of a deleted table starts from version 0.
 */
import { rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineError } from '../errors.js';
import { Lake } from '../lake/index.js';
import type { Plan } from './plan.js';
import { MAX_VERSIONS_PER_BATCH, stagedJobs } from './staged-plan.js';
import type { TableRules } from '../operators/api.js';
import { knownColumns, writeDeltaSink } from '../operators/sink-delta.js';
import { tableRulesOf } from '../operators/table-shape.js';
import { packValues, prepareBatch, transformBatch } from './batch-transform.js';
import type { Logger } from './logger.js';
import { tablePrograms } from './table-program.js';
import type { RawRecord } from '../operators/sink-dead-letter.js';
import { decodeHeaders } from '../operators/sink-raw.js';
import type { RejectedRow } from '../lake/types.js';
import { deadLetterRefused, refusalsOf } from './replay-dead-letters.js';
import { METADATA_COLUMN_NAMES, metadataColumns, type MetadataSource } from './metadata-columns.js';
import { sourceName } from '../spec/index.js';

/** What a replay did. */
export interface ReplayResult {
  table: string;
  /** Raw versions read: `(from, to]`; `from === to` when the table already held everything. */
  fromVersion: number;
  toVersion: number;
  batches: number;
  /** Raw records read, and the ones that reached the table. */
  rawRecords: number;
  records: number;
  /** Records of the table the graph or the lake refused: all in the dead-letter table. */
  refused: number;
  /** Dead-letter rows the replay added for them (a refused record the table held with the same stage and reason got none). */
  deadLettered: number;
}

/** A raw table row as the record it keeps (coordinates, bytes, headers). */
function rawRecordOf(row: Record<string, unknown>): RawRecord {
  const ts = row.timestamp;
  const timestamp = ts instanceof Date ? ts.getTime() : typeof ts === 'string' ? Date.parse(ts) : Number(ts);
  return {
    partition: Number(row.partition), offset: Number(row.offset), timestamp,
    key: (row.key as Buffer | null) ?? null, value: (row.value as Buffer | null) ?? null, headers: decodeHeaders(row.headers as string | null),
  };
}

/** Raw table rows as the records {@link metadataColumns} reads. */
function rawMetadataSource(rows: Record<string, unknown>[]): MetadataSource {
  const records = rows.map(rawRecordOf);
  return {
    partitions: Int32Array.from(records, (r) => r.partition),
    offsets: Float64Array.from(records, (r) => r.offset),
    timestamps: Float64Array.from(records, (r) => r.timestamp),
    key: (i) => records[i]!.key,
    headers: (i) => records[i]!.headers,
  };
}

/** The replay's txn app id for `table`. */
export function replayAppId(plan: Plan, table: string): string {
  return `${plan.pipeline}/replay/${table}`;
}

/** Re-derives `table` from the raw table (see the module comment). */
export async function replayFromRaw(plan: Plan, table: string, logger: Logger): Promise<ReplayResult> {
  const jobs = stagedJobs(plan);
  if (!jobs) throw new PipelineError('PIPE_REPLAY_NOT_STAGED', `--from-raw needs a staged pipeline; ${plan.pipeline} has mode: fused, so it keeps no raw table`, { hint: 'set mode: staged to keep a raw table from now on' });
  const programs = tablePrograms(plan);
  const program = programs.get(table);
  const sink = program?.sink;
  if (!sink) throw new PipelineError('PIPE_REPLAY_UNKNOWN_TABLE', `table '${table}' is not declared in ${plan.pipeline}`, { hint: `one of: ${plan.sinks.map((s) => s.table).join(', ')}` });
  const lake = await Lake.create({ threads: 2 });
  const staging = mkdtempSync(join(tmpdir(), 'pipeline-replay-'));
  try {
    if (!(await lake.exists(jobs.raw.path))) throw new PipelineError('PIPE_REPLAY_NO_RAW', `no raw table at ${jobs.raw.path}`, { hint: 'run the raw job first (pipeline run <spec> --job raw)' });
    const appId = replayAppId(plan, table);
    const start = (await lake.exists(sink.path)) ? ((await lake.txnVersion(sink.path, appId)) ?? -1) : -1;
    const result: ReplayResult = { table, fromVersion: start, toVersion: start, batches: 0, rawRecords: 0, records: 0, refused: 0, deadLettered: 0 };
    const graph = { nodes: plan.nodes, edges: plan.edges };
    let state: Record<string, unknown> = {};
    for (let after = start; ; ) {
      const { changes, rows } = await lake.readChanges(jobs.raw.path, after, { maxVersions: MAX_VERSIONS_PER_BATCH });
      if (changes.upTo === after) break;
      const packed = packValues(rows.map((r) => (r.value as Buffer | null) ?? null));
      const prepared = await prepareBatch(graph, { values: packed, retryForMs: 300_000, warn: (message, fields) => logger.warn(fields ?? {}, message) });
      const tables: Record<string, TableRules> = {};
      const meta = plan.source.metadataColumns ?? [];
      for (const { sink: s } of programs.values()) {
        tables[s.table] = tableRulesOf(s, await knownColumns(lake, s), meta.map((m) => METADATA_COLUMN_NAMES[m]));
      }
      const routed = transformBatch(packed, { graph, tables, outDir: join(staging, String(changes.upTo)), state, prepared });
      state = routed.state;
      const failures = routed.failures.filter((f) => f.table === table);
      result.refused += failures.length;
      // Refused records are dead-lettered before the commit that moves the replay on (see replay-dead-letters.ts).
      const recordAt = (i: number) => ({ topic: String(rows[i]!.topic), record: rawRecordOf(rows[i]!) });
      result.deadLettered += await deadLetterRefused(lake, plan, result.batches, refusalsOf(table, program, failures, [], recordAt, (i) => i));
      const part = routed.tables.find((t) => t.table === table);
      if (part) {
        const positions = { partitions: Array.from(part.indices, (i) => Number(rows[i]!.partition)), offsets: Array.from(part.indices, (i) => Number(rows[i]!.offset)) };
        const beforeCommit = async (rejected: RejectedRow[]) => {
          result.deadLettered += await deadLetterRefused(lake, plan, result.batches, refusalsOf(table, program, [], rejected, recordAt, (row) => part.indices[row]!));
        };
        // The Kafka metadata columns, from what the raw table kept of each record.
        const attached = meta.length > 0 ? { attached: metadataColumns(meta, plan.source.keyFormat ?? 'string', sourceName(plan.source), rawMetadataSource(rows), part.indices) } : {};
        const written = await writeDeltaSink(lake, sink, { kind: 'ndjson', path: part.path, rowCount: part.count, kinds: part.kinds, positions, ...attached }, { appId, version: changes.upTo }, beforeCommit);
        const refusedRows = written.rejected.filter((r) => !r.dropped).length;
        result.records += part.count - written.rejected.length;
        result.refused += refusedRows;
      }
      rmSync(join(staging, String(changes.upTo)), { recursive: true, force: true });
      result.batches++;
      result.rawRecords += rows.length;
      result.toVersion = changes.upTo;
      logger.info({ table, rawVersions: [after + 1, changes.upTo], records: part?.count ?? 0 }, 'replayed');
      after = changes.upTo;
    }
    return result;
  } finally {
    rmSync(staging, { recursive: true, force: true });
    lake.close();
  }
}
