/**
 * merge-scaling: 10,000 updates spread **uniformly** over the keys of tables of 1M and 10M
 * rows, for each write mode. With uniform keys every file holds a touched key, so
 * copy-on-write rewrites most of the table per batch (its cost grows with the table);
 * merge-on-read writes the 10K new rows plus one deletion-vector file. Target: the 10M
 * case ≤ 2x the 1M case. `BENCH_MERGE_SIZES=100000,1000000` runs smaller tables,
 * `BENCH_MERGE_MODES=merge-on-read` one mode.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duck } from '../../src/lake/duck.js';
import { Lake } from '../../src/lake/index.js';
import type { FileWriteMode } from '../../src/lake/types.js';
import { Kind } from '../../src/lake/type-lattice.js';
import { percentile, round, say, writeResult } from '../lib.js';
import type { ScenarioReport } from '../main.js';

const SIZES = (process.env.BENCH_MERGE_SIZES ?? '1000000,10000000').split(',').map(Number);
const BATCH = Number(process.env.BENCH_MERGE_BATCH ?? 10_000);
const BATCHES = Number(process.env.BENCH_MERGE_BATCHES ?? 5);
const MODES = (process.env.BENCH_MERGE_MODES ?? 'copy-on-write,merge-on-read').split(',') as FileWriteMode[];
/** What the generated files hold (so the lake need not read a 10M-row file to find out). */
const KINDS = { id: Kind.INT, seq: Kind.INT, status: Kind.STRING, amount: Kind.INT | Kind.REAL };
/** As in the lake scenario: 4 MB files (~200K rows). */
const TARGET_FILE_SIZE = String(4 * 1024 * 1024);

/** Runs the scenario. */
export async function mergeScaling(): Promise<ScenarioReport> {
  const work = mkdtempSync(join(tmpdir(), 'bench-merge-'));
  const db = await Lake.create({ threads: 2 });
  const gen = await Duck.create();
  const sql = (text: string) => gen.with((c) => c.run(text));
  const results: { mode: FileWriteMode; tableRows: number; files: number; medianMs: number; maxMs: number; filesRemovedPerBatch: number }[] = [];
  let correct = true;
  try {
    for (const size of SIZES) {
      for (const mode of MODES) {
        const table = join(work, `${mode}-${size}`);
        const opts = { mode: 'upsert' as const, mergeKeys: ['id'], sequenceBy: 'seq', writeMode: mode, configuration: { 'delta.targetFileSize': TARGET_FILE_SIZE } };
        // The table, written in key order by DuckDB itself (a generated Parquet source is the fastest way in).
        await db.write(table, { kind: 'rows', rows: [{ id: 0, seq: 0, status: 'created', amount: 0.5 }] }, opts);
        const grow = join(work, 'grow.ndjson');
        await sql(`COPY (SELECT range AS id, 1 AS seq, 'created' AS status, (range % 1000) / 4 AS amount FROM range(1, ${size})) TO '${grow}' (FORMAT json)`);
        // Keys 1.. are new: an append is the same table as a merge, without sorting 10M rows by key first.
        await db.write(table, { kind: 'ndjson', path: grow, rowCount: size - 1, kinds: KINDS }, { mode: 'append' });
        rmSync(grow, { force: true });
        const times: number[] = [];
        let removed = 0;
        for (let b = 0; b < BATCHES; b++) {
          const file = join(work, 'batch.ndjson');
          // Uniform keys: a stride through the whole key space, shifted each batch.
          await sql(`COPY (SELECT (range * ${Math.floor(size / BATCH)} + ${b * 7}) % ${size} AS id, ${b + 2} AS seq, 'paid' AS status, 1.25 AS amount FROM range(${BATCH})) TO '${file}' (FORMAT json)`);
          const t0 = performance.now();
          const res = await db.write(table, { kind: 'ndjson', path: file, rowCount: BATCH, kinds: KINDS }, opts);
          times.push(performance.now() - t0);
          removed += res.filesRemoved;
          if (res.rowsUpdated !== BATCH) {
            correct = false;
            say(`WRONG: ${mode} at ${size} updated ${res.rowsUpdated}, expected ${BATCH}`);
          }
        }
        const snap = await db.snapshot(table);
        const live = snap.files.reduce((n, f) => n + (f.stats?.numRecords ?? 0) - (f.deletedRows ?? 0), 0);
        if (live !== size) {
          correct = false;
          say(`WRONG: ${mode} table holds ${live} rows, expected ${size}`);
        }
        times.sort((a, b) => a - b);
        results.push({ mode, tableRows: size, files: snap.files.length, medianMs: round(percentile(times, 50)), maxMs: round(times.at(-1)!), filesRemovedPerBatch: round(removed / BATCHES) });
        say(`${mode}: ${BATCH} uniform updates into ${size.toLocaleString('en-US')} rows: median ${percentile(times, 50).toFixed(0)} ms`);
        rmSync(table, { recursive: true, force: true });
      }
    }
  } finally {
    await db.close();
    gen.close();
    rmSync(work, { recursive: true, force: true });
  }
  const ms = (mode: FileWriteMode, size: number) => results.find((r) => r.mode === mode && r.tableRows === size)?.medianMs ?? NaN;
  const [small, big] = [SIZES[0]!, SIZES.at(-1)!];
  const ratio = (mode: FileWriteMode) => round(ms(mode, big) / ms(mode, small));
  writeResult('merge-scaling', { parameters: { sizes: SIZES, batch: BATCH, batches: BATCHES, targetFileSize: Number(TARGET_FILE_SIZE) }, results, ratios: Object.fromEntries(MODES.map((m) => [m, ratio(m)])) });
  return {
    correct,
    summary: [
      '| write mode | table rows | files | median ms | max ms | files removed per batch |',
      '|---|---|---|---|---|---|',
      ...results.map((r) => `| ${r.mode} | ${r.tableRows.toLocaleString('en-US')} | ${r.files} | ${r.medianMs} | ${r.maxMs} | ${r.filesRemovedPerBatch} |`),
    ],
    targets: MODES.map((m) => ({ target: `${m}: ${big.toLocaleString('en-US')}-row merge ≤ 2x the ${small.toLocaleString('en-US')}-row merge`, actual: `${ratio(m)}x`, met: ratio(m) <= 2 })),
  };
}
