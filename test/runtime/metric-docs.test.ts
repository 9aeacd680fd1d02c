/**
 * The README's metric list is generated from the metric definitions: a renamed or new metric
 * fails this test until the docs say so (PIPELINE_UPDATE_DOCS=1 rewrites the block).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRICS, metricsMarkdown } from '../../src/runtime/metric-definitions.js';
import { RunMetrics } from '../../src/runtime/run-metrics.js';

const readme = join(import.meta.dirname, '..', '..', 'README.md');
const BLOCK = /(<!-- metrics:begin -->\n)[\s\S]*?(<!-- metrics:end -->)/;

describe('metric definitions', () => {
  it('are what the registry exports, each named pipeline_<name>_<unit> with help text', async () => {
    const exported = new Map((await new RunMetrics({ processMetrics: false }).registry.getMetricsAsJSON()).map((m) => [m.name, m]));
    expect([...exported.keys()].sort()).toEqual(METRICS.map((m) => m.name).sort());
    for (const m of METRICS) {
      expect(m.name).toMatch(/^pipeline_[a-z0-9_]+_(total|seconds|records|offset|bytes|up)$/);
      expect(m.help.length).toBeGreaterThan(20);
      expect(String(exported.get(m.name)!.type)).toBe(m.type);
    }
  });

  it('are listed in the README', () => {
    const text = readFileSync(readme, 'utf8');
    const generated = `$1${metricsMarkdown()}\n$2`;
    if (process.env.PIPELINE_UPDATE_DOCS) writeFileSync(readme, text.replace(BLOCK, generated));
    const block = BLOCK.exec(readFileSync(readme, 'utf8'));
    expect(block, 'README lacks the <!-- metrics:begin --> block').not.toBeNull();
    expect(block![0]).toBe(`<!-- metrics:begin -->\n${metricsMarkdown()}\n<!-- metrics:end -->`);
  });
});
