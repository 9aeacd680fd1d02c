/**
 * `compilePlan`: the pure function from a validated spec to the operator DAG. No I/O, no
 * clock, no randomness: the same spec (and options) always gives the same Plan, with node
 * ids, node order and edge order fixed, so renders are stable and golden files do not churn.
 */
import { resolve } from 'node:path';
import { SpecError } from '../errors.js';
import { joinLocation, resolveLocation } from '../lake/storage/location.js';
import { parseDuration, type PipelineSpec } from '../spec/index.js';
import { NODE_IDS, type NodeKind, type Plan, type PlanEdge, type PlanNode, type SinkPlan, type StreamPlan, type WindowPlan } from '../runtime/plan.js';
import { decoderKind } from '../operators/index.js';
import { parseMeasure, type Measure } from '../operators/window-measures.js';
import { windowDefinition } from '../operators/window-output.js';
import { DEFAULT_MAX_COLUMNS } from '../operators/table-shape.js';
import { nodeExpectations, type ExpectationProp } from '../operators/expect.js';
import type { DeriveColumnProp } from '../operators/derive.js';

// Kept for callers that still import it from here; the ids are part of the Plan's vocabulary.
export { NODE_IDS } from '../runtime/plan.js';

/** Options that are not part of the spec. */
export interface CompileOptions {
  /** Topic partition count, when known (`plan --partitions N`, or the runner after metadata). */
  partitions?: number;
  /** Base directory for relative output/checkpoint paths. Default `process.cwd()`. */
  cwd?: string;
}

/** Default `deadLetter.maxRatio`: a run that dead-letters most of its input stops. */
export const DEFAULT_MAX_DEAD_LETTER_RATIO = 0.5;

/** Output port names that are not route values. */
export const PORTS = { error: 'error', unmatched: 'unmatched', late: 'late', rows: 'rows', quarantine: 'quarantine' } as const;


/**
 * Compiles a validated spec into a Plan. Throws SpecError only for inconsistencies the
 * loader is expected to reject first (a route naming an undeclared table, a table named
 * like the dead-letter table), because a plan with a dangling edge must never run.
 */
