/**
 * handoff: what it costs to hand a decoded batch to DuckDB, per route of the commerce events
 * (one temp table per table, as a batch's load does), two ways:
 *
 * - `ndjson`, what the runtime does: each record's raw JSON bytes are copied into one file per
 *   table and DuckDB reads it with every column's type given (`read_json(columns=…)`, no
 *   detection);
 * - `data chunks`: the values the decoder already parsed (`JSON.parse` is not timed) become one
 *   typed array per column, cross a thread boundary (a structured clone, as a decode thread's
 *   result does; measured without it too), and are appended in DuckDB data chunks of 2,048
 *   rows (`@duckdb/node-api`'s columnar appender).
 *
 * CPU time counts every thread of the process (DuckDB's included); best of three passes. Both
 * ways must load the same rows (counts and per-column checksums compared).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIGINT, BOOLEAN, DOUBLE, DuckDBDataChunk, DuckDBInstance, VARCHAR, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { generateEvents } from '../../src/dev-broker/events.js';
import { kindOfValue, typeOfKinds, type LatticeType } from '../../src/lake/type-lattice.js';
import { round, say, writeResult } from '../lib.js';
import type { ScenarioReport } from '../main.js';

const COUNT = Number(process.env.BENCH_HANDOFF_EVENTS ?? 300_000);
const ROUNDS = 3;
const CHUNK = 2048;

interface Route {
  table: string;
  raw: Buffer[];
  rows: Record<string, unknown>[];
  columns: { name: string; type: LatticeType }[];
}

const DUCK_TYPES: Record<LatticeType, DuckDBType> = { BOOLEAN, BIGINT, DOUBLE, VARCHAR };

/** The events grouped by route, with each table's column types from the type lattice. */
function routes(): Route[] {
  const byTable = new Map<string, Route>();
  const kinds = new Map<string, Map<string, number>>();
  for (const e of generateEvents({ count: COUNT, seed: 11 })) {
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(e.value.toString('utf8')) as Record<string, unknown>;
    } catch {
      continue; // malformed records go to the dead-letter table, not to a route
    }
    // Records without a route (not an object, no event type) go to the dead-letter table.
    if (row === null || typeof row !== 'object' || Array.isArray(row) || typeof row.event_type !== 'string') continue;
    const table = row.event_type;
    let route = byTable.get(table);
    if (!route) byTable.set(table, (route = { table, raw: [], rows: [], columns: [] }));
    route.raw.push(e.value);
    route.rows.push(row);
    let k = kinds.get(table);
    if (!k) kinds.set(table, (k = new Map()));
    for (const [key, v] of Object.entries(row)) k.set(key, (k.get(key) ?? 0) | kindOfValue(v));
  }
  for (const route of byTable.values()) {
    for (const [name, k] of kinds.get(route.table)!) {
      const type = typeOfKinds(k);
      if (type) route.columns.push({ name, type });
    }
  }
  return [...byTable.values()];
}

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** A column value as the lattice stores it (numbers in a text column as their JSON text). */
function cell(v: unknown, type: LatticeType): unknown {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'BIGINT': return BigInt(v as number);
    case 'DOUBLE': return Number(v);
    case 'BOOLEAN': return v as boolean;
    case 'VARCHAR': return typeof v === 'string' ? v : JSON.stringify(v);
  }
}

const NEWLINE = Buffer.from('\n');

