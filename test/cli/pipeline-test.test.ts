/**
 * `pipeline test` as a user runs it: the built CLI on a fixture case whose expectations are
 * wrong (whose diff output is checked line by line), `--update`, usage errors; and,
 * in-process, that a spec whose tables depend on the stream count is caught by the
 * batch-invariance check. The shipped example cases run in test/cases/cases.test.ts.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { compilePlan } from '../../src/planner/compile.js';
import { loadSpecFile } from '../../src/spec/index.js';
import type { PipelineSpec } from '../../src/spec/types.js';
import { loadCase } from '../../src/runtime/test-case.js';
import { runCase } from '../../src/runtime/test-runner.js';
import { cliSync } from '../support/cli.js';
import { requireBuild, ROOT } from '../support/build.js';

const FIXTURE = join('test', 'cli', 'fixtures', 'pipeline-test', 'wrong-expectations');

function cli(args: string[]) {
  return cliSync(args, { env: { NO_COLOR: '1' }, unset: ['KAFKA_BROKERS'] });
}

let dir: string;
beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'pipeline-test-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pipeline test', () => {
  it('prints a row diff per table for a case that differs (exit 1)', () => {
    const r = cli(['test', 'pipelines/commerce-events.yaml', FIXTURE]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe([
      'FAIL wrong-expectations  (5 cuttings)',
      '  table orders: 1 missing, 1 unexpected, 1 changed',
      '    - {"id":3,"status":"created"}   (missing)',
      '    + {"id":2,"seq":1,"status":"created"}   (unexpected)',
      '    ~ id=1: seq expected 2, got 3; status expected "paid", got "shipped"',
      '  table _dead_letter: 1 changed',
      '    ~ partition=2 offset=0: stage expected "route", got "decode"',
      '1 case: 0 passed, 1 failed',
      '',
    ].join('\n'));
    const json = JSON.parse(cli(['test', 'pipelines/commerce-events.yaml', FIXTURE, '--format', 'json']).stdout);
    expect(json.failed).toBe(1);
    expect(json.cases[0].tables.orders.missing).toEqual([{ id: 3, status: 'created' }]);
  }, 60_000);

  it('--update writes the actual rows, keeping each file\'s columns; the case then passes', () => {
    const copy = join(dir, 'case');
    cpSync(join(ROOT, FIXTURE), copy, { recursive: true });
    const r = cli(['test', 'pipelines/commerce-events.yaml', copy, '--update']);
    expect(r.code).toBe(0);
    const lines = (t: string) => readFileSync(join(copy, 'expected', `${t}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines('orders')).toEqual([{ id: 1, seq: 3, status: 'shipped' }, { id: 2, seq: 1, status: 'created' }]);
    expect(lines('_dead_letter')).toEqual([{ partition: 2, offset: 0, stage: 'decode' }]);
    expect(lines('users')).toEqual([expect.objectContaining({ id: 7, seq: 5, name: 'Ada' })]);
    expect(cli(['test', 'pipelines/commerce-events.yaml', copy]).code).toBe(0);
  }, 60_000);

  it('--update writes window tables too', () => {
    const shipped = join(ROOT, 'pipelines', 'tests', 'clickstream-windows', 'late-and-sliding');
    const copy = join(dir, 'windows-case');
    cpSync(shipped, copy, { recursive: true });
    rmSync(join(copy, 'expected', 'events_per_minute.jsonl'));
    const r = cli(['test', 'pipelines/clickstream-windows.yaml', copy, '--update']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('expected/events_per_minute.jsonl');
    // Timestamps in one form (the shipped file writes `…:00Z`, --update `…:00.000Z`), rows in one order.
    const norm = (v: unknown) => (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(v) ? new Date(v).toISOString() : v);
    const read = (d: string, columns?: string[]) =>
      readFileSync(join(d, 'expected', 'events_per_minute.jsonl'), 'utf8').trim().split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .map((row) => JSON.stringify(Object.fromEntries((columns ?? Object.keys(row)).map((c) => [c, norm(row[c])]))))
        .sort();
    const columns = Object.keys(JSON.parse(readFileSync(join(shipped, 'expected', 'events_per_minute.jsonl'), 'utf8').split('\n')[0]!) as object);
    // Every column of the shipped expectation, with the same values, in every row.
    expect(read(copy, columns)).toEqual(read(shipped));
  }, 60_000);

  it('exits 2 on usage errors and on a malformed case file', () => {
    expect(cli(['test']).code).toBe(2);
    expect(cli(['test', 'pipelines/commerce-events.yaml', '--format', 'xml']).code).toBe(2);
    const bad = join(dir, 'bad');
    cpSync(join(ROOT, FIXTURE), bad, { recursive: true });
    writeFileSync(join(bad, 'events.jsonl'), '{"value": {"event_type": "orders"}, "offset": 5}\n{"value": {}, "offset": 2}\n');
    const r = cli(['test', 'pipelines/commerce-events.yaml', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('PIPE_TEST_CASE');
    expect(r.stderr).toContain('events.jsonl:2: offset of partition 0 must be an integer of at least 6');
  }, 60_000);
});

describe('batch invariance', () => {
  it('fails a case whose tables depend on the stream count', async () => {
    const loaded = loadSpecFile(join(ROOT, 'pipelines', 'commerce-events.yaml'));
    const spec = loaded.spec!;
    // A pipeline whose routing changes with the stream count: exactly what the check is for.
    const planFor = (streams: number, root: string) => {
      const routes = streams === 1 ? { ...spec.routing.routes, orders: 'payments' } : spec.routing.routes;
      const local: PipelineSpec = { ...spec, streams, routing: { ...spec.routing, routes }, output: { path: join(root, 'lake') }, checkpoint: { path: join(root, 'cp') } };
      return compilePlan(local, { cwd: root });
    };
    const lake = await Lake.create({ threads: 1 });
    try {
      const outcome = await runCase(lake, planFor, loadCase(join(ROOT, 'pipelines', 'tests', 'commerce-events', 'stale-replays')), [
        { streams: 2, batchSize: 100 },
        { streams: 1, batchSize: 1 },
        { streams: 3, batchSize: 2 },
      ]);
      expect(Object.keys(outcome.mismatches)).toEqual([]);
      expect(outcome.invariance.map((f) => [f.table, f.cutting.streams])).toEqual([['orders', 1], ['payments', 1]]);
      expect(outcome.invariance[0]!.diff.missing.length).toBe(2);
    } finally {
      lake.close();
    }
  }, 60_000);
});
