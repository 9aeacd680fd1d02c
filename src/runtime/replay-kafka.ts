/**
 * `pipeline replay <spec> --table T --from-offsets <file> | --from-timestamp <ts>`: re-derives
 * one table from the Kafka topic for a chosen range, with a consumer of its own (group
 * `<groupIdPrefix>-replay-<T>`, no offsets committed), through the same graph as a run (decode →
 * derive/where/expectations → route → table shaping), writing T, and the dead-letter table for
 * the records T refuses (see replay-dead-letters.ts): other tables, the windows and the
 * pipeline's checkpoints are left as they are.
 *
 * Where it ends: each partition's high-water mark at replay start (or the file's `to`). For an
 * append table also no later than the pipeline's committed position in that partition: the
 * records after it are the running pipeline's to write, so neither writes a record twice.
 *
 * Idempotent by a Delta txn per partition: every write of T's rows of partition p carries
 * txn(`<pipeline>/replay/<T>/<p>`, next offset), and a replay starts each partition at the
 * later of its requested start and that offset. A second replay of the same range therefore
 * writes nothing, a replay killed half-way resumes where it stopped, and after T is deleted
 * (its log and txns with it) a replay rebuilds it from the requested start. Upsert and scd2
 * tables converge whatever the overlap (greatest sequenceBy wins, ties by Kafka position);
 * an append table that still holds records the pipeline wrote is refused, since those records
 * would be appended again.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineError, SourceError } from '../errors.js';
import { Lake } from '../lake/index.js';
import type { TableRules } from '../operators/api.js';
import { knownColumns, sinkWriteOptions, writeDeltaSink } from '../operators/sink-delta.js';
import { tableRulesOf } from '../operators/table-shape.js';
import { kafkaSource, type KafkaSourceSpec } from '../spec/index.js';
import type { Plan, SinkPlan } from './plan.js';
import { BatchCollector } from './batch-collector.js';
import { BatchRecords, type CollectedBatch } from './record-chunk.js';
import { prepareBatch, transformBatch } from './batch-transform.js';
import { readCheckpointMetadata } from './checkpoint-layout.js';
import { failpoint } from './failpoints.js';
import { createKafka, fetchTopicOffsetsOrExplain, type TopicOffsets } from './kafka-client.js';
import { StreamSource } from './kafka-source.js';
import type { Logger } from './logger.js';
import { METADATA_COLUMN_NAMES, metadataColumns } from './metadata-columns.js';
import { resolveRuntimeSettings } from './settings.js';
import { StreamCheckpoint } from './stream-checkpoint.js';
import { deadLetterRefused, refusalsOf } from './replay-dead-letters.js';
import { tablePrograms, type TableProgram } from './table-program.js';
import type { RejectedRow } from '../lake/types.js';

/** Where a replay starts: explicit offsets per partition (optionally with an end), or a time. */
export type ReplayStart = { offsets: Record<string, number | [number, number]> } | { timestampMs: number };

/** Per partition, the offsets `[from, to)` a replay reads. */
export type ReplayRanges = Map<number, [number, number]>;

/** What a replay from Kafka did. */
export interface KafkaReplayResult {
  table: string;
  topic: string;
  /** The ranges read, per partition (after skipping what earlier replays wrote). */
  ranges: Record<string, [number, number]>;
  batches: number;
  /** Records read from the topic, and the ones that reached the table. */
  records: number;
  written: number;
  /** Records of the table the graph or the lake refused: all in the dead-letter table. */
  refused: number;
  /** Dead-letter rows the replay added for them (a refused record the table held with the same stage and reason got none). */
  deadLettered: number;
}

/** Records one replay batch reads at most. */
const REPLAY_BATCH_RECORDS = 20_000;

/** The replay's txn app id for `table` and `partition`. */
export function kafkaReplayAppId(plan: Plan, table: string, partition: number): string {
  return `${plan.pipeline}/replay/${table}/${partition}`;
}

/**
 * The txn app id recording where the replays of `table` began reading `partition` (its version:
 * that offset), written with the first commit that marks the partition. With the replay's
 * position it gives the offsets the table holds by replay: `[start, position)` (a replay never
 * reads below the position it holds, so there is no gap), which `pipeline verify` checks the
 * pipeline's batches against.
 */
export function kafkaReplayStartAppId(plan: Plan, table: string, partition: number): string {
  return `${kafkaReplayAppId(plan, table, partition)}/from`;
}

