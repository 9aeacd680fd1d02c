/**
 * Whole-pipeline behaviour cases as data: every folder under test/cases holding a `spec.yaml`,
 * an `events.jsonl` and `expected/<table>.jsonl` is one case, and so is every case shipped with
 * the example pipelines (`pipelines/tests/<spec>/<case>/`). Each runs through `pipeline test`
 * as a user runs it: in-process from the records to Delta tables, under several batch cuttings
 * and stream counts that must all give the same tables. Adding a behaviour case is adding a
 * folder; see test/cases/README.md for the format.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBuild, ROOT } from '../support/build.js';
import { cliSync } from '../support/cli.js';

/** A spec and the case folders `pipeline test` runs against it. */
interface CaseRun {
  name: string;
  spec: string;
  dirs: string[];
}

const subdirs = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(dir, d.name)).sort() : [];

function caseRuns(): CaseRun[] {
  const own = subdirs(join(ROOT, 'test', 'cases'))
    .filter((d) => existsSync(join(d, 'spec.yaml')))
    .map((d) => ({ name: relative(ROOT, d), spec: join(d, 'spec.yaml'), dirs: [d] }));
  const shipped = readdirSync(join(ROOT, 'pipelines'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => ({ name: `pipelines/${f}`, spec: join(ROOT, 'pipelines', f), dirs: subdirs(join(ROOT, 'pipelines', 'tests', f.slice(0, -'.yaml'.length))) }))
    .filter((r) => r.dirs.length > 0);
  return [...own, ...shipped];
}

const runs = caseRuns();
beforeAll(requireBuild);

describe('behaviour cases', () => {
  it('finds the cases in test/cases and the shipped ones', () => {
    expect(runs.map((r) => r.name)).toEqual(expect.arrayContaining(['test/cases/sequence-ties', 'pipelines/commerce-events.yaml', 'pipelines/cdc-orders.yaml', 'pipelines/clickstream-windows.yaml']));
  });

  it.each(runs.map((r) => [r.name, r] as const))('%s: every case passes under every cutting', (_name, run) => {
    // The example specs read ${KAFKA_BROKERS:-…}; nothing connects, the default is fine. A
    // machine's time zone must not change a result (test/cases/event-time-zones): run in one far from UTC.
    const r = cliSync(['test', run.spec, ...run.dirs], { env: { NO_COLOR: '1', TZ: 'America/New_York' }, unset: ['KAFKA_BROKERS'], timeoutMs: 280_000 });
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${run.dirs.length} cases?: ${run.dirs.length} passed, 0 failed$`, 'm'));
  }, 300_000);
});
