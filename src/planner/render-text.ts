/**
 * The text render of a plan: a plain list a reviewer can read and diff line by line.
 * Only node props, stream facts and spec paths as written appear: no absolute paths, no
 * timestamps, no secrets (the source node never carries them; see compile.ts).
 */
import type { Plan, PlanEdge } from '../runtime/plan.js';
import { renderJobs } from '../runtime/staged-plan.js';
import { operatorFor } from '../operators/index.js';

/** Renders `ms` in the largest unit that divides it exactly: 5000 → `5s`, 90000 → `90s`. */
export function formatDuration(ms: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  for (const [unit, size] of units) {
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Renders the plan as the reviewable text listing used by `pipeline plan` (the default). */
export function renderText(plan: Plan): string {
  const spec = plan.spec;
  const lines: string[] = [`pipeline ${plan.pipeline}`];
  const header: Array<[string, string]> = [
    spec.source.delta
      ? ['source', `delta table ${spec.source.delta.path} (new rows by version, removes: ${plan.source.delta!.removes}, first run from ${plan.source.delta!.startingVersion})`]
      : ['source', `kafka topic ${spec.source.kafka!.topic}, ${plan.source.format} records`],
    spec.source.delta
      ? ['streams', '1 (a table\'s versions are read in order)']
      : ['streams', `${plan.streams.length} (partition p belongs to stream p % ${plan.streams.length})`],
    [
      'trigger',
      `every ${formatDuration(plan.trigger.intervalMs)} or ${plan.trigger.maxRecordsPerBatch} records, whichever comes first`,
    ],
  ];
  if (plan.watermark) {
    header.push(['watermark', `${plan.watermark.column}, delay ${formatDuration(plan.watermark.delayMs)}`]);
  }
  header.push(['output', spec.output.path], ['checkpoint', `${spec.checkpoint.path} (stream i under <checkpoint>/i/)`]);
  lines.push(...table(header.map(([k, v]) => [k, v])).map((l) => `  ${l}`));

  if (plan.source.delta) {
    // One stream, no consumer group: its position is the last version read, in the checkpoint.
    lines.push('', 'streams (1)', ...table([['stream', 'appId', 'reads'], ['0', plan.streams[0]!.appId, `versions of ${plan.source.delta.specPath} after the checkpoint's`]]).map((l) => `  ${l}`));
  } else lines.push(...kafkaStreams(plan));

  lines.push('', `nodes (${plan.nodes.length})`);
  for (const node of plan.nodes) {
    lines.push(`  ${node.id} [${node.kind}]`);
    const props = operatorFor(node.kind).renderProps?.(node.props) ?? node.props;
    for (const [key, value] of Object.entries(props)) lines.push(...renderProp(key, value, '    '));
  }

  lines.push('', `edges (${plan.edges.length})`);
  for (const edge of plan.edges) lines.push(`  ${formatEdge(edge)}`);
  lines.push(...renderJobs(plan, formatDuration));
  return lines.join('\n') + '\n';
}

/** The streams of a Kafka source and the partitions each owns. */
function kafkaStreams(plan: Plan): string[] {
  const lines = ['', streamHeading(plan)];
  const rows = [['stream', 'appId', 'groupId', 'partitions']];
  for (const s of plan.streams) {
    const owned = s.partitions
      ? s.partitions.length > 0
        ? s.partitions.join(', ')
        : '(none: idle until the topic has more partitions)'
      : `p % ${plan.streams.length} == ${s.index}`;
    rows.push([String(s.index), s.appId, s.groupId, owned]);
  }
  lines.push(...table(rows).map((l) => `  ${l}`));
  return lines;
}

function streamHeading(plan: Plan): string {
  if (plan.topicPartitions === undefined) return `streams (${plan.streams.length}; pass --partitions N to list owned partitions)`;
  return `streams (${plan.streams.length}) over ${plan.topicPartitions} partitions`;
}

/** `from --> to` or `from --[port]--> to`. */
export function formatEdge(edge: PlanEdge): string {
  return edge.port === undefined ? `${edge.from} --> ${edge.to}` : `${edge.from} --[${edge.port}]--> ${edge.to}`;
}

/** Scalars and scalar lists on one line; objects (routes, columns) one entry per line. */
function renderProp(key: string, value: unknown, indent: string): string[] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return [`${indent}${key}: {}`];
    const width = Math.max(...entries.map(([k]) => k.length));
    return [`${indent}${key}:`, ...entries.map(([k, v]) => `${indent}  ${k.padEnd(width)}  ${formatScalar(v)}`)];
  }
  return [`${indent}${key}: ${formatScalar(value)}`];
}

function formatScalar(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(formatScalar).join(', ')}]`;
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Left-aligned columns separated by two spaces, trailing blanks trimmed. */
function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
