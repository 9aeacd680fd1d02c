/**
 * What `pipeline deadletter show` reports: the dead-letter table's records, filtered by
 * reason, stage and record time, counted by table, stage and reason (most frequent first),
 * with the oldest and newest record coordinates of each group so a reader can find them.
 */

/** Filters of `deadletter show`. */
export interface DeadLetterFilter {
  /** Substring of the reason (case-insensitive). */
  reason?: string;
  /** Exact stage: decode, route, validate, expectation, sink. */
  stage?: string;
  /** Only records whose Kafka timestamp is at or after this instant (ms since the epoch). */
  sinceMs?: number;
}

/** One group of dead-lettered records. */
export interface DeadLetterGroup {
  /** The table the record was routed to; empty when it failed before routing. */
  table: string;
  stage: string;
  reason: string;
  count: number;
  first: { partition: number; offset: number; timestamp: string | null };
  last: { partition: number; offset: number; timestamp: string | null };
}

const TABLE_PREFIX = /^table '([^']*)': /;

/** The table a dead-letter reason names (`table 'orders': …`), and the reason without it. */
export function splitReason(error: string): { table: string; reason: string } {
  const m = TABLE_PREFIX.exec(error);
  return m ? { table: m[1]!, reason: error.slice(m[0].length) } : { table: '', reason: error };
}

function instant(v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  const ms = v instanceof Date ? v.getTime() : Date.parse(String(v));
  return Number.isNaN(ms) ? undefined : ms;
}

/** Groups dead-letter rows (as scanned from the table) that pass `filter`. */
export function summariseDeadLetters(rows: Record<string, unknown>[], filter: DeadLetterFilter): { total: number; groups: DeadLetterGroup[] } {
  const groups = new Map<string, DeadLetterGroup>();
  let total = 0;
  const needle = filter.reason?.toLowerCase();
  for (const r of rows) {
    const stage = String(r.stage ?? '');
    const { table, reason } = splitReason(String(r.error ?? ''));
    if (filter.stage !== undefined && stage !== filter.stage) continue;
    if (needle !== undefined && !reason.toLowerCase().includes(needle)) continue;
    const ts = instant(r.timestamp);
    if (filter.sinceMs !== undefined && (ts === undefined || ts < filter.sinceMs)) continue;
    total++;
    const at = { partition: Number(r.partition), offset: Number(r.offset), timestamp: ts === undefined ? null : new Date(ts).toISOString() };
    const key = `${table}\u0000${stage}\u0000${reason}`;
    const g = groups.get(key);
    if (!g) groups.set(key, { table, stage, reason, count: 1, first: at, last: at });
    else {
      g.count++;
      if (before(at, g.first)) g.first = at;
      if (before(g.last, at)) g.last = at;
    }
  }
  const sorted = [...groups.values()].sort((a, b) => b.count - a.count || cmp(a.table, b.table) || cmp(a.stage, b.stage) || cmp(a.reason, b.reason));
  return { total, groups: sorted };
}

function before(a: DeadLetterGroup['first'], b: DeadLetterGroup['first']): boolean {
  return a.partition < b.partition || (a.partition === b.partition && a.offset < b.offset);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
