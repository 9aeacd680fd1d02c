/**
 * lake: the time to upsert a 10,000-row batch into Delta tables of 100K, 1M and 10M rows.
 * The table grows in place (100K → 1M → 10M, appended in key order, as an ingesting table
 * does); each size is measured with several batches of 5,000 updates to recent keys plus
 * 5,000 new keys — the shape of CDC on orders-like entities. Copy-on-write MERGE must prune
 * by merge-key stats so the cost follows the batch and the files it touches, not the table.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lake } from '../../src/lake/index.js';
import { percentile, round, say, writeResult } from '../lib.js';
import type { ScenarioReport } from '../main.js';

const SIZES = [100_000, 1_000_000, 10_000_000];
const BATCH = 10_000;
const BATCHES_PER_SIZE = 5;
const CHUNK = 1_000_000;
/**
 * Files split at 4 MB (~200K rows here): copy-on-write MERGE rewrites whole files, so a
 * MERGE-heavy table wants small files, and equal-sized files make the sizes comparable (with
 * large files, whether the recent keys sit in a full or a half-empty last file decides the figure).
 */
const TARGET_FILE_SIZE = String(4 * 1024 * 1024);

function row(id: number, seq: number): string {
  return `{"id":${id},"seq":${seq},"status":"${id % 7 === 0 ? 'cancelled' : 'created'}","amount":${((id * 37) % 100000) / 100},"customer":"cus-${id % 50000}","updated_at":"2026-11-22T10:${String(seq % 60).padStart(2, '0')}:00Z"}\n`;
}

/** Writes rows for ids [from, to) (or the given ids) to an NDJSON file. */
async function writeNdjson(file: string, ids: Iterable<number>, seq: number): Promise<number> {
  const out = createWriteStream(file);
  let n = 0;
  let buf = '';
  for (const id of ids) {
    buf += row(id, seq);
    n++;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
  return n;
}

function* range(from: number, to: number): Generator<number> {
  for (let i = from; i < to; i++) yield i;
}

/** Runs the lake scenario. */
export async function lake(): Promise<ScenarioReport> {
  const work = mkdtempSync(join(tmpdir(), 'bench-lake-'));
  const table = join(work, 'orders');
  const db = await Lake.create({ threads: 2 });
  const results: Record<string, unknown>[] = [];
  let correct = true;
  try {
    await db.createTable(
      table,
      [
        { name: 'id', type: 'BIGINT', nullable: false },
        { name: 'seq', type: 'BIGINT', nullable: true },
        { name: 'status', type: 'VARCHAR', nullable: true },
        { name: 'amount', type: 'DOUBLE', nullable: true },
        { name: 'customer', type: 'VARCHAR', nullable: true },
        { name: 'updated_at', type: 'TIMESTAMPTZ', nullable: true },
      ],
      { configuration: { 'delta.targetFileSize': TARGET_FILE_SIZE } },
    );
    let rows = 0;
    let nextId = 0;
    let seq = 1;
    for (const size of SIZES) {
      const t0 = performance.now();
      while (rows < size) {
        const n = Math.min(CHUNK, size - rows);
        const file = join(work, 'chunk.ndjson');
        await writeNdjson(file, range(nextId, nextId + n), 1);
        await db.write(table, { kind: 'ndjson', path: file, rowCount: n }, { mode: 'append' });
        nextId += n;
        rows += n;
      }
      say(`table at ${rows.toLocaleString('en-US')} rows (grown in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      const times: number[] = [];
      let touched = 0;
      for (let b = 0; b < BATCHES_PER_SIZE; b++) {
        seq++;
        // 5,000 updates among the most recent 50,000 keys, 5,000 brand-new keys.
        const ids: number[] = [];
        for (let i = 0; i < BATCH / 2; i++) ids.push(nextId - 50_000 + ((i * 7919 + b * 104_729) % 50_000));
        for (let i = 0; i < BATCH / 2; i++) ids.push(nextId + i);
        const file = join(work, 'batch.ndjson');
        await writeNdjson(file, ids, seq);
        const t1 = performance.now();
        const res = await db.write(table, { kind: 'ndjson', path: file, rowCount: BATCH }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' });
        times.push(performance.now() - t1);
        touched += res.filesRemoved;
        nextId += BATCH / 2;
        rows += BATCH / 2;
        if (res.rowsInserted !== BATCH / 2 || res.rowsUpdated !== BATCH / 2) {
          correct = false;
          say(`WRONG: upsert at ${size} inserted ${res.rowsInserted} / updated ${res.rowsUpdated}, expected 5000 / 5000`);
        }
      }
      const snap = await db.snapshot(table);
      const liveRows = snap.files.reduce((a, f) => a + (f.stats?.numRecords ?? 0), 0);
      if (liveRows !== rows) {
        correct = false;
        say(`WRONG: table holds ${liveRows} rows by stats, expected ${rows}`);
      }
      times.sort((a, b) => a - b);
      const median = percentile(times, 50);
      results.push({ tableRows: size, files: snap.files.length, batchRows: BATCH, medianMs: round(median), minMs: round(times[0]!), maxMs: round(times[times.length - 1]!), filesRewrittenPerBatch: round(touched / BATCHES_PER_SIZE) });
      say(`upsert 10K into ${size.toLocaleString('en-US')}: median ${median.toFixed(0)} ms (${snap.files.length} files, ${(touched / BATCHES_PER_SIZE).toFixed(1)} rewritten per batch)`);
    }
  } finally {
    await db.close();
    rmSync(work, { recursive: true, force: true });
  }
  const ms = (size: number) => (results.find((r) => r.tableRows === size)?.medianMs as number) ?? NaN;
  const ratio = ms(10_000_000) / ms(1_000_000);
  writeResult('lake', { parameters: { sizes: SIZES, batch: BATCH, batchesPerSize: BATCHES_PER_SIZE, targetFileSize: Number(TARGET_FILE_SIZE) }, results, ratio10Mto1M: round(ratio) });
  return {
    correct,
    summary: [
      '| table rows | files | median ms | min ms | max ms | files rewritten per batch |',
      '|---|---|---|---|---|---|',
      ...results.map((r) => `| ${(r.tableRows as number).toLocaleString('en-US')} | ${r.files} | ${r.medianMs} | ${r.minMs} | ${r.maxMs} | ${r.filesRewrittenPerBatch} |`),
    ],
    targets: [{ target: '10M-row upsert ≤ 2x the 1M-row upsert', actual: `${round(ratio)}x`, met: ratio <= 2 }],
  };
}
