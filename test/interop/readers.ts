/**
 * The interop suite's bridge to the Python readers (`delta_readers.py` in `.cache/venv`):
 * runs them, and compares what each returns with what `src/lake` returns.
 */
import { connect } from 'node:net';
import { expect, inject } from 'vitest';
import { Lake } from '../../src/lake/index.js';

const READERS = ['delta-rs', 'polars', 'duckdb', 'spark'];
export type Row = Record<string, unknown>;
export type ReaderResult = { rows: Row[]; columns: { name: string; type: string }[] } | { error: string };

/** Runs a `delta_readers.py` verb (`args`, as on its command line) in the suite's reader server. */
export async function python(args: string[]): Promise<unknown> {
  const socket = connect(inject('readersPort'), '127.0.0.1');
  socket.setEncoding('utf8');
  socket.end(JSON.stringify(args) + '\n');
  let text = '';
  for await (const chunk of socket) text += chunk as string;
  const answer = JSON.parse(text) as { ok: unknown } | { error: string };
  if ('error' in answer) throw new Error(`delta_readers.py ${args[0]}: ${answer.error}`);
  return answer.ok;
}

/** One canonical form for rows from JS and Python: sorted keys, timestamps as ISO µs, numbers as numbers. */
function canonical(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (v instanceof Date) return v.toISOString().replace('Z', '000Z');
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]00(:?00)?)?$/.test(v)) {
    const [date, time] = v.replace(' ', 'T').replace(/(Z|[+-]00(:?00)?)$/, '').split('T');
    const [hms, frac = ''] = time!.split('.');
    return `${date}T${hms}.${frac.padEnd(6, '0')}Z`;
  }
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v as Row).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)]));
  return v;
}

function sorted(rows: Row[]): string[] {
  return rows.map((r) => JSON.stringify(canonical(r))).sort();
}

/**
 * Reads `tables` with every reader and checks rows and column names against `src/lake`. A
 * reader named in `declines` may refuse a table with an error matching its pattern (a table
 * feature it does not implement, said plainly); any other error, or wrong rows, fails.
 */
export async function expectReadersAgree(tables: string[], declines: Partial<Record<string, RegExp>> = {}): Promise<void> {
  const lake = await Lake.create({ threads: 1 });
  try {
    const results = (await python(['read', ...tables])) as Record<string, Record<string, ReaderResult>>;
    for (const t of tables) {
      const ours = await lake.scan(t);
      const columns = (await lake.columns(t)).map((c) => c.name);
      for (const reader of READERS) {
        const got = results[t]![reader]!;
        if ('error' in got && declines[reader]?.test(got.error)) continue;
        expect('error' in got ? got.error : '', `${reader} reads ${t}`).toBe('');
        const ok = got as Exclude<ReaderResult, { error: string }>;
        expect(ok.columns.map((c) => c.name).sort(), `${reader} columns of ${t}`).toEqual([...columns].sort());
        expect(sorted(ok.rows), `${reader} rows of ${t}`).toEqual(sorted(ours));
      }
    }
  } finally {
    lake.close();
  }
}
