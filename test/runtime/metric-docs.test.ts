/**
 * The metrics reference (`docs/reference/metrics.md`) is generated from the metric
 * definitions: a renamed or new metric fails this test until `npm run docs` has run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRICS, metricsMarkdown } from '../../src/runtime/metric-definitions.js';
import { RunMetrics } from '../../src/runtime/run-metrics.js';

const reference = join(import.meta.dirname, '..', '..', 'docs', 'reference', 'metrics.md');

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

  it('are listed in the metrics reference', () => {
    expect(readFileSync(reference, 'utf8')).toContain(metricsMarkdown());
  });
});
