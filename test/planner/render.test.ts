import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/planner/compile.js';
import { formatDuration } from '../../src/planner/render-text.js';
import { renderDot, renderJson, renderMermaid } from '../../src/planner/render-graph.js';
import { edit, smallAvroSpec } from './fixtures.js';

// Route values are field values from the data, so they may hold any character.
const awkward = edit(smallAvroSpec(), (s) => (s.routing.routes['say "hi" <b>|x\\'] = 'ledger'));

describe('graph renders', () => {
  it('escapes route values in Mermaid labels', () => {
    const out = renderMermaid(compilePlan(awkward));
    expect(out).toContain('route -->|"say #quot;hi#quot; #lt;b#gt;#124;x\\"| sink_ledger');
  });

  it('escapes route values in DOT strings', () => {
    const out = renderDot(compilePlan(awkward));
    expect(out).toContain('"route" -> "sink.ledger" [label="say \\"hi\\" <b>|x\\\\"];');
  });

  it('keeps route values intact in JSON', () => {
    const doc = JSON.parse(renderJson(compilePlan(awkward)));
    expect(doc.edges).toContainEqual({ from: 'route', to: 'sink.ledger', port: 'say "hi" <b>|x\\' });
    expect(doc.nodes.map((n: { id: string }) => n.id)).toEqual(['source', 'decode', 'route', 'sink.invoices', 'sink.ledger', 'sink._rejects']);
  });
});

describe('formatDuration', () => {
  it('uses the largest exact unit', () => {
    expect([5000, 60_000, 90_000, 1500, 7_200_000, 86_400_000, 0].map(formatDuration)).toEqual(['5s', '1m', '90s', '1500ms', '2h', '1d', '0ms']);
  });
});
