/**
 * The plan's record-level graph run over a whole batch (decode → … → route → table sinks,
 * error ports to the dead-letter sink, exactly the plan's edges), writing each table's values to an NDJSON file
 * for the lake to load, with the JSON kinds of every column (the lake types columns from
 * them, never by guessing). Pure CPU plus one file write per table, so it can run inline or
 * on the stream's piscina pool (see decode-pool.ts): its inputs and outputs are plain,
 * transferable values.
 *
 * Raw values are copied byte for byte into the files (no re-serialisation, so every number
 * keeps its digits). Line breaks of pretty-printed values become spaces (JSON strings cannot
 * hold a raw line break, so this changes no value). Only a record whose keys are spelled
 * differently from its table's columns, or whose bytes are not JSON (Avro, Protobuf), is
 * serialised, exactly (json-values.ts).
 */
import { isUtf8 } from 'node:buffer';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PipelineError } from '../errors.js';
import { operatorFor } from '../operators/index.js';
import { stringifyExactJson } from '../lake/json-values.js';
import type {
  DecodedRecord, OperatorDefinition, OperatorNode, PackedValues, PrepareContext, RawValue, RecordFailure, RecordPosition, RecordStage, RoutedBatch, RoutedTable, TableRules,
} from '../operators/api.js';

/** The plan's graph as the transform walks it (plain data: it crosses to the decode thread). */
export interface TransformGraph {
  nodes: OperatorNode[];
  edges: { from: string; to: string; port?: string }[];
}

/** What the transform needs besides the values. */
export interface TransformContext {
  graph: TransformGraph;
  /** Rules per table name. */
  tables: Record<string, TableRules>;
  /** Directory for the per-table NDJSON files (created when missing). */
  outDir: string;
  /** State of the stateful operators committed with the previous batch, by node id. */
  state?: Record<string, unknown>;
  /** What the operators' `prepare` resolved for this batch, by node id ({@link prepareBatch}). */
  prepared?: Record<string, unknown>;
  /** Kafka partition of each record (aligned with the values); event time is tracked per partition. */
  partitions?: Int32Array;
  /** Every partition the stream owns in this batch, with or without records. */
  owned?: number[];
  /** Wall-clock time of the batch (ms), for idle timeouts. */
  now?: number;
}

/**
 * Runs every graph node's `prepare` for one batch (on the calling thread, before the
 * synchronous transform), e.g. fetching the schemas a batch's records name from a registry.
 */
export async function prepareBatch(graph: TransformGraph, ctx: PrepareContext): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const node of graph.nodes) {
    const def = operatorFor(node.kind);
    if (def.prepare) out[node.id] = await def.prepare(node, ctx);
  }
  return out;
}

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;
const SPACE = 32;

/** Packs raw values into one buffer (see {@link PackedValues}). */
export function packValues(values: (Buffer | null)[]): PackedValues {
  let total = 0;
  for (const v of values) if (v) total += v.length;
  const data = new Uint8Array(total);
  const starts = new Int32Array(values.length + 1);
  const nulls = new Uint8Array(values.length);
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    starts[i] = at;
    const v = values[i];
    if (v === null || v === undefined) nulls[i] = 1;
    else {
      data.set(v, at);
      at += v.length;
    }
  }
  starts[values.length] = at;
  return { data, starts, nulls };
}

/** One node of the walk: its definition, its stage for this batch, and where each port leads. */
interface Step {
  node: OperatorNode;
  def: OperatorDefinition;
  stage?: RecordStage;
  next: Map<string, string>;
  /** Table sinks: the operators that also see every record the table accepts (`rows` edges, e.g. windows). */
  taps: Step[];
}

/** Builds the batch's stages from the graph (a kind without a runtime piece cannot run). */
function buildSteps(ctx: TransformContext): { steps: Map<string, Step>; entry: string } {
  const steps = new Map<string, Step>();
  const shared: Record<string, unknown> = {};
  const now = ctx.now ?? Date.now();
  for (const node of ctx.graph.nodes) {
    const def = operatorFor(node.kind);
    if (def.notRunnable) throw new PipelineError('PIPE_RUN_NOT_RUNNABLE', `node ${node.id}: ${def.notRunnable}`, { hint: 'validate reports this as PIPE0057' });
    const stage = def.recordStage?.(node, {
      tables: ctx.tables, state: ctx.state?.[node.id], prepared: ctx.prepared?.[node.id], shared, now, ...(ctx.owned ? { partitions: ctx.owned } : {}),
    });
    steps.set(node.id, { node, def, ...(stage ? { stage } : {}), next: new Map(), taps: [] });
  }
  for (const e of ctx.graph.edges) {
    if (e.port === 'rows') steps.get(e.from)!.taps.push(steps.get(e.to)!);
    else steps.get(e.from)!.next.set(e.port ?? 'out', e.to);
  }
  const source = [...steps.values()].find((s) => s.def.role === 'source');
  const entry = source?.next.get('out');
  if (!entry) throw new PipelineError('PIPE_RUN_PLAN', 'the plan has no source node with an out edge');
  return { steps, entry };
}

