/**
 * `pipeline table` as users run it: the built CLI in a child process over tables written
 * with the Lake API and over Spark-written golden tables; exact JSON keys checked against
 * the snapshot, aligned text output, and exit codes (0 ok, 1 not a table / refused, 2 usage).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { DEFAULT_COMPACT_TARGET_SIZE } from '../../src/lake/compact.js';
import { VACUUM_MIN_RETENTION_MS } from '../../src/lake/vacuum.js';
import { HELP_DEFAULTS, parseByteSize } from '../../src/cli/commands/table.js';
import { dataFilesOnDisk } from '../support/files.js';
import { tempDir } from '../support/temp-dirs.js';
import { ensureFreshBuild } from '../support/build.js';
import { cliSync, runCli } from '../support/cli.js';

const root = path.join(import.meta.dirname, '..', '..');
const golden = path.join(root, '..', 'shared', 'delta-golden');

function table(...args: string[]) {
  return cliSync(['table', ...args], { bare: true });
}

let lake: Lake;
let dir: string;
beforeAll(async () => {
  ensureFreshBuild();
  lake = await Lake.create({ threads: 1 });
  dir = tempDir();
}, 180_000);
afterAll(() => lake.close());

describe('pipeline table show / history / head', () => {
  it('show and history report what the snapshot and the log hold', async () => {
    const t = path.join(dir, 'sales');
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, region: 'eu', amount: 10 }, { id: 2, region: 'us', amount: 20 }] }, {
      mode: 'append', partitionBy: ['region'], txn: { appId: 'sales/0', version: 0 },
    });
    await lake.write(t, { kind: 'rows', rows: [{ id: 3, region: 'eu', amount: 30 }] }, { mode: 'upsert', mergeKeys: ['id'], txn: { appId: 'sales/1', version: 4 } });
    const snap = await lake.snapshot(t);

    const json = table('show', t, '--format', 'json');
    expect(json.code).toBe(0);
    const shown = JSON.parse(json.stdout);
    expect(Object.keys(shown)).toEqual(['version', 'numFiles', 'numRecords', 'sizeBytes', 'schema', 'partitionColumns', 'partitions', 'txns']);
    expect(shown).toEqual({
      version: snap.version,
      numFiles: snap.files.length,
      numRecords: snap.files.reduce((s, f) => s + f.stats!.numRecords!, 0),
      sizeBytes: snap.files.reduce((s, f) => s + f.size, 0),
      schema: snap.schema.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable })),
      partitionColumns: ['region'],
      partitions: [{ values: { region: 'eu' }, files: 2, records: 2 }, { values: { region: 'us' }, files: 1, records: 1 }],
      txns: { 'sales/0': 0, 'sales/1': 4 },
    });
    expect(shown).toMatchObject({ version: 1, numFiles: 3, numRecords: 3 });

    const text = table('show', t);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Version +1$/m);
    expect(text.stdout).toMatch(/^Records +3$/m);
    expect(text.stdout).toMatch(/^Partitioned by +region$/m);
    expect(text.stdout).toMatch(/^Partitions \(2\)\n {2}region=eu +2 files +2 rows\n {2}region=us +1 files +1 rows$/m);
    expect(text.stdout).toMatch(/^ {2}amount +long +nullable$/m);
    expect(text.stdout).toMatch(/^ {2}sales\/1 +4$/m);

    const history = JSON.parse(table('history', t, '--format', 'json').stdout);
    expect(history.map((c: any) => [c.version, c.operation])).toEqual([[1, 'MERGE'], [0, 'WRITE']]);
    expect(history[0].operationMetrics).toMatchObject({ numTargetRowsInserted: 1, numAddedFiles: 1 });
    expect(JSON.parse(table('history', t, '--limit', '1', '--format', 'json').stdout).map((c: any) => c.version)).toEqual([1]);
    const lines = table('history', t).stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^VERSION +TIMESTAMP +OPERATION +METRICS$/);
    expect(lines[1]).toMatch(/^ +1 {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}MERGE {6}numSourceRows=1 numTargetRowsInserted=1 /);
    expect(lines[2]).toMatch(/^ +0 {2}\S+Z {2}WRITE {6}numSourceRows=2 /);
  });

  it('head prints the first rows as an aligned table', async () => {
    const t = path.join(dir, 'people');
    const rows = [{ id: 1, name: 'ann', score: 1.5 }, { id: 22, name: 'bob\nby', score: null }, { id: 333, name: 'x'.repeat(50), score: 10 }];
    await lake.write(t, { kind: 'rows', rows }, { mode: 'append' });
    const two = table('head', t, '-n', '2');
    expect(two.code).toBe(0);
    expect(two.stdout).toBe(['id  name     score', '--  -------  -----', ' 1  ann        1.5', '22  bob\\nby   NULL', '(2 of 3 rows, version 0)', ''].join('\n'));
    const all = table('head', t).stdout.split('\n');
    expect(all[4]).toBe(`333  ${'x'.repeat(39)}…     10`);
  });

  it('reads Spark-written golden tables (version and record counts as documented)', () => {
    const withCheckpoint = JSON.parse(table('show', path.join(golden, 'basic-with-inserts-deletes-checkpoint'), '--format', 'json').stdout);
    expect(withCheckpoint).toMatchObject({ version: 13, numFiles: 7, numRecords: 41, partitionColumns: [], txns: {} });
    expect(withCheckpoint.schema).toEqual([{ name: 'id', type: 'long', nullable: true }]);
    // No stats in the log: records are counted from the Parquet footers.
    const noStats = JSON.parse(table('show', path.join(golden, 'snapshot-data1'), '--format', 'json').stdout);
    expect(noStats).toMatchObject({ version: 1, numFiles: 4, numRecords: 20 });
  });
});

describe('pipeline table compact / vacuum', () => {
  it('compacts small files, then vacuums the removed ones only when forced below the minimum', async () => {
    const t = path.join(dir, 'clicks');
    for (let i = 0; i < 5; i++) await lake.write(t, { kind: 'rows', rows: [{ id: i, page: `/p${i}` }] }, { mode: 'append' });

    // Five one-row files: head reads only the first two files, in commit order.
    expect(table('head', t, '-n', '2').stdout).toBe(['id  page', '--  ----', ' 0  /p0', ' 1  /p1', '(2 of 5 rows, version 4)', ''].join('\n'));

    const dry = table('compact', t, '--target-size', '1MB', '--dry-run');
    expect([dry.code, dry.stdout.split('\n')[0]]).toEqual([0, 'Would compact 5 files (' + dry.stdout.split('(')[1]!.split(')')[0] + ') in 1 bins, target 1.0 MiB, file order kept (version 4):']);
    const done = table('compact', t, '--target-size', '1MB');
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/^Compacted 5 files \([\d.]+ KiB\) into 1 files \(\d+ bytes\) at version 5, file order kept\.\n {2}\(table\) {2}5 files {2}[\d.]+ KiB\n$/);
    expect(JSON.parse(table('show', t, '--format', 'json').stdout)).toMatchObject({ version: 5, numFiles: 1, numRecords: 5 });

    const refused = table('vacuum', t, '--retain', '0s');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^pipeline table: error PIPE_LAKE_VACUUM_RETENTION refusing to vacuum .*--force/);

    const disk = dataFilesOnDisk(t);
    const dry2 = table('vacuum', t, '--retain', '0s', '--force', '--dry-run', '--format', 'json');
    expect(dry2.code).toBe(0);
    const listed = JSON.parse(dry2.stdout);
    expect(listed.files.map((f: any) => f.reason)).toEqual(['removed', 'removed', 'removed', 'removed', 'removed']);
    expect(dataFilesOnDisk(t)).toEqual(disk);
    const vac = table('vacuum', t, '--retain', '0s', '--force');
    expect(vac.code).toBe(0);
    expect(vac.stdout.split('\n')[0]).toMatch(/^Deleted 5 files \([\d.]+ KiB\) not referenced by version 5 and older than 0s\.$/);
    const live = (await lake.snapshot(t)).files.map((f) => decodeURIComponent(f.path));
    expect(dataFilesOnDisk(t)).toEqual(live);
    expect((await lake.scan(t, { orderBy: 'id' })).map((r) => r.id)).toEqual([0, 1, 2, 3, 4]);
  });
});

/** The CLI in a child process without blocking this one (a writer runs here meanwhile). */
function tableAsync(...args: string[]) {
  return runCli(['table', ...args], {}, 120_000, { bare: true });
}

