/**
 * A Delta table read as a stream (src/lake/changes.ts): new data since a version, compaction
 * skipped, updates refused or read in full per `removes`, deletion vectors and cleaned-up
 * versions refused. Checked against a reference written from the documented rule: the rows of
 * the appends, in commit order, whatever the cut points between reads.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { compactTable } from '../../src/lake/compact.js';
import { tempDir } from './helpers.js';

let lake: Lake;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
});
afterAll(() => lake.close());

const ids = (rows: Record<string, unknown>[]) => rows.map((r) => Number(r.id));

/** Appends `count` rows id = start..start+count-1 as one commit. */
async function append(table: string, start: number, count: number): Promise<void> {
  const rows = Array.from({ length: count }, (_, i) => ({ id: start + i, name: `n${start + i}` }));
  await lake.write(table, { kind: 'rows', rows }, { mode: 'append', columns: { id: 'BIGINT', name: 'VARCHAR' } });
}

describe('readChanges', () => {
  it('reads every append once whatever the cut points, and skips compaction', async () => {
    const table = path.join(tempDir(), 't');
    const expected: number[] = [];
    for (let c = 0; c < 6; c++) {
      await append(table, c * 10, 3 + c);
      expected.push(...Array.from({ length: 3 + c }, (_, i) => c * 10 + i));
    }
    const compacted = await compactTable(table, { targetSize: 1 << 30 });
    expect(compacted.status).toBe('committed');
    await append(table, 100, 2);
    expected.push(100, 101);

    // Every way of cutting versions 0..7 into batches of 1..4 versions gives the same rows.
    for (const step of [1, 2, 3, 4, 8]) {
      const seen: number[] = [];
      let after = -1;
      for (;;) {
        const { changes, rows } = await lake.readChanges(table, after, { maxVersions: step });
        if (changes.upTo === after) break;
        seen.push(...ids(rows));
        after = changes.upTo;
      }
      expect(seen, `batches of ${step} versions`).toEqual(expected);
      expect(after).toBe(7);
    }
    const all = await lake.readChanges(table, -1);
    expect(all.changes.skippedRewrites).toEqual([6]);
    // Reading at the end gives nothing.
    const none = await lake.readChanges(table, 7);
    expect(none.rows).toEqual([]);
    expect(none.changes.upTo).toBe(7);
  });

  it('refuses a version that updated rows unless removes: ignore, which reads its files in full', async () => {
    const table = path.join(tempDir(), 'u');
    const opts = { mode: 'upsert' as const, mergeKeys: ['id'], sequenceBy: 'seq' };
    await lake.write(table, { kind: 'rows', rows: [{ id: 1, seq: 1, v: 'a' }, { id: 2, seq: 1, v: 'b' }] }, opts);
    await lake.write(table, { kind: 'rows', rows: [{ id: 2, seq: 2, v: 'B' }] }, opts);
    await expect(lake.readChanges(table, 0)).rejects.toMatchObject({ code: 'PIPE_DELTA_SOURCE_CHANGED' });
    // Version 0 alone is still readable.
    expect((await lake.readChanges(table, -1, { upTo: 0 })).rows).toHaveLength(2);
    const { changes, rows } = await lake.readChanges(table, 0, { removes: 'ignore' });
    expect(changes.ignoredRemoves).toEqual([1]);
    const byId = new Map(rows.map((r) => [Number(r.id), r.v]));
    expect(byId.get(2)).toBe('B');
  });

  it('takes a merge-on-read update (a file added again with a deletion vector) as a change: refused, or under removes: ignore only its new rows read', async () => {
    const table = path.join(tempDir(), 'mor');
    const opts = { mode: 'upsert' as const, mergeKeys: ['id'], sequenceBy: 'seq', writeMode: 'merge-on-read' as const };
    await lake.write(table, { kind: 'rows', rows: [{ id: 1, seq: 1, v: 'a' }, { id: 2, seq: 1, v: 'b' }, { id: 3, seq: 1, v: 'c' }] }, opts);
    await lake.write(table, { kind: 'rows', rows: [{ id: 2, seq: 2, v: 'B' }, { id: 4, seq: 1, v: 'd' }] }, opts);
    const v1 = fs.readFileSync(path.join(table, '_delta_log', `${'1'.padStart(20, '0')}.json`), 'utf8');
    expect(v1).toContain('"deletionVector"');
    await expect(lake.readChanges(table, 0)).rejects.toMatchObject({ code: 'PIPE_DELTA_SOURCE_CHANGED' });
    const { changes, rows } = await lake.readChanges(table, 0, { removes: 'ignore' });
    expect(changes.ignoredRemoves).toEqual([1]);
    // The rows the version wrote, not the first file's again (1 and 3 did not change).
    expect(rows.map((r) => [Number(r.id), r.v]).sort()).toEqual([[2, 'B'], [4, 'd']]);
  });

  it('refuses an add with a deletion vector and a version the log no longer holds', async () => {
    const table = path.join(tempDir(), 'dv');
    await append(table, 0, 2);
    await append(table, 2, 2);
    const log = path.join(table, '_delta_log');
    const v1 = path.join(log, `${'1'.padStart(20, '0')}.json`);
    const lines = fs.readFileSync(v1, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    for (const a of lines) if (a.add) a.add.deletionVector = { storageType: 'i', pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f', offset: 1, sizeInBytes: 36, cardinality: 1 };
    fs.writeFileSync(v1, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    await expect(lake.readChanges(table, 0)).rejects.toMatchObject({ code: 'PIPE_DELTA_SOURCE_DELETION_VECTOR' });

    const gone = path.join(tempDir(), 'gone');
    for (let c = 0; c < 3; c++) await append(gone, c * 10, 1);
    await lake.snapshot(gone); // nothing cached past this point matters: the reader lists the log
    fs.rmSync(path.join(gone, '_delta_log', `${'0'.padStart(20, '0')}.json`));
    await expect(lake.readChanges(gone, -1)).rejects.toMatchObject({ code: 'PIPE_DELTA_SOURCE_VERSION_GONE' });
    // A consumer already past the cleaned-up versions is unaffected.
    expect(ids((await lake.readChanges(gone, 0)).rows)).toEqual([10, 20]);
  });
});