export function compilePlan(spec: PipelineSpec, opts: CompileOptions = {}): Plan {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.partitions !== undefined && (!Number.isInteger(opts.partitions) || opts.partitions < 1)) {
    throw new SpecError('PIPE_PLAN_PARTITIONS', `partitions must be a positive integer, got ${opts.partitions}`);
  }
  checkConsistency(spec);

  const outputPath = resolveLocation(cwd, spec.output.path);
  const checkpointPath = resolve(cwd, spec.checkpoint.path);
  const tables = sortedKeys(spec.tables);
  const routeValues = sortedKeys(spec.routing.routes);
  const deadLetterId = NODE_IDS.sink(spec.deadLetter.table);

  const sinks: SinkPlan[] = tables.map((table) => {
    const t = spec.tables[table]!;
    const sink: SinkPlan = {
      id: NODE_IDS.sink(table),
      table,
      path: joinLocation(outputPath, table),
      mode: t.mode,
      mergeKeys: t.mode === 'append' ? [] : [...(t.mergeKeys ?? [])],
      partitionBy: [...(t.partitionBy ?? [])],
      maxColumns: t.maxColumns ?? DEFAULT_MAX_COLUMNS,
    };
    if (t.sequenceBy !== undefined && t.mode !== 'append') sink.sequenceBy = t.sequenceBy;
    if (t.columns !== undefined) sink.columns = { ...t.columns };
    if (t.deleteWhen !== undefined) sink.deleteWhen = t.deleteWhen;
    if (t.rescuedDataColumn !== undefined) sink.rescuedDataColumn = t.rescuedDataColumn;
    if (t.writeMode === 'merge-on-read' && t.mode !== 'append') sink.writeMode = 'merge-on-read';
    if (t.maintenance?.compactSmallFiles || t.maintenance?.cleanupLog) sink.maintenance = { ...t.maintenance };
    return sink;
  });

  const plan: Plan = {
    planVersion: 1,
    pipeline: spec.name,
    source: {
      id: NODE_IDS.source, ...sourceSettings(spec, cwd), format: spec.source.format,
      ...(spec.source.metadataColumns ? { metadataColumns: [...spec.source.metadataColumns], keyFormat: spec.source.keyFormat ?? 'string' } : {}),
    },
    streams: planStreams(spec, opts.partitions),
    trigger: {
      intervalMs: parseDuration(spec.trigger.interval),
      maxRecordsPerBatch: spec.trigger.maxRecordsPerBatch,
    },
    routing: {
      field: spec.routing.field,
      routes: Object.fromEntries(routeValues.map((v) => [v, spec.routing.routes[v]!])),
      unmatched: spec.routing.unmatched,
    },
    sinks,
    windows: planWindows(spec, outputPath),
    deadLetter: {
      id: deadLetterId,
      table: spec.deadLetter.table,
      path: joinLocation(outputPath, spec.deadLetter.table),
      maxRatio: spec.deadLetter.maxRatio ?? DEFAULT_MAX_DEAD_LETTER_RATIO,
      ...(spec.deadLetter.maxRecords !== undefined ? { maxRecords: spec.deadLetter.maxRecords } : {}),
    },
    checkpointPath,
    outputPath,
    nodes: [],
    edges: [],
    spec,
  };
  if (opts.partitions !== undefined) plan.topicPartitions = opts.partitions;
  if (spec.watermark) {
    plan.watermark = { column: spec.watermark.column, delayMs: parseDuration(spec.watermark.delay), lateData: spec.watermark.lateData ?? 'dead_letter' };
    if (spec.watermark.idleTimeout !== undefined) plan.watermark.idleTimeoutMs = parseDuration(spec.watermark.idleTimeout);
  }
  plan.nodes = planNodes(spec, plan, tables);
  plan.edges = planEdges(spec, routeValues, deadLetterId, tables);
  return plan;
}

/** The aggregations' output tables, in name order (measures the loader could not parse are left for it to report). */
function planWindows(spec: PipelineSpec, outputPath: string): WindowPlan[] {
  return sortedKeys(spec.aggregations ?? {}).map((name) => {
    const a = spec.aggregations![name]!;
    const measures = Object.entries(a.measures).map(([m, expr]) => parseMeasure(m, expr)).filter((m): m is Measure => !('error' in m));
    const sizeMs = parseDuration(a.window.size);
    const slideMs = a.window.type === 'sliding' && a.window.slide !== undefined ? parseDuration(a.window.slide) : sizeMs;
    return {
      id: NODE_IDS.window(name),
      name,
      path: joinLocation(outputPath, name),
      groupBy: [...(a.groupBy ?? [])],
      measures,
      outputMode: a.outputMode ?? 'update',
      partitionBy: [...(a.partitionBy ?? [])],
      definition: windowDefinition({ from: [...a.from], eventTimeColumn: spec.watermark?.column ?? null, sizeMs, slideMs, groupBy: [...(a.groupBy ?? [])], measures }),
    };
  });
}

/** The plan's `kafka` or `delta` source settings (a Delta table's location resolved like output.path). */
function sourceSettings(spec: PipelineSpec, cwd: string): Pick<Plan['source'], 'kafka' | 'delta'> {
  const delta = spec.source.delta;
  if (!delta) return { kafka: spec.source.kafka! };
  return { delta: { path: resolveLocation(cwd, delta.path), specPath: delta.path, removes: delta.removes ?? 'fail', startingVersion: delta.startingVersion ?? 'earliest' } };
}

/** Stream i owns every partition p with p % streams == i (see DESIGN.md). */
function planStreams(spec: PipelineSpec, partitions: number | undefined): StreamPlan[] {
  const prefix = spec.source.kafka?.groupIdPrefix ?? `pipeline-${spec.name}`;
  return Array.from({ length: spec.streams }, (_, index) => {
    const stream: StreamPlan = { index, appId: `${spec.name}/${index}`, groupId: `${prefix}-${index}` };
    if (partitions !== undefined) stream.partitions = ownedPartitions(index, spec.streams, partitions);
    return stream;
  });
}

