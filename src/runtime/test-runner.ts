/**
 * The engine of `pipeline test`: runs a case's records through the same batch processor,
 * decoder, operators and lake as `pipeline run` — only the broker is replaced by the
 * case's records, handed over as the records a consumer would deliver — into a
 * temporary lake, then reads the tables back.
 *
 * Every case runs under several cuttings (stream counts and batch sizes). Stream i owns
 * the partitions p with p % streams == i, as at run time; the streams' batches commit in
 * turn. The runner's promise is that tables never depend on these cuts, so any difference
 * between cuttings is reported as a failure of the spec under test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Lake } from '../lake/index.js';
import type { Plan } from './plan.js';
import { StreamCheckpoint } from './stream-checkpoint.js';
import { batchOf, type SourceRecord } from './record-chunk.js';
import { createDecoder } from './decode-pool.js';
import { BatchProcessor } from './batch-processor.js';
import { WindowEmitter } from './window-emitter.js';
import { TableLockClient } from './table-locks.js';
import { diffRows, isEmptyDiff, type RowDiff } from './test-compare.js';
import type { Row, TestCase, TestRecord } from './test-case.js';

/** How a run cuts the records: into `streams` streams and batches of at most `batchSize`. */
export interface Cutting {
  streams: number;
  batchSize: number;
}

/** Compiles the spec under test for a stream count, writing under `root`. */
export type PlanFactory = (streams: number, root: string) => Plan;

/** Dead-letter columns that name where a record was processed, which legitimately varies by cutting. */
const PLACEMENT_COLUMNS = ['stream', 'batch_id'];

/** Human label of a cutting. */
export function cuttingLabel(c: Cutting): string {
  const size = Number.isFinite(c.batchSize) ? `batches of ${c.batchSize}` : 'one batch per stream';
  return `${c.streams} stream${c.streams === 1 ? '' : 's'}, ${size}`;
}

/**
 * The cuttings a case runs under. The first is the spec as configured, whose tables are
 * compared with the expected rows; the others must give the same tables.
 */
export function defaultCuttings(plan: Plan): Cutting[] {
  const streams = plan.streams.length;
  const all: Cutting[] = [
    { streams, batchSize: plan.trigger.maxRecordsPerBatch },
    { streams: 1, batchSize: Infinity },
    { streams: 1, batchSize: 1 },
    { streams: 3, batchSize: 2 },
    { streams: Math.max(2, streams), batchSize: 1 },
  ];
  return all.filter((c, i) => all.findIndex((d) => d.streams === c.streams && d.batchSize === c.batchSize) === i);
}

function toMessage(r: TestRecord): SourceRecord {
  return { offset: String(r.offset), key: r.key, value: r.value, timestamp: String(r.timestampMs), headers: r.headers };
}