/** Runs every value through the plan's graph; writes one NDJSON file per table reached. */
export function transformBatch(packed: PackedValues, ctx: TransformContext): RoutedBatch {
  const data = Buffer.from(packed.data.buffer, packed.data.byteOffset, packed.data.byteLength);
  const { starts, nulls } = packed;
  const count = starts.length - 1;
  const failures: RecordFailure[] = [];
  let dropped = 0;
  const lists = new Map<string, number[]>();
  const rewritten = new Map<number, Buffer>();
  const { steps, entry } = buildSteps(ctx);
  // One native check over the whole batch spares the per-record scan for U+FFFD.
  const raw: RawValue = { data, start: 0, end: 0, isNull: false, utf8: isUtf8(data) };
  // One position object for the whole batch (stages read it synchronously), not one per record.
  const at: RecordPosition = { index: 0, partition: 0, late: false };

  for (let i = 0; i < count; i++) {
    raw.start = starts[i]!;
    raw.end = starts[i + 1]!;
    raw.isNull = nulls[i] === 1;
    let step = steps.get(entry)!;
    let value: unknown = raw;
    let failure: RecordFailure | undefined;
    at.index = i;
    at.partition = ctx.partitions?.[i] ?? 0;
    at.late = false;
    for (;;) {
      if (step.def.terminal === 'dead-letter') {
        failures.push(failure ?? { index: i, stage: 'route', error: 'routed to the dead-letter table' });
        break;
      }
      const result = step.stage!.process(value, at);
      if ('drop' in result) {
        dropped++;
        break;
      }
      if (step.def.terminal === 'table' && result.port === 'out') {
        const table = String(step.node.props.table);
        const shaped = result.value as DecodedRecord & { renamed: boolean };
        if (shaped.renamed || shaped.serialise) rewritten.set(i, Buffer.from(stringifyExactJson(shaped.fields, shaped.lossless)));
        let list = lists.get(table);
        if (!list) lists.set(table, (list = []));
        list.push(i);
        for (const tap of step.taps) tap.stage!.process(shaped, at);
        break;
      }
      if (result.error !== undefined) {
        const table = step.def.terminal === 'table' ? { table: String(step.node.props.table) } : {};
        failure = { index: i, stage: step.def.failureStage ?? 'route', error: result.error, ...table };
      }
      const to = step.next.get(result.port);
      if (to === undefined) throw new PipelineError('PIPE_RUN_PLAN', `node ${step.node.id} has no edge for port '${result.port}'`);
      step = steps.get(to)!;
      value = result.value;
    }
  }

  const tables: RoutedTable[] = [];
  const hasBreaks = data.includes(NEWLINE) || data.includes(CARRIAGE_RETURN);
  if (lists.size > 0) mkdirSync(ctx.outDir, { recursive: true });
  const sinkOf = new Map([...steps.values()].filter((s) => s.def.terminal === 'table').map((s) => [String(s.node.props.table), s]));
  for (const [table, list] of lists) {
    let size = 0;
    for (const i of list) size += (rewritten.get(i)?.length ?? starts[i + 1]! - starts[i]!) + 1;
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (const i of list) {
      const own = rewritten.get(i);
      const from = at;
      at += own ? own.copy(out, at) : data.copy(out, at, starts[i]!, starts[i + 1]!);
      if (hasBreaks) blankLineBreaks(out.subarray(from, at));
      out[at++] = NEWLINE;
    }
    const path = join(ctx.outDir, `${table.replace(/[^A-Za-z0-9_.-]/g, '_')}.ndjson`);
    writeFileSync(path, out);
    tables.push({ table, path, count: list.length, indices: Int32Array.from(list), kinds: sinkOf.get(table)!.stage!.kinds ?? {} });
  }
  const state: Record<string, unknown> = {};
  const outputs: Record<string, unknown> = {};
  for (const s of steps.values()) {
    if (s.stage?.emit) outputs[s.node.id] = s.stage.emit();
    const snapshot = s.stage?.snapshot?.();
    if (snapshot !== undefined) state[s.node.id] = snapshot;
  }
  return { tables, failures, dropped, state, ...(Object.keys(outputs).length > 0 ? { outputs } : {}) };
}

/** Turns the CR and LF bytes of one value into spaces (one JSON value per NDJSON line). */
function blankLineBreaks(value: Buffer): void {
  for (const byte of [NEWLINE, CARRIAGE_RETURN]) {
    for (let at = value.indexOf(byte); at !== -1; at = value.indexOf(byte, at + 1)) value[at] = SPACE;
  }
}
