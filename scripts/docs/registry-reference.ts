/**
 * Reference pages generated from the code's registries: spec diagnostics (`src/spec/codes.ts`
 * with `code-details.ts`), metrics (`src/runtime/metric-definitions.ts`) and operators
 * (`src/operators/index.ts`).
 */
import { codes } from '../../src/spec/codes.js';
import { codeDetails } from '../../src/spec/code-details.js';
import { DEFAULT_METRIC_PREFIX, metricsMarkdown, METRICS } from '../../src/runtime/metric-definitions.js';
import { operators } from '../../src/operators/index.js';
import type { OperatorDefinition } from '../../src/operators/api.js';
import { operatorSpecPaths } from '../../src/spec/operator-fields.js';
import { cell, code, page, table } from './markdown.js';

/** `docs/reference/diagnostics.md`: every registered spec diagnostic code. */
export function diagnosticsReference(): string {
  const rows = Object.entries(codes).map(([c, info]) => {
    const detail = (codeDetails as Record<string, string | undefined>)[c];
    return [c, info.severity, cell(info.title), cell(detail ?? ''), code(info.template)];
  });
  return page(
    'Spec diagnostic codes',
    'Every diagnostic `pipeline validate` (and `plan`, `diff`, `run`, `test` before they start) can report, ' +
      'printed as `file:line:col: error CODE message`. Codes are stable: a code is never reused for another check. ' +
      'The registry is `src/spec/codes.ts`; `{name}` in a message is filled in from the spec. ' +
      'See [validating a spec](../guides/validating-and-reviewing.md) for the output formats.',
    table(['code', 'severity', 'title', 'meaning', 'message'], rows),
  );
}

/** `docs/reference/metrics.md`: the Prometheus metrics `pipeline run --metrics-port` serves. */
export function metricsReference(): string {
  const histograms = METRICS.filter((m) => m.type === 'histogram').map(
    (m) => `- ${code(m.name)}: ${('buckets' in m ? m.buckets : []).join(', ')}`,
  );
  return page(
    'Metrics',
    '`pipeline run spec.yaml --metrics-port 9464` serves `/metrics` (Prometheus text format, via prom-client), ' +
      '`/healthz` (200 while no stream has failed) and `/readyz` (200 once every stream started and lag was read from ' +
      'the broker; 503 before and after a failure). This list is `src/runtime/metric-definitions.ts`. Process CPU, ' +
      `memory, event-loop lag and GC come from prom-client's defaults with the ${code(DEFAULT_METRIC_PREFIX)} prefix ` +
      '(`pipeline_process_cpu_seconds_total`, `pipeline_process_resident_memory_bytes`, …). ' +
      'How to use them: [observability](../operations/observability.md).',
    metricsMarkdown(),
    '## Histogram buckets',
    'Upper bounds, in seconds:',
    histograms.join('\n'),
  );
}

function operatorPage(op: OperatorDefinition): string {
  const facts = [
    ['kind', code(op.kind)],
    ['role', op.role],
    ['dead-letter stage of its failures', op.failureStage ? code(op.failureStage) : '—'],
    ['terminal', op.terminal ?? '—'],
    ['prepares each batch (e.g. fetches schemas)', op.prepare ? 'yes' : 'no'],
    ['runs in `pipeline run`', op.notRunnable ? `no: ${cell(op.notRunnable)}` : 'yes'],
    ['evaluated in its table\'s load (SQL over the typed batch)', op.load ? 'yes' : 'no'],
  ];
  const fields = operatorSpecPaths(op);
  if (fields.length > 0) facts.push(['spec fields', fields.map(code).join(', ')]);
  const ports = Object.entries(op.ports).map(([port, what]) => [code(port), cell(what)]);
  return page(
    `Operator \`${op.kind}\``,
    op.summary,
    table(['', ''], facts),
    '## Output ports',
    ports.length > 0 ? table(['port', 'what leaves through it'], ports) : op.terminal || op.role === 'dead-letter' ? 'None: records arriving here are written.' : 'Only `out`: records it keeps go on to the next node.',
  );
}

/** `docs/reference/operators/*.md`: one page per operator, plus an index. */
export function operatorReference(): Map<string, string> {
  const pages = new Map<string, string>();
  for (const op of operators) pages.set(`${op.kind}.md`, operatorPage(op));
  pages.set(
    'index.md',
    page(
      'Operators',
      'Every node kind a plan may hold, in data-flow order, from the registry `src/operators/index.ts`. ' +
        '`pipeline plan` shows which of them a spec uses; [adding an operator](../../guides/adding-an-operator.md) ' +
        'explains how to write one.',
      table(
        ['kind', 'role', 'summary'],
        operators.map((op) => [`[\`${op.kind}\`](${op.kind}.md)`, op.role, cell(op.summary)]),
      ),
    ),
  );
  return pages;
}
