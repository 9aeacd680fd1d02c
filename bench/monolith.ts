/**
 * The naive monolith baseline: what a data engineer would write by hand in an afternoon.
 * One DuckDB database, one table per event type created from the first record seen,
 * and per fetched batch a sequential `INSERT … ON CONFLICT DO UPDATE … WHERE newer` into
 * each table (rows deduplicated first, since DuckDB refuses to update a row twice in one
 * statement), values written as SQL literals. Append-only types get a plain INSERT. Parquet export at the end.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { join } from 'node:path';

const APPEND_TYPES = new Set(['analytics']);
const ROUTED = new Set(['orders', 'users', 'payments', 'inventory', 'products', 'shipments', 'refunds', 'reviews', 'analytics']);

type Row = Record<string, unknown>;

function sqlType(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? 'BIGINT' : 'DOUBLE';
  if (typeof v === 'boolean') return 'BOOLEAN';
  return 'VARCHAR';
}

/** A SQL literal: what a hand-written job builds (bound parameters are slower in DuckDB for wide VALUES lists). */
function literal(v: unknown): string {
  if (v === undefined || v === null) return 'NULL';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'NULL';
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return `'${text.replace(/'/g, "''")}'`;
}

/** Creates the monolith sink: `insertBatch` per fetch, `exportParquet` at the end. */
export async function naiveMonolith() {
  const db = await DuckDBInstance.create(':memory:');
  const conn: DuckDBConnection = await db.connect();
  const tables = new Map<string, string[]>();
  let malformed = 0;
  let unmatched = 0;

  async function ensureTable(name: string, sample: Row): Promise<string[]> {
    let cols = tables.get(name);
    if (cols) return cols;
    cols = Object.keys(sample);
    const defs = cols.map((c) => `"${c}" ${c === 'seq' ? 'BIGINT' : sqlType(sample[c])}`);
    const pk = APPEND_TYPES.has(name) ? '' : ', PRIMARY KEY (id)';
    await conn.run(`CREATE TABLE "${name}" (${defs.join(', ')}${pk})`);
    tables.set(name, cols);
    return cols;
  }

  async function insertBatch(values: (Buffer | null)[]): Promise<void> {
    const byType = new Map<string, Row[]>();
    for (const v of values) {
      let rec: Row;
      try {
        rec = JSON.parse(v?.toString('utf8') ?? '');
      } catch {
        malformed++;
        continue;
      }
      const type = rec && typeof rec === 'object' ? rec.event_type : undefined;
      if (typeof type !== 'string') {
        malformed++;
        continue;
      }
      if (!ROUTED.has(type)) {
        unmatched++;
        continue;
      }
      let rows = byType.get(type);
      if (!rows) byType.set(type, (rows = []));
      rows.push(rec);
    }
    for (const [type, rows] of byType) {
      const cols = await ensureTable(type, rows[0]!);
      let batch = rows;
      if (!APPEND_TYPES.has(type)) {
        const latest = new Map<unknown, Row>();
        for (const r of rows) {
          const prev = latest.get(r.id);
          if (!prev || Number(r.seq) > Number(prev.seq)) latest.set(r.id, r);
        }
        batch = [...latest.values()];
      }
      const tuples = batch.map((r) => `(${cols.map((c) => literal(r[c])).join(', ')})`);
      const setList = cols.filter((c) => c !== 'id').map((c) => `"${c}" = excluded."${c}"`).join(', ');
      const conflict = APPEND_TYPES.has(type) ? '' : ` ON CONFLICT (id) DO UPDATE SET ${setList} WHERE excluded.seq > "${type}".seq`;
      await conn.run(`INSERT INTO "${type}" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES ${tuples.join(', ')}${conflict}`);
    }
  }

  async function exportParquet(dir: string): Promise<void> {
    for (const name of tables.keys()) {
      await conn.run(`COPY "${name}" TO '${join(dir, `${name}.parquet`)}' (FORMAT parquet, COMPRESSION zstd)`);
    }
  }

  return {
    insertBatch,
    exportParquet,
    counts: () => ({ malformed, unmatched, tables: tables.size }),
  };
}