/** The partitions of a `partitions`-partition topic that stream `index` of `streams` owns. */
export function ownedPartitions(index: number, streams: number, partitions: number): number[] {
  const owned: number[] = [];
  for (let p = index; p < partitions; p += streams) owned.push(p);
  return owned;
}

/** The decoder's props: format, framing and schema sources (credentials only by variable name). */
function decodeProps(spec: PipelineSpec): Record<string, unknown> {
  const { format, schema } = spec.source;
  const props: Record<string, unknown> = { format };
  if (format === 'json') return schema?.file !== undefined ? { ...props, schemaFile: schema.file } : props;
  props.wireFormat = spec.source.wireFormat ?? 'confluent';
  if (schema?.file !== undefined) props.schemaFile = schema.file;
  if (schema?.messageType !== undefined) props.messageType = schema.messageType;
  if (schema?.reader !== undefined) props.readerFile = schema.reader;
  if (schema?.registry !== undefined) props.registry = { ...schema.registry, url: stripCredentials(schema.registry.url) };
  return props;
}

/**
 * Node props hold only what a reviewer should see, in the order they should see it.
 * Paths are as written in the spec (machine-independent); secrets are never copied in.
 */
function planNodes(spec: PipelineSpec, plan: Plan, tables: string[]): PlanNode[] {
  const source = spec.source.delta
    ? { id: NODE_IDS.source, kind: 'source-delta' as const, props: { path: spec.source.delta.path, removes: plan.source.delta!.removes, startingVersion: plan.source.delta!.startingVersion, streams: 1 } }
    : { id: NODE_IDS.source, kind: 'source-kafka' as const, props: kafkaProps(spec, plan) };
  const nodes: PlanNode[] = [
    source,
    { id: NODE_IDS.decode, kind: decoderKind(spec.source.format) as NodeKind, props: decodeProps(spec) },
  ];
  return [...nodes, ...laterNodes(spec, plan, tables)];
}

/** The source-kafka node's props. */
function kafkaProps(spec: PipelineSpec, plan: Plan): Record<string, unknown> {
  const kafka = spec.source.kafka!;
  const sourceProps: Record<string, unknown> = {
    topic: kafka.topic,
    brokers: kafka.brokers.map(stripCredentials),
    startingOffsets: kafka.startingOffsets,
    groupIdPrefix: kafka.groupIdPrefix ?? `pipeline-${spec.name}`,
    failOnDataLoss: kafka.failOnDataLoss,
  };
  if (kafka.clientId !== undefined) sourceProps.clientId = kafka.clientId;
  if (kafka.ssl !== undefined) sourceProps.ssl = kafka.ssl;
  if (kafka.sasl !== undefined) sourceProps.sasl = kafka.sasl.mechanism;
  if (spec.source.metadataColumns) {
    sourceProps.metadataColumns = spec.source.metadataColumns;
    if (spec.source.metadataColumns.includes('key')) sourceProps.keyFormat = spec.source.keyFormat ?? 'string';
  }
  sourceProps.streams = spec.streams;
  if (plan.topicPartitions !== undefined) sourceProps.partitions = plan.topicPartitions;
  return sourceProps;
}