/** Re-derives `table` from the topic (see the module comment). */
export async function replayFromKafka(plan: Plan, table: string, start: ReplayStart, logger: Logger): Promise<KafkaReplayResult> {
  const spec = kafkaSource(plan.source, '--from-offsets and --from-timestamp', plan.pipeline);
  // The table's sink with its load (derive, where, expectations), as a run writes it.
  const programs = tablePrograms(plan);
  const sink = programs.get(table)?.sink;
  if (!sink) throw new PipelineError('PIPE_REPLAY_UNKNOWN_TABLE', `table '${table}' is not declared in ${plan.pipeline}`, { hint: `one of: ${plan.sinks.map((s) => s.table).join(', ')}` });
  const kafka = createKafka(spec, logger, `${spec.clientId ?? plan.pipeline}-replay`);
  const offsets = await fetchTopicOffsetsOrExplain(kafka, spec);
  const lake = await Lake.create({ threads: 2 });
  const staging = mkdtempSync(join(tmpdir(), 'pipeline-replay-'));
  try {
    const requested = await requestedRanges(kafka, spec, offsets, start);
    const ranges = await effectiveRanges(lake, plan, sink, requested, offsets);
    const result: KafkaReplayResult = { table, topic: spec.topic, ranges: Object.fromEntries([...ranges].map(([p, r]) => [String(p), r])), batches: 0, records: 0, written: 0, refused: 0, deadLettered: 0 };
    if ([...ranges.values()].every(([from, to]) => from >= to)) return result;
    const collector = new BatchCollector({
      partitions: [...ranges.keys()],
      positions: new Map([...ranges].map(([p, [from]]) => [p, from])),
      maxRecordsPerBatch: REPLAY_BATCH_RECORDS,
      endOffsets: new Map([...ranges].map(([p, [, to]]) => [p, to])),
    });
    const groupId = `${spec.groupIdPrefix ?? `pipeline-${plan.pipeline}`}-replay-${table}`;
    // Operator state (watermarks) carries from batch to batch, as in a run.
    let state: Record<string, unknown> = {};
    await readRange(kafka, spec, groupId, collector, logger, async (batch) => {
      const { written, refused, deadLettered, next } = await writeBatch(lake, plan, programs, table, batch, join(staging, String(result.batches)), spec.topic, state, result.batches, ranges);
      state = next;
      result.batches++;
      result.records += batch.count;
      result.written += written;
      result.refused += refused;
      result.deadLettered += deadLettered;
      logger.info({ table, ranges: batch.ranges, records: batch.count, written }, 'replayed');
    });
    return result;
  } finally {
    rmSync(staging, { recursive: true, force: true });
    lake.close();
  }
}

/** The ranges the user asked for, ending at the high-water marks (or the file's ends). */
async function requestedRanges(kafka: ReturnType<typeof createKafka>, spec: KafkaSourceSpec, offsets: TopicOffsets, start: ReplayStart): Promise<ReplayRanges> {
  const ranges: ReplayRanges = new Map();
  if ('timestampMs' in start) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      // A broker that cannot look offsets up by time answers "the end" for every time, which
      // would replay nothing without a word: the epoch must find the first record of a
      // partition that holds any.
      const epoch = await admin.fetchTopicOffsetsByTimestamp(spec.topic, 0);
      const blind = epoch.find(({ partition, offset }) => offsets.low.get(partition)! < offsets.high.get(partition)! && Number(offset) >= offsets.high.get(partition)!);
      if (blind) {
        throw new SourceError('PIPE_REPLAY_NO_TIME_INDEX', `the brokers of topic '${spec.topic}' do not look offsets up by time (partition ${blind.partition} holds records, but none is found at or after 1970-01-01)`, {
          hint: 'replay with --from-offsets, or from a broker with a time index (Apache Kafka, Redpanda)',
        });
      }
      // The first offset whose record timestamp is at or after the time (the high-water mark when none is).
      for (const { partition, offset } of await admin.fetchTopicOffsetsByTimestamp(spec.topic, start.timestampMs)) {
        const high = offsets.high.get(partition)!;
        ranges.set(partition, [Number(offset) < 0 ? high : Math.min(Number(offset), high), high]);
      }
    } finally {
      await admin.disconnect().catch(() => {});
    }
  } else {
    for (const [key, value] of Object.entries(start.offsets)) {
      const partition = Number(key);
      const high = offsets.high.get(partition);
      if (high === undefined) {
        throw new PipelineError('PIPE_REPLAY_OFFSETS_FILE', `partition ${key} of the offsets file is not a partition of topic '${spec.topic}' (it has ${offsets.partitions})`, { hint: `name partitions 0..${offsets.partitions - 1}` });
      }
      const [from, to] = Array.isArray(value) ? value : [value, high];
      ranges.set(partition, [from, Math.min(to, high)]);
    }
  }
  for (const [partition, [from, to]] of ranges) {
    const low = offsets.low.get(partition) ?? 0;
    if (from < low && to > from) {
      throw new SourceError('PIPE_REPLAY_RANGE_GONE', `partition ${partition}: the replay starts at offset ${from}, but retention deleted offsets ${from}..${Math.min(to, low) - 1}; the topic now holds ${low}..${offsets.high.get(partition)! - 1}`, {
        hint: `replay from offset ${low} or later (--from-offsets), or rebuild the table from the raw table a staged pipeline keeps (--from-raw)`,
        details: { partition, from, low },
      });
    }
  }
  return ranges;
}

