/**
 * The shipped Grafana dashboard and Prometheus alert rules: valid in shape, and every metric
 * they query is one `pipeline run --metrics-port` exports (read from a real registry, so a
 * renamed metric breaks this test, not a dashboard in production). With promtool installed
 * (Debian `prometheus`), the rules and every dashboard query are also parsed as PromQL.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { RunMetrics } from '../../src/runtime/run-metrics.js';

const root = join(import.meta.dirname, '..', '..');
const dashboard = JSON.parse(readFileSync(join(root, 'dashboards', 'pipeline.grafana.json'), 'utf8'));
const rules = parse(readFileSync(join(root, 'dashboards', 'alerts.yaml'), 'utf8'));

const promtool = (() => {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Exported metric names, with the series names a histogram adds. */
async function exportedSeries(): Promise<Set<string>> {
  const metrics = new RunMetrics();
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
  }
  return names;
}

const metricNames = (expr: string) => [...expr.matchAll(/\bpipeline_[a-zA-Z0-9_]+/g)].map((m) => m[0]);
const panelExprs = (): string[] => dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr as string));
const ruleList = (): any[] => rules.groups.flatMap((g: any) => g.rules);

/** A dashboard query with Grafana's variables replaced, as Prometheus would receive it. */
const asPromQL = (expr: string) => expr.replaceAll('$__rate_interval', '5m').replaceAll('$job', '.*');

describe('dashboards/pipeline.grafana.json', () => {
  it('is a Grafana dashboard: identity, schema version, panels on the 24-column grid with queries', () => {
    expect(typeof dashboard.uid).toBe('string');
    expect(typeof dashboard.title).toBe('string');
    expect(Number.isInteger(dashboard.schemaVersion)).toBe(true);
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
    const ids = dashboard.panels.map((p: any) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const variables = new Set(dashboard.templating.list.map((v: any) => v.name));
    for (const p of dashboard.panels) {
      expect(['timeseries', 'stat']).toContain(p.type);
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      expect(p.gridPos.h).toBeGreaterThan(0);
      expect(p.targets.length).toBeGreaterThan(0);
      for (const t of p.targets) {
        expect(t.refId).toMatch(/^[A-Z]$/);
        for (const [, name] of `${t.expr} ${t.datasource.uid}`.matchAll(/\$\{?([a-z_]+)\}?/g)) {
          if (!name!.startsWith('__')) expect(variables, `${p.title}: $${name}`).toContain(name);
        }
      }
    }
  });

  it('queries only metrics the runner exports, and shows throughput, lag, latency, phases and dead letters', async () => {
    const exported = await exportedSeries();
    const used = panelExprs().flatMap(metricNames);
    for (const name of used) expect(exported, name).toContain(name);
    for (const needed of ['pipeline_records_consumed_total', 'pipeline_stream_lag_records', 'pipeline_end_to_end_latency_seconds_bucket', 'pipeline_batch_phase_duration_seconds_bucket', 'pipeline_records_dead_lettered_total']) {
      expect(used).toContain(needed);
    }
  });

  it.skipIf(!promtool)('every query parses as PromQL (promtool)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dash-'));
    try {
      const file = join(dir, 'queries.yaml');
      const records = panelExprs().map((expr, i) => ({ record: `dashboard:query_${i}`, expr: asPromQL(expr) }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: records }] }));
      execFileSync('promtool', ['check', 'rules', file], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dashboards/alerts.yaml', () => {
  it('is a Prometheus rule file: named groups of alerts with expr, severity and a summary', () => {
    expect(Array.isArray(rules.groups)).toBe(true);
    const names = ruleList().map((r) => r.alert);
    expect(names).toEqual(expect.arrayContaining(['PipelineLagOverSLA', 'PipelineNoCommits', 'PipelineDeadLetterSpike']));
    for (const r of ruleList()) {
      expect(r.alert).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(typeof r.expr).toBe('string');
      if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical']).toContain(r.labels.severity);
      expect(typeof r.annotations.summary).toBe('string');
      expect(Object.keys(r).every((k) => ['alert', 'expr', 'for', 'labels', 'annotations'].includes(k))).toBe(true);
    }
  });

  it('alerts only on exported metrics', async () => {
    const exported = await exportedSeries();
    for (const name of ruleList().flatMap((r) => metricNames(r.expr))) expect(exported, name).toContain(name);
  });

  it.skipIf(!promtool)('passes promtool check rules', () => {
    const out = execFileSync('promtool', ['check', 'rules', join(root, 'dashboards', 'alerts.yaml')], { encoding: 'utf8' });
    expect(out).toMatch(/SUCCESS: 5 rules found/);
  });
});