/** The nodes after the decoder: watermark, route, sinks, windows. */
function laterNodes(spec: PipelineSpec, plan: Plan, tables: string[]): PlanNode[] {
  const nodes: PlanNode[] = [];
  if (plan.watermark) {
    const props: Record<string, unknown> = { column: plan.watermark.column, delay: spec.watermark!.delay, delayMs: plan.watermark.delayMs, lateData: plan.watermark.lateData };
    if (plan.watermark.idleTimeoutMs !== undefined) Object.assign(props, { idleTimeout: spec.watermark!.idleTimeout, idleTimeoutMs: plan.watermark.idleTimeoutMs });
    nodes.push({ id: NODE_IDS.watermark, kind: 'watermark', props });
  }
  nodes.push({
    id: NODE_IDS.route,
    kind: 'route',
    props: { field: plan.routing.field, routes: plan.routing.routes, unmatched: plan.routing.unmatched },
  });
  for (const table of tables) {
    const sink = plan.sinks.find((s) => s.table === table)!;
    nodes.push(...loadNodes(spec, table));
    const props: Record<string, unknown> = { table, mode: sink.mode };
    if (sink.mode !== 'append') props.mergeKeys = sink.mergeKeys;
    if (sink.sequenceBy !== undefined) props.sequenceBy = sink.sequenceBy;
    props.partitionBy = sink.partitionBy;
    if (sink.columns !== undefined) {
      props.columns = Object.fromEntries(sortedKeys(sink.columns).map((c) => [c, sink.columns![c]]));
    }
    if (sink.deleteWhen !== undefined) props.deleteWhen = sink.deleteWhen;
    if (sink.rescuedDataColumn !== undefined) props.rescuedDataColumn = sink.rescuedDataColumn;
    if (sink.maxColumns !== DEFAULT_MAX_COLUMNS) props.maxColumns = sink.maxColumns;
    if (sink.writeMode !== undefined) props.writeMode = sink.writeMode;
    if (sink.maintenance !== undefined) props.maintenance = sink.maintenance;
    props.path = specTablePath(spec, table);
    nodes.push({ id: sink.id, kind: 'sink-delta', props });
  }
  for (const w of plan.windows) {
    const a = spec.aggregations![w.name]!;
    const sizeMs = parseDuration(a.window.size);
    const props: Record<string, unknown> = { name: w.name, from: [...a.from], type: a.window.type, size: a.window.size, sizeMs };
    if (a.window.type === 'sliding' && a.window.slide !== undefined) Object.assign(props, { slide: a.window.slide, slideMs: parseDuration(a.window.slide) });
    Object.assign(props, { groupBy: w.groupBy, measures: { ...a.measures }, outputMode: w.outputMode, partitionBy: w.partitionBy, eventTimeColumn: plan.watermark?.column ?? null });
    props.path = specTablePath(spec, w.name);
    nodes.push({ id: w.id, kind: 'window', props });
  }
  nodes.push({
    id: plan.deadLetter.id,
    kind: 'sink-dead-letter',
    props: {
      table: spec.deadLetter.table,
      path: specTablePath(spec, spec.deadLetter.table),
      maxRatio: plan.deadLetter.maxRatio,
      ...(plan.deadLetter.maxRecords !== undefined ? { maxRecords: plan.deadLetter.maxRecords } : {}),
    },
  });
  return nodes;
}

/**
 * Edges in data-flow order: source, decode, (watermark,) route by route value, then every
 * error port to the dead-letter sink. The runtime follows exactly these edges.
 */
function planEdges(spec: PipelineSpec, routeValues: string[], deadLetterId: string, tables: string[]): PlanEdge[] {
  const beforeRoute = spec.watermark ? NODE_IDS.watermark : NODE_IDS.decode;
  const edges: PlanEdge[] = [
    { from: NODE_IDS.source, to: NODE_IDS.decode },
    { from: NODE_IDS.decode, to: deadLetterId, port: PORTS.error },
  ];
  if (spec.watermark) edges.push({ from: NODE_IDS.decode, to: NODE_IDS.watermark });
  if (spec.watermark && (spec.watermark.lateData ?? 'dead_letter') === 'dead_letter') {
    edges.push({ from: NODE_IDS.watermark, to: deadLetterId, port: PORTS.late });
  }
  edges.push({ from: beforeRoute, to: NODE_IDS.route });
  const chains = new Map(tables.map((t) => [t, loadNodes(spec, t)]));
  for (const value of routeValues) {
    const table = spec.routing.routes[value]!;
    edges.push({ from: NODE_IDS.route, to: chains.get(table)?.[0]?.id ?? NODE_IDS.sink(table), port: value });
  }
  if (spec.routing.unmatched === 'dead_letter') {
    edges.push({ from: NODE_IDS.route, to: deadLetterId, port: PORTS.unmatched });
  }
  edges.push({ from: NODE_IDS.route, to: deadLetterId, port: PORTS.error });
  for (const table of tables) {
    const chain = chains.get(table)!;
    chain.forEach((n, i) => edges.push({ from: n.id, to: chain[i + 1]?.id ?? NODE_IDS.sink(table) }));
    for (const n of chain) {
      if (n.kind === 'derive') edges.push({ from: n.id, to: deadLetterId, port: PORTS.error });
      if (n.kind === 'expect' && nodeExpectations(n).some((e) => e.action === 'quarantine')) edges.push({ from: n.id, to: deadLetterId, port: PORTS.quarantine });
    }
    edges.push({ from: NODE_IDS.sink(table), to: deadLetterId, port: PORTS.error });
  }
  for (const name of sortedKeys(spec.aggregations ?? {})) {
    for (const table of [...spec.aggregations![name]!.from].sort()) {
      if (table in spec.tables) edges.push({ from: NODE_IDS.sink(table), to: NODE_IDS.window(name), port: PORTS.rows });
    }
  }
  return edges;
}