/**
 * The ranges left to read: each starts where an earlier replay of the partition stopped, and an
 * append table's ranges end at the pipeline's committed positions (see the module comment).
 */
async function effectiveRanges(lake: Lake, plan: Plan, sink: SinkPlan, requested: ReplayRanges, offsets: TopicOffsets): Promise<ReplayRanges> {
  const exists = await lake.exists(sink.path);
  const snapshot = exists ? await lake.snapshot(sink.path) : undefined;
  if (sink.mode === 'append' && snapshot) {
    const own = Object.keys(snapshot.txns).filter((appId) => appId.startsWith(`${plan.pipeline}/`) && !appId.startsWith(`${plan.pipeline}/replay/`));
    if (own.length > 0) {
      throw new PipelineError('PIPE_REPLAY_APPEND_HELD', `table ${sink.table} is an append table that still holds records the pipeline wrote (txn ${own.slice(0, 3).join(', ')}); replaying into it would append them again`, {
        hint: `delete the table and replay it whole (its rows after the pipeline's checkpoint are the pipeline's to write), or replay an upsert table; upserts converge`,
      });
    }
  }
  const committed = sink.mode === 'append' ? committedPositions(plan, offsets.partitions) : undefined;
  const out: ReplayRanges = new Map();
  for (const [partition, [from, to]] of requested) {
    const done = snapshot?.txns[kafkaReplayAppId(plan, sink.table, partition)];
    const end = committed?.has(partition) ? Math.min(to, committed.get(partition)!) : to;
    out.set(partition, [Math.min(Math.max(from, done ?? from), end), end]);
  }
  return out;
}

/** The next offset per partition the pipeline's checkpoint has committed (empty without a checkpoint). */
function committedPositions(plan: Plan, partitions: number): Map<number, number> {
  const meta = readCheckpointMetadata(plan.checkpointPath);
  const positions = new Map<number, number>();
  if (!meta) return positions;
  for (let stream = 0; stream < meta.streams; stream++) {
    const recovered = new StreamCheckpoint(plan.checkpointPath, stream).recover();
    for (const [p, offset] of recovered.positions) if (p < partitions && p % meta.streams === stream) positions.set(p, offset);
  }
  return positions;
}

/** Reads the collector's ranges with a consumer of the replay's own, handing over each batch. */
async function readRange(kafka: ReturnType<typeof createKafka>, spec: KafkaSourceSpec, groupId: string, collector: BatchCollector, logger: Logger, onBatch: (batch: CollectedBatch) => Promise<void>): Promise<void> {
  let fatal: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => wake?.();
  const source = new StreamSource({
    kafka,
    topic: spec.topic,
    groupId,
    streamIndex: 0,
    streamCount: 1,
    collector,
    tuning: resolveRuntimeSettings(process.env, 1, 1).source,
    logger,
    onData: notify,
    onFatal: (err) => {
      fatal = err;
      notify();
    },
    // Records deleted while the replay reads them stop it: a replay never skips silently.
    failOnDataLoss: true,
    onLost: () => {},
  });
  try {
    await source.start();
    while (!collector.finished()) {
      if (fatal) throw fatal;
      if (collector.full() || (collector.pending() && collector.allCaughtUp())) {
        const batch = collector.take();
        source.syncPauses();
        await onBatch(batch);
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1_000);
      });
    }
    if (fatal) throw fatal;
  } finally {
    await source.stop();
  }
}

