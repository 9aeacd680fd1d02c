/**
 * Vacuum on real tables: a crashed writer's stray file and tombstoned files go once older
 * than the retention; live files, `_delta_log`, hidden names and recent files stay; a dry run
 * deletes nothing; a retention below the safety minimum needs `force`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { compactTable } from '../../src/lake/compact.js';
import { vacuumTable } from '../../src/lake/vacuum.js';
import { copyWritable, dataFilesOnDisk } from '../support/files.js';
import { canonical } from '../support/tables.js';
import { tempDir } from '../support/temp-dirs.js';

let lake: Lake;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
});
afterAll(() => lake.close());

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Sets a file's mtime `ms` into the past. */
function age(file: string, ms: number): void {
  const when = new Date(Date.now() - ms);
  fs.utimesSync(file, when, when);
}

describe('vacuumTable', () => {
  it('deletes stray and tombstoned files past the retention, never live files or the log', async () => {
    const t = path.join(tempDir(), 'orders');
    for (let i = 0; i < 3; i++) {
      await lake.write(t, { kind: 'rows', rows: [{ id: i, region: i % 2 ? 'eu' : 'us', v: 1 }] }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'v', partitionBy: ['region'] });
    }
    await lake.write(t, { kind: 'rows', rows: [{ id: 0, region: 'us', v: 2 }] }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'v' });
    await compactTable(t, { targetSize: 1024 * 1024 });
    const snap = await lake.snapshot(t);
    const rows = await lake.scan(t);
    const live = snap.files.map((f) => decodeURIComponent(f.path)).sort();
    const logBefore = fs.readdirSync(path.join(t, '_delta_log')).sort();

    // A writer that crashed before its commit left a data file two days ago, another one just now.
    const some = path.join(t, live[0]!);
    const oldStray = path.join(t, 'region=us', 'part-crashed-old.parquet');
    const newStray = path.join(t, 'region=eu', 'part-crashed-new.parquet');
    fs.copyFileSync(some, oldStray);
    fs.copyFileSync(some, newStray);
    age(oldStray, 2 * DAY);
    fs.writeFileSync(path.join(t, '.hidden-note'), 'x');
    age(path.join(t, '.hidden-note'), 30 * DAY);
    const tombstoned = dataFilesOnDisk(t).filter((f) => !live.includes(f) && !f.includes('crashed') && !f.startsWith('.'));
    expect(tombstoned.length).toBe(3); // the upsert rewrote one file, compaction removed two more

    // Dry run: lists everything past a zero retention, deletes nothing.
    const diskBefore = dataFilesOnDisk(t);
    const dry = await vacuumTable(t, { retentionMs: 0, force: true, dryRun: true });
    expect(dry.files.map((f) => f.path).sort()).toEqual([...tombstoned, 'region=eu/part-crashed-new.parquet', 'region=us/part-crashed-old.parquet'].sort());
    expect(dry.files.find((f) => f.path.includes('crashed-old'))!.reason).toBe('untracked');
    expect(dry.files.filter((f) => f.reason === 'removed').map((f) => f.path).sort()).toEqual(tombstoned);
    expect(dry.filesDeleted).toBe(0);
    expect(dataFilesOnDisk(t)).toEqual(diskBefore);

    // One day: only the two-day-old stray file is old enough; tombstones are minutes old.
    const day = await vacuumTable(t, { retentionMs: DAY });
    expect(day.files.map((f) => f.path)).toEqual(['region=us/part-crashed-old.parquet']);
    expect(day).toMatchObject({ filesDeleted: 1, liveFilesKept: live.length, recentFilesKept: 4 });
    expect(fs.existsSync(oldStray)).toBe(false);

    // Two days later the tombstones and the newer stray file are past the retention too.
    const later = await vacuumTable(t, { retentionMs: DAY, now: Date.now() + 2 * DAY });
    expect(later.files.map((f) => f.path).sort()).toEqual([...tombstoned, 'region=eu/part-crashed-new.parquet'].sort());
    expect(later.filesDeleted).toBe(4);
    expect(dataFilesOnDisk(t)).toEqual(['.hidden-note', ...live].sort());
    expect(fs.readdirSync(path.join(t, '_delta_log')).sort()).toEqual(logBefore);
    expect(canonical(await lake.scan(t))).toEqual(canonical(rows));

    const nothing = await vacuumTable(t, { retentionMs: 0, force: true });
    expect(nothing).toMatchObject({ files: [], filesDeleted: 0, liveFilesKept: live.length });
  });

  it('on Spark-written tables deletes the never-committed file and keeps hidden checksum files', async () => {
    const golden = path.join(import.meta.dirname, '..', '..', '..', 'shared', 'delta-golden');
    const t = path.join(tempDir(), 'stats');
    copyWritable(path.join(golden, 'data-skipping-basic-stats-all-types'), t);
    const live = (await lake.snapshot(t)).files.map((f) => decodeURIComponent(f.path));
    const orphans = dataFilesOnDisk(t).filter((f) => !live.includes(f) && !f.startsWith('.'));
    expect(orphans).toHaveLength(1); // the README's orphan: never added by any commit
    const r = await vacuumTable(t, { retentionMs: 0, force: true });
    expect(r.files).toEqual([expect.objectContaining({ path: orphans[0], reason: 'untracked' })]);
    expect(dataFilesOnDisk(t).filter((f) => !f.startsWith('.'))).toEqual(live);
    expect(dataFilesOnDisk(t).some((f) => f.startsWith('.') && f.endsWith('.crc'))).toBe(true);

    // Partition folders that start with `_` (a column named `_2`) are data, not hidden.
    const escaped = path.join(tempDir(), 'escaped');
    copyWritable(path.join(golden, 'data-reader-escaped-chars'), escaped);
    const stray = path.join(escaped, fs.readdirSync(escaped).find((n) => n.startsWith('_2='))!, 'part-stray.parquet');
    fs.writeFileSync(stray, 'not committed');
    const e = await vacuumTable(escaped, { retentionMs: 0, force: true });
    expect(e).toMatchObject({ filesDeleted: 1, liveFilesKept: 3 });
    expect(fs.existsSync(stray)).toBe(false);
  });

  it('refuses a retention below the safety minimum unless forced', async () => {
    const t = path.join(tempDir(), 'small');
    await lake.write(t, { kind: 'rows', rows: [{ id: 1 }] }, { mode: 'append' });
    await expect(vacuumTable(t, { retentionMs: 30 * 60_000 })).rejects.toMatchObject({ code: 'PIPE_LAKE_VACUUM_RETENTION' });
    await expect(vacuumTable(t, { retentionMs: HOUR })).resolves.toMatchObject({ filesDeleted: 0, liveFilesKept: 1 });
    await expect(vacuumTable(path.join(t, 'nope'))).rejects.toMatchObject({ code: 'PIPE_LAKE_NO_TABLE' });
  });
});