/**
 * A table's load-time nodes between route and its sink, in the order the load applies them:
 * computed columns, then the row filter, then expectations; the source's part of each first.
 */
function loadNodes(spec: PipelineSpec, table: string): PlanNode[] {
  const t = spec.tables[table]!;
  const nodes: PlanNode[] = [];
  const columns: DeriveColumnProp[] = [
    ...Object.entries(spec.source.derive ?? {}).map(([column, sql]) => ({ column, sql, from: 'source' as const })),
    ...Object.entries(t.derive ?? {}).map(([column, sql]) => ({ column, sql, from: 'table' as const })),
  ];
  if (columns.length > 0) nodes.push({ id: NODE_IDS.derive(table), kind: 'derive', props: { table, columns } });
  const where = [spec.source.where, t.where].filter((w): w is string => w !== undefined);
  if (where.length > 0) nodes.push({ id: NODE_IDS.filter(table), kind: 'filter', props: { table, where: where.length === 1 ? where[0]! : where.map((w) => `(${w})`).join(' AND ') } });
  const expectations: ExpectationProp[] = [
    ...(spec.source.expectations ?? []).map((e) => expectationProp(e, 'source')),
    ...(t.expectations ?? []).map((e) => expectationProp(e, 'table')),
  ];
  if (expectations.length > 0) nodes.push({ id: NODE_IDS.expect(table), kind: 'expect', props: { table, expectations } });
  return nodes;
}

function expectationProp(e: NonNullable<PipelineSpec['source']['expectations']>[number], from: 'source' | 'table'): ExpectationProp {
  const rule = e.unique !== undefined ? { unique: [...e.unique] } : { expr: e.expr ?? '' };
  return { name: e.name, ...rule, action: e.action ?? 'warn', from };
}

/** `<output.path>/<table>` exactly as the spec spells the output path (no resolution). */
export function specTablePath(spec: PipelineSpec, table: string): string {
  return `${spec.output.path.replace(/\/+$/, '')}/${table}`;
}

/** A broker address may embed `user:password@`; plans and diffs never show it. */
export function stripCredentials(broker: string): string {
  return broker.replace(/^([a-z][a-z0-9+._-]*:\/\/)?[^@/]*@/i, '$1');
}

/** Keys in code-unit order: independent of YAML key order and of the machine's locale. */
export function sortedKeys(record: Record<string, unknown>): string[] {
  return Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function checkConsistency(spec: PipelineSpec): void {
  for (const [value, table] of Object.entries(spec.routing.routes)) {
    if (!(table in spec.tables)) {
      throw new SpecError('PIPE_PLAN_UNKNOWN_TABLE', `route '${value}' targets table '${table}', which is not declared under tables`);
    }
  }
  if (spec.deadLetter.table in spec.tables) {
    throw new SpecError(
      'PIPE_PLAN_DEAD_LETTER_CLASH',
      `table '${spec.deadLetter.table}' has the same name as the dead-letter table`,
    );
  }
}