/** Runs one batch through the graph and writes the table's rows, one commit per partition. */
async function writeBatch(
  lake: Lake, plan: Plan, programs: Map<string, TableProgram>, table: string, batch: CollectedBatch, dir: string, topic: string, state: Record<string, unknown>, batchId: number,
  ranges: ReplayRanges,
): Promise<{ written: number; refused: number; deadLettered: number; next: Record<string, unknown> }> {
  const program = programs.get(table)!;
  const { sink } = program;
  // Each partition's first mark also says where the replays of the table began reading it.
  const held = (await lake.exists(sink.path)) ? (await lake.snapshot(sink.path)).txns : {};
  const marksOf = (p: number, until: number) => {
    const start = kafkaReplayStartAppId(plan, sink.table, p);
    return [{ appId: kafkaReplayAppId(plan, sink.table, p), version: until }, ...(held[start] === undefined ? [{ appId: start, version: ranges.get(p)![0] }] : [])];
  };
  const records = new BatchRecords(batch);
  const { partitions } = records;
  const graph = { nodes: plan.nodes, edges: plan.edges };
  const packed = records.packValues();
  const prepared = await prepareBatch(graph, { values: packed, retryForMs: 300_000, warn: () => {} });
  const tables: Record<string, TableRules> = {};
  for (const { sink: s } of programs.values()) {
    tables[s.table] = tableRulesOf(s, await knownColumns(lake, s), (plan.source.metadataColumns ?? []).map((m) => METADATA_COLUMN_NAMES[m]));
  }
  const routed = transformBatch(packed, { graph, tables, outDir: dir, state, prepared, partitions, owned: Object.keys(batch.ranges).map(Number) });
  const recordAt = (i: number) => ({ topic, record: { partition: partitions[i]!, offset: records.offsets[i]!, timestamp: records.timestamps[i]!, key: records.key(i), value: records.value(i), headers: records.headers(i) } });
  // The graph's refusals are dead-lettered before any commit of the batch, the lake's just
  // before the commit of their partition: a replay resumed after a crash finds them held.
  const failures = routed.failures.filter((f) => f.table === sink.table);
  let refused = failures.length;
  let deadLettered = await deadLetterRefused(lake, plan, batchId, refusalsOf(sink.table, program, failures, [], recordAt, (i) => i));
  let written = 0;
  const part = routed.tables.find((t) => t.table === sink.table);
  const lines = part ? readFileSync(part.path, 'utf8').split('\n') : [];
  // One commit per partition, each with its own txn, in partition order. The partitions with no
  // row for the table are marked together by one commit of txns alone, after the others (a
  // replay killed before it reads those records again, to no effect).
  const unmarked: number[] = [];
  for (const [p, [, until]] of Object.entries(batch.ranges).map(([k, r]) => [Number(k), r] as const).sort((a, b) => a[0] - b[0])) {
    const rows = part ? Int32Array.from(Array.from(part.indices).filter((i) => partitions[i] === p)) : new Int32Array(0);
    if (rows.length === 0) {
      unmarked.push(p);
      continue;
    }
    const [txn, ...marks] = marksOf(p, until);
    const file = join(dir, `${sink.table}.${p}.ndjson`);
    const keep = new Set(rows);
    writeFileSync(file, `${Array.from(part!.indices).flatMap((i, line) => (keep.has(i) ? [lines[line]!] : [])).join('\n')}\n`);
    const positions = { partitions: Array.from(rows, (i) => partitions[i]!), offsets: Array.from(rows, (i) => records.offsets[i]!) };
    const meta = plan.source.metadataColumns;
    const attached = meta ? { attached: metadataColumns(meta, plan.source.keyFormat ?? 'string', topic, records, rows) } : {};
    const beforeCommit = async (rejected: RejectedRow[]) => {
      deadLettered += await deadLetterRefused(lake, plan, batchId, refusalsOf(sink.table, program, [], rejected, recordAt, (row) => rows[row]!));
    };
    const result = await writeDeltaSink(lake, sink, { kind: 'ndjson', path: file, rowCount: rows.length, kinds: part!.kinds, positions, ...attached }, txn!, beforeCommit, undefined, marks);
    written += rows.length - result.rejected.length;
    refused += result.rejected.filter((r) => !r.dropped).length;
    failpoint('batch.after-table-commit');
  }
  // A table not created yet has nothing to mark: the next replay reads those records again.
  if (unmarked.length > 0 && (await lake.exists(sink.path))) {
    const [txn, ...marks] = unmarked.flatMap((p) => marksOf(p, batch.ranges[String(p)]![1]));
    await lake.write(sink.path, { kind: 'rows', rows: [] }, { ...sinkWriteOptions(sink), txn: txn!, marks, commitEmpty: true, operationParameters: { appId: txn!.appId, batchId: txn!.version } });
  }
  rmSync(dir, { recursive: true, force: true });
  return { written, refused, deadLettered, next: routed.state };
}