async function viaNdjson(c: DuckDBConnection, dir: string, all: Route[]): Promise<void> {
  for (const r of all) {
    const file = join(dir, `${r.table}.ndjson`);
    const parts: Buffer[] = [];
    for (const raw of r.raw) parts.push(raw, NEWLINE);
    writeFileSync(file, Buffer.concat(parts));
    const spec = r.columns.map((col) => `'${col.name}': '${col.type}'`).join(', ');
    await c.run(`CREATE OR REPLACE TEMP TABLE ${quote(r.table)} AS SELECT * FROM read_json('${file}', format='newline_delimited', columns={${spec}})`);
  }
}
async function viaChunks(c: DuckDBConnection, all: Route[], crossThreads: boolean): Promise<void> {
  for (const r of all) {
    // One typed array per column, then (from a decode thread) across a thread boundary.
    const arrays = r.columns.map((col) => r.rows.map((row) => cell(row[col.name], col.type)));
    const columns = crossThreads ? structuredClone(arrays) : arrays;
    await c.run(`CREATE OR REPLACE TEMP TABLE ${quote(r.table)} (${r.columns.map((col) => `${quote(col.name)} ${col.type}`).join(', ')})`);
    const appender = await c.createAppender(r.table, 'main', 'temp');
    const types = r.columns.map((col) => DUCK_TYPES[col.type]);
    for (let start = 0; start < r.rows.length; start += CHUNK) {
      const n = Math.min(CHUNK, r.rows.length - start);
      const chunk = DuckDBDataChunk.create(types, n);
      columns.forEach((values, j) => chunk.setColumnValues(j, values.slice(start, start + n) as never));
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
    appender.closeSync();
  }
}

/** Rows and a checksum per column of every loaded table (both ways must agree). */
async function fingerprint(c: DuckDBConnection, all: Route[]): Promise<string> {
  const parts: string[] = [];
  for (const r of all) {
    const sums = r.columns.map((col) => `sum(hash(${quote(col.name)}))::VARCHAR`).join(" || ',' || ");
    const reader = await c.runAndReadAll(`SELECT count(*)::VARCHAR || ':' || ${sums} AS f FROM ${quote(r.table)}`);
    parts.push(`${r.table}=${String(reader.getRows()[0]![0])}`);
  }
  return parts.join(';');
}

async function measure(run: () => Promise<void>): Promise<{ cpuMs: number; wallMs: number }> {
  let best = { cpuMs: Infinity, wallMs: Infinity };
  for (let i = 0; i < ROUNDS; i++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await run();
    const cpu = process.cpuUsage(cpu0);
    const ms = { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0 };
    if (ms.cpuMs < best.cpuMs) best = ms;
  }
  return best;
}

/** Runs the handoff comparison. */
export async function handoff(): Promise<ScenarioReport> {
  const all = routes();
  const rows = all.reduce((a, r) => a + r.rows.length, 0);
  say(`handing ${rows.toLocaleString('en-US')} records over ${all.length} tables to DuckDB, best of ${ROUNDS}`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-handoff-'));
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const c = await instance.connect();
  try {
    const ndjson = await measure(() => viaNdjson(c, dir, all));
    const viaJson = await fingerprint(c, all);
    const chunks = await measure(() => viaChunks(c, all, true));
    const viaChunk = await fingerprint(c, all);
    const local = await measure(() => viaChunks(c, all, false));
    const correct = viaJson === viaChunk && viaJson === (await fingerprint(c, all));
    const per100k = (ms: number) => round((ms / rows) * 100_000);
    const figures = {
      records: rows,
      tables: all.length,
      ndjson: { cpuMsPer100k: per100k(ndjson.cpuMs), wallMsPer100k: per100k(ndjson.wallMs) },
      dataChunks: { cpuMsPer100k: per100k(chunks.cpuMs), wallMsPer100k: per100k(chunks.wallMs) },
      dataChunksSameThread: { cpuMsPer100k: per100k(local.cpuMs), wallMsPer100k: per100k(local.wallMs) },
      chunksToNdjsonCpu: round(chunks.cpuMs / ndjson.cpuMs),
      sameThreadChunksToNdjsonCpu: round(local.cpuMs / ndjson.cpuMs),
      sameRows: correct,
    };
    writeResult('handoff', figures);
    return {
      correct,
      summary: [
        `${rows.toLocaleString('en-US')} commerce records over ${all.length} tables into DuckDB temp tables (1 DuckDB thread), best of ${ROUNDS}; CPU of every thread.`,
        '',
        '| handoff | CPU ms per 100K records | wall ms per 100K records |',
        '|---|---|---|',
        `| NDJSON bytes + read_json with typed columns (the runtime) | ${figures.ndjson.cpuMsPer100k} | ${figures.ndjson.wallMsPer100k} |`,
        `| typed column arrays from a decode thread + data-chunk appender | ${figures.dataChunks.cpuMsPer100k} | ${figures.dataChunks.wallMsPer100k} |`,
        `| the same, decoded on the loading thread (no copy between threads) | ${figures.dataChunksSameThread.cpuMsPer100k} | ${figures.dataChunksSameThread.wallMsPer100k} |`,
        '',
        `Data chunks cost ${figures.chunksToNdjsonCpu}x (${figures.sameThreadChunksToNdjsonCpu}x without the copy) the CPU of the NDJSON handoff; all three loaded the same rows: ${correct ? 'yes' : 'NO'}.`,
      ],
      targets: [],
    };
  } finally {
    c.closeSync();
    instance.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
}
