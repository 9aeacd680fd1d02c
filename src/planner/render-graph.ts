/**
 * Machine-facing and diagram renders of a plan: JSON (for tools), Mermaid (for pull-request
 * comments and READMEs) and Graphviz DOT. All three read only node props, stream facts and
 * spec paths as written, so they are as stable and as secret-free as the text render.
 */
import { operatorFor } from '../operators/index.js';
import type { OperatorDefinition } from '../operators/api.js';
import type { Plan, PlanEdge, PlanNode } from '../runtime/plan.js';
import { formatDuration } from './render-text.js';

/**
 * The JSON render: `{planVersion, pipeline, streams, trigger, watermark?, output, checkpoint,
 * nodes: [{id, kind, ...props}], edges: [{from, to, port?}]}`, two-space indented.
 */
export function renderJson(plan: Plan): string {
  const doc: Record<string, unknown> = {
    planVersion: plan.planVersion,
    pipeline: plan.pipeline,
    streams: plan.streams,
  };
  if (plan.topicPartitions !== undefined) doc.topicPartitions = plan.topicPartitions;
  doc.trigger = plan.trigger;
  if (plan.watermark) doc.watermark = plan.watermark;
  doc.output = plan.spec.output.path;
  doc.checkpoint = plan.spec.checkpoint.path;
  doc.nodes = plan.nodes.map((n) => ({ id: n.id, kind: n.kind, ...n.props }));
  doc.edges = plan.edges;
  return JSON.stringify(doc, null, 2) + '\n';
}

/** A few short lines per node: enough to read the diagram without the full prop list. */
export function nodeSummary(node: PlanNode, plan: Plan): string[] {
  const p = node.props;
  const lines = node.id === node.kind ? [node.id] : [node.id, node.kind];
  switch (node.kind) {
    case 'source-kafka': {
      lines.push(`topic ${String(p.topic)}`);
      const streams = `${plan.streams.length} stream${plan.streams.length === 1 ? '' : 's'}`;
      lines.push(plan.topicPartitions === undefined ? streams : `${streams} over ${plan.topicPartitions} partitions`);
      lines.push(`trigger ${formatDuration(plan.trigger.intervalMs)} / ${plan.trigger.maxRecordsPerBatch} records`);
      break;
    }
    case 'route':
      lines.push(`by ${String(p.field)}`, `unmatched: ${String(p.unmatched)}`);
      break;
    case 'sink-delta': {
      const keys = Array.isArray(p.mergeKeys) && p.mergeKeys.length > 0 ? ` [${p.mergeKeys.join(', ')}]` : '';
      const seq = p.sequenceBy !== undefined ? ` by ${String(p.sequenceBy)}` : '';
      lines.push(`${String(p.mode)}${keys}${seq}`);
      if (Array.isArray(p.partitionBy) && p.partitionBy.length > 0) lines.push(`partitioned by ${p.partitionBy.join(', ')}`);
      lines.push(String(p.path));
      break;
    }
    case 'sink-dead-letter':
      lines.push(String(p.path));
      break;
    case 'derive':
      lines.push(`computes ${(p.columns as { column: string }[]).map((c) => c.column).join(', ')}`);
      break;
    case 'filter':
      lines.push(`where ${String(p.where)}`);
      break;
    case 'expect': {
      const names = (p.expectations as { name: string; action: string }[]).map((e) => `${e.name} (${e.action})`);
      lines.push(...names);
      break;
    }
    default:
      break;
  }
  return lines;
}

/** Edges into the dead-letter sink are the failure paths; diagrams draw them dashed. */
function isDeadLetterEdge(edge: PlanEdge, plan: Plan): boolean {
  return edge.to === plan.deadLetter.id;
}

/** Mermaid ids allow `[A-Za-z0-9_]`; plan ids with dots are mapped, collisions get a suffix. */
function mermaidIds(nodes: PlanNode[]): Map<string, string> {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  for (const node of nodes) {
    const base = node.id.replace(/[^A-Za-z0-9_]/g, '_');
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
    used.add(id);
    ids.set(node.id, id);
  }
  return ids;
}

function mermaidText(text: string): string {
  // Mermaid entity codes; `|` would end an edge label even inside quotes.
  return text.replace(/#/g, '#35;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;').replace(/\|/g, '#124;');
}

const MERMAID_SHAPES: Record<OperatorDefinition['role'], [string, string]> = {
  source: ['([', '])'],
  transform: ['[', ']'],
  router: ['{{', '}}'],
  sink: ['[(', ')]'],
  'dead-letter': ['[(', ')]'],
};

/** The Mermaid render: a left-to-right `flowchart`, failure paths dashed. */
export function renderMermaid(plan: Plan): string {
  const ids = mermaidIds(plan.nodes);
  const lines = ['flowchart LR'];
  for (const node of plan.nodes) {
    const [open, close] = MERMAID_SHAPES[operatorFor(node.kind).role];
    const label = nodeSummary(node, plan).map(mermaidText).join('<br/>');
    lines.push(`  ${ids.get(node.id)}${open}"${label}"${close}`);
  }
  for (const edge of plan.edges) {
    const arrow = isDeadLetterEdge(edge, plan) ? '-.->' : '-->';
    const label = edge.port === undefined ? '' : `|"${mermaidText(edge.port)}"|`;
    lines.push(`  ${ids.get(edge.from)} ${arrow}${label} ${ids.get(edge.to)}`);
  }
  return lines.join('\n') + '\n';
}

function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

const DOT_SHAPES: Record<OperatorDefinition['role'], string> = {
  source: 'shape=box, style=rounded',
  transform: 'shape=box',
  router: 'shape=hexagon',
  sink: 'shape=cylinder',
  'dead-letter': 'shape=cylinder, style=dashed',
};

/** The Graphviz render: `digraph`, left to right; pipe into `dot -Tsvg`. */
export function renderDot(plan: Plan): string {
  const lines = [
    `digraph ${dotString(plan.pipeline)} {`,
    '  rankdir=LR;',
    '  node [fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];
  for (const node of plan.nodes) {
    lines.push(`  ${dotString(node.id)} [${DOT_SHAPES[operatorFor(node.kind).role]}, label=${dotString(nodeSummary(node, plan).join('\n'))}];`);
  }
  for (const edge of plan.edges) {
    const attrs: string[] = [];
    if (edge.port !== undefined) attrs.push(`label=${dotString(edge.port)}`);
    if (isDeadLetterEdge(edge, plan)) attrs.push('style=dashed');
    const suffix = attrs.length > 0 ? ` [${attrs.join(', ')}]` : '';
    lines.push(`  ${dotString(edge.from)} -> ${dotString(edge.to)}${suffix};`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