/** A stored value in a stable JSON-friendly form (big integers as text, bytes as base64). */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** Rows in a deterministic order (by their JSON text), so outputs and `--update` files are stable. */
export function sortRows(rows: Row[]): Row[] {
  return rows.map((r) => [JSON.stringify(r), r] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

/**
 * Runs the records once under `cutting` into a fresh temporary lake and returns every
 * table's rows (tables never written are absent).
 */
export async function runCutting(lake: Lake, planFor: PlanFactory, records: TestRecord[], cutting: Cutting): Promise<Record<string, Row[]>> {
  const root = mkdtempSync(join(tmpdir(), 'pipeline-test-'));
  try {
    const plan = planFor(cutting.streams, root);
    const queues = Array.from({ length: cutting.streams }, () => [] as TestRecord[]);
    for (const r of records) queues[r.partition % cutting.streams]!.push(r);
    const logger = pino({ level: 'silent' });
    const streams = queues.map((queue, i) => ({
      queue,
      next: 0,
      batchId: 0,
      positions: new Map<number, number>(),
      processor: new BatchProcessor({
        plan, streamIndex: i, appId: plan.streams[i]!.appId, lake, checkpoint: new StreamCheckpoint(plan.checkpointPath, i),
        decoder: createDecoder(0), locks: new TableLockClient(undefined), logger, tableConcurrency: 2,
      }),
    }));
    // Append windows are written once every stream owning records has closed them, as in a run.
    const emitter = new WindowEmitter({ plan, lake, streams: queues.flatMap((q, i) => (q.length > 0 ? [i] : [])) });
    // Streams commit in turn, one batch each, until every queue is drained.
    for (let live = streams.filter((s) => s.next < s.queue.length); live.length > 0; live = streams.filter((s) => s.next < s.queue.length)) {
      for (const s of live) {
        const slice = s.queue.slice(s.next, s.next + Math.min(s.queue.length, cutting.batchSize));
        s.next += slice.length;
        const messages = new Map<number, SourceRecord[]>();
        // Every partition the stream owns is in every batch, as with a consumer (the stream's watermark is over all of them).
        const ranges: Record<string, [number, number]> = {};
        for (const r of s.queue) {
          const at = s.positions.get(r.partition) ?? r.offset;
          if (!(r.partition in ranges)) ranges[r.partition] = [at, at];
        }
        for (const r of slice) {
          messages.set(r.partition, [...(messages.get(r.partition) ?? []), toMessage(r)]);
          // A range starts where the partition's previous batch ended, as a consumer's would.
          ranges[r.partition] = [ranges[r.partition]?.[0] ?? s.positions.get(r.partition) ?? r.offset, r.offset + 1];
          s.positions.set(r.partition, r.offset + 1);
        }
        const stats = await s.processor.commit(await s.processor.prepare(s.batchId++, batchOf(ranges, messages)));
        emitter.observe(streams.indexOf(s), stats.state);
        await emitter.emit();
      }
    }
    const tables: Record<string, Row[]> = {};
    for (const { table, path } of [...plan.sinks, ...(plan.windows ?? []).map((w) => ({ table: w.name, path: w.path })), plan.deadLetter]) {
      if (!(await lake.exists(path))) continue;
      tables[table] = sortRows((await lake.scan(path)).map((r) => plain(r) as Row));
    }
    return tables;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Tables as compared between cuttings: dead-letter rows without where they were processed. */
function comparable(tables: Record<string, Row[]>, deadLetter: string): Record<string, Row[]> {
  const out: Record<string, Row[]> = {};
  for (const [t, rows] of Object.entries(tables)) {
    out[t] = t !== deadLetter ? rows : sortRows(rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !PLACEMENT_COLUMNS.includes(k)))));
  }
  return out;
}

/** A table whose rows differ between the first cutting and another. */
export interface InvarianceFailure {
  table: string;
  cutting: Cutting;
  diff: RowDiff;
}

/** What running a case found. */
export interface CaseOutcome {
  /** Tables of the first cutting (the spec as configured). */
  tables: Record<string, Row[]>;
  /** Expected tables whose rows differ, with their diff. */
  mismatches: Record<string, RowDiff>;
  invariance: InvarianceFailure[];
  /** Expected files naming a table the spec does not have. */
  unknownTables: string[];
  cuttings: Cutting[];
}

/** File name (without `.jsonl`) of the expected dead-letter rows, whatever the table is called. */
export const DEAD_LETTER_FILE = '_dead_letter';

/** The expected rows of `table`; the dead-letter table's are in `_dead_letter.jsonl`. */
export function expectedFor(testCase: TestCase, table: string, deadLetter: string): Row[] | undefined {
  return table === deadLetter ? (testCase.expected[DEAD_LETTER_FILE] ?? testCase.expected[table]) : testCase.expected[table];
}

/** Keys that pair expected and actual rows of a table for a changed-columns diff. */
export function pairingKeys(plan: Plan, table: string): string[] {
  if (table === plan.deadLetter.table) return ['partition', 'offset'];
  const window = plan.windows?.find((w) => w.name === table);
  if (window) return ['window_start', ...window.groupBy];
  return plan.sinks.find((s) => s.table === table)?.mergeKeys ?? [];
}

/** Runs one case under every cutting and compares. */
export async function runCase(lake: Lake, planFor: PlanFactory, testCase: TestCase, cuttings: Cutting[]): Promise<CaseOutcome> {
  const reference = planFor(cuttings[0]!.streams, tmpdir());
  const names = [...reference.sinks.map((s) => s.table), ...(reference.windows ?? []).map((w) => w.name), reference.deadLetter.table];
  const deadLetter = reference.deadLetter.table;
  const runs: Record<string, Row[]>[] = [];
  for (const c of cuttings) runs.push(await runCutting(lake, planFor, testCase.records, c));
  const tables = runs[0]!;
  const mismatches: Record<string, RowDiff> = {};
  for (const table of names) {
    const expected = expectedFor(testCase, table, deadLetter);
    if (!expected) continue;
    const diff = diffRows(expected, tables[table] ?? [], pairingKeys(reference, table));
    if (!isEmptyDiff(diff)) mismatches[table] = diff;
  }
  const unknownTables = Object.keys(testCase.expected).filter((t) => !names.includes(t) && t !== DEAD_LETTER_FILE);
  const invariance: InvarianceFailure[] = [];
  const base = comparable(tables, deadLetter);
  for (let i = 1; i < runs.length; i++) {
    const other = comparable(runs[i]!, deadLetter);
    for (const table of names) {
      const diff = diffRows(base[table] ?? [], other[table] ?? [], []);
      if (!isEmptyDiff(diff)) invariance.push({ table, cutting: cuttings[i]!, diff });
    }
  }
  return { tables, mismatches, invariance, unknownTables, cuttings };
}
