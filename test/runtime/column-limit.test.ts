/**
 * `maxColumns` through the real batch processors and lake: whether a table stays within its
 * limit depends only on its records, never on how they were batched or which stream committed
 * first. Past the limit the write stops with PIPE_LAKE_MAX_COLUMNS (nothing refused record by
 * record: which records came first would decide that).
 */
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { compilePlan } from '../../src/planner/compile.js';
import { loadSpecText } from '../../src/spec/index.js';
import { driveProcessors } from '../support/processors.js';
import { useLake } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const lake = useLake();
const tempDir = tempDirs('column-limit-');

const SPEC = (out: string, streams: number, maxColumns: number) => `apiVersion: pipeline/v1
name: limit
source: { kafka: { brokers: [localhost:9092], topic: t } }
streams: ${streams}
routing: { field: type, routes: { a: a } }
tables:
  a: { mergeKeys: [id], sequenceBy: seq, maxColumns: ${maxColumns} }
deadLetter: { maxRatio: 1 }
output: { path: ${out} }
`;

// type, id, seq and one field of its own each: 7 columns in all (the table's own
// __source_partition, __source_offset do not count).
const records = [
  { partition: 0, value: '{"type":"a","id":1,"seq":1,"b":1}' },
  { partition: 1, value: '{"type":"a","id":2,"seq":1,"c":1}' },
  { partition: 0, value: '{"type":"a","id":3,"seq":1,"d":1}' },
  { partition: 1, value: '{"type":"a","id":4,"seq":1,"e":1}' },
];
// One batch; a record per batch on one stream; a record per batch on two streams, either first.
const arrangements = [[1, 100, 0], [1, 1, 0], [2, 1, 0], [2, 1, 1]] as const;

async function drive(streams: number, cut: number, first: number, maxColumns: number) {
  const dir = tempDir();
  const plan = compilePlan(loadSpecText(SPEC(join(dir, 'lake'), streams, maxColumns), 'limit.yaml').spec!, { cwd: dir });
  await driveProcessors(records, { plan, dir, lake, streams, appId: 'limit', cuts: () => cut, pick: (n) => first % n });
  return { columns: (await lake.columns(join(dir, 'lake', 'a'))).map((c) => c.name).sort(), ids: (await lake.scan(join(dir, 'lake', 'a'), { orderBy: 'id' })).map((r) => r.id) };
}

test('records within the limit are all stored, however they are batched', async () => {
  for (const [streams, cut, first] of arrangements) {
    expect(await drive(streams, cut, first, 7)).toEqual({ columns: ['__source_offset', '__source_partition', 'b', 'c', 'd', 'e', 'id', 'seq', 'type'], ids: [1, 2, 3, 4] });
  }
});

test('records past the limit stop the run, however they are batched, naming the table and the new fields', async () => {
  for (const [streams, cut, first] of arrangements) {
    const err = await drive(streams, cut, first, 6).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PIPE_LAKE_MAX_COLUMNS' });
    expect((err as Error).message).toMatch(/table .*\/a: this batch would give it 7 columns, more than maxColumns \(6\); its new fields: /);
  }
});