describe('pipeline table compact while a writer commits', () => {
  it('compaction processes and a writer race; every row ends as a reference model says', async () => {
    const t = path.join(dir, 'race');
    const model = new Map<number, { id: number; v: number }>();
    let stop = false;
    let compacted = 0;
    const outcomes: string[] = [];
    const compactor = (async () => {
      while (!stop) {
        const r = await tableAsync('compact', t, '--target-size', '1MB', '--format', 'json');
        if (r.code === 0) {
          if (JSON.parse(r.stdout).status === 'committed') compacted++;
        } else if (!/PIPE_LAKE_NO_TABLE|PIPE_LAKE_COMPACT_CONFLICT/.test(r.stderr)) outcomes.push(r.stderr);
      }
    })();
    // Appends of new keys, and every fourth batch an upsert that rewrites files holding old keys.
    // The first 24 batches race the compactor freely; an upsert that lands while a compaction
    // runs makes it conflict, so past them each batch waits for one more compaction to commit
    // (each compaction is a whole CLI process, and a busy machine may let none through otherwise).
    let b = 0;
    for (; b < 24 || (compacted < 3 && b < 200); b++) {
      if (b >= 24) {
        const before = compacted;
        const deadline = Date.now() + 30_000;
        while (compacted === before && outcomes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      }
      const rows = b % 4 === 3 ? [1, 7, 13].map((k) => ({ id: (b * k) % (b * 10), v: b })) : Array.from({ length: 10 }, (_, j) => ({ id: b * 10 + j, v: b }));
      const mode = b % 4 === 3 ? 'upsert' : 'append';
      await lake.write(t, { kind: 'rows', rows }, { mode, mergeKeys: ['id'], sequenceBy: 'v', txn: { appId: 'race/0', version: b } });
      for (const row of rows) model.set(row.id, row);
    }
    stop = true;
    await compactor;
    expect(outcomes).toEqual([]);
    expect(compacted).toBeGreaterThanOrEqual(3);
    const snap = await lake.snapshot(t);
    expect(snap.txns).toEqual({ 'race/0': b - 1 });
    expect(await lake.scan(t, { orderBy: 'id' })).toEqual([...model.values()].sort((x, y) => x.id - y.id));
    const ops = (await lake.history(t)).map((c) => c.operation);
    expect(ops.filter((o) => o === 'OPTIMIZE')).toHaveLength(compacted);
  });
});

describe('pipeline table errors and help', () => {
  it('a path that is not a Delta table is one line and exit 1', () => {
    for (const p of [dir, path.join(dir, 'missing')]) {
      const r = table('show', p);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`pipeline table: error PIPE_LAKE_NO_TABLE ${p} is not a Delta table (no _delta_log commits) (check the path; a table has a _delta_log folder)\n`);
    }
  });

  it('show reads the log, not the data: a table whose live files are missing is summarised (log-only golden table)', () => {
    const r = table('show', path.join(golden, 'checkpoint'), '--format', 'json');
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ version: 14, numRecords: null, partitionColumns: [] });
    expect(s.numFiles).toBeGreaterThan(0);
    const text = table('show', path.join(golden, 'checkpoint'));
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Version\s+14\n/);
    expect(text.stdout).toMatch(/Records\s+unknown \(files without row counts in the log cannot be read\)/);
    // Reading rows needs the data: head still fails with one line.
    const head = table('head', path.join(golden, 'checkpoint'));
    expect(head.code).toBe(1);
    expect(head.stderr).toMatch(/^pipeline table: error PIPE_LAKE_DATA_READ cannot read the data files of .*checkpoint at version 14: [^\n]*\n$/);
  });

  it('usage errors exit 2', () => {
    const t = path.join(dir, 'sales');
    const cases: [string[], RegExp][] = [
      [[], /give a command/],
      [['drop', t], /unknown table command 'drop'/],
      [['show'], /needs a table path/],
      [['show', t, t], /takes one table path/],
      [['show', t, '--colour'], /Unknown option '--colour'/],
      [['history', t, '--format', 'xml'], /unknown --format 'xml'/],
      [['head', t, '-n', 'ten'], /-n must be a whole number/],
      [['compact', t, '--target-size', 'big'], /invalid size 'big'/],
      [['vacuum', t, '--retain', '7days'], /invalid --retain '7days'/],
    ];
    for (const [args, message] of cases) {
      const r = table(...args);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.stderr).toMatch(message);
    }
  });

  it('help quotes the real defaults; sizes parse 1024-based', () => {
    expect(HELP_DEFAULTS.compactTargetSizeMB * 1024 * 1024).toBe(DEFAULT_COMPACT_TARGET_SIZE);
    expect(HELP_DEFAULTS.vacuumMinRetentionHours * 3_600_000).toBe(VACUUM_MIN_RETENTION_MS);
    expect(['4096', '128MB', '1.5gb', '512KiB'].map(parseByteSize)).toEqual([4096, 128 * 1024 ** 2, 1.5 * 1024 ** 3, 512 * 1024]);
    expect(() => parseByteSize('0.1')).toThrow(/at least 1 byte/);
  });

  it('every subcommand has its own --help', () => {
    for (const sub of ['show', 'history', 'head', 'compact', 'vacuum']) {
      const r = table(sub, '--help');
      expect([sub, r.code]).toEqual([sub, 0]);
      expect(r.stdout.startsWith(`Usage: pipeline table ${sub} <table-path>`)).toBe(true);
    }
    const general = table('--help');
    expect(general.stdout).toMatch(/^Usage: pipeline table <command> <table-path>/);
    expect(general.stdout).toMatch(/^ {2}vacuum +Delete data files/m);
  });
});
