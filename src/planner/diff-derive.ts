/**
 * The `derive` and `where` half of `diffSpecs`, for the source (every table) and each table.
 * A computed column changes what rows hold, so a new or changed expression leaves the rows
 * already written inconsistent (`table`); a changed `where` changes which records are written
 * at all (`routing`, like `deleteWhen`).
 */
import type { ExpectationSpec, PipelineSpec } from '../spec/index.js';
import { sortedKeys } from './compile.js';
import type { ChangeList } from './changes.js';

/** Compares the computed columns and filters of `scope` (`source` or `tables.<t>`). */
export function diffDeriveWhere(
  scope: string,
  what: string,
  a: { derive?: Record<string, string>; where?: string; expectations?: ExpectationSpec[] },
  b: { derive?: Record<string, string>; where?: string; expectations?: ExpectationSpec[] },
  out: ChangeList,
): void {
  const before = a.derive ?? {};
  const after = b.derive ?? {};
  for (const column of sortedKeys({ ...before, ...after })) {
    const was = Object.hasOwn(before, column) ? before[column] : undefined;
    const now = Object.hasOwn(after, column) ? after[column] : undefined;
    const path = `${scope}.derive.${column}`;
    if (was === now) continue;
    if (was === undefined) {
      out.add(path, null, now, 'table', `${what} compute column ${column} = ${now}; rows written before hold the record's own ${column} (or NULL): rewrite the table to fill it`);
    } else if (now === undefined) {
      out.add(path, was, null, 'table', `${what} no longer compute column ${column} (was ${was}); new rows take the record's own ${column} field, if any`);
    } else {
      out.add(path, was, now, 'table', `${what} compute column ${column} as ${now} instead of ${was}; rows written before keep the old values: rewrite the table to stay consistent`);
    }
  }
  // Order matters when a derived column uses an earlier one.
  const sameSet = sortedKeys(before).join('\u0000') === sortedKeys(after).join('\u0000');
  if (sameSet && Object.keys(before).join('\u0000') !== Object.keys(after).join('\u0000') && Object.keys(before).every((k) => before[k] === after[k])) {
    out.add(`${scope}.derive`, Object.keys(before), Object.keys(after), 'table', `${what} compute their columns in a new order; an expression using another derived column may now see its value (or NULL)`);
  }
  if ((a.where ?? null) !== (b.where ?? null)) {
    const message =
      b.where === undefined
        ? `${what} write every record again (no longer only those where ${a.where})`
        : `${what} write only records where ${b.where}${a.where ? ` (was: ${a.where})` : ''}; the others are dropped and counted`;
    out.add(`${scope}.where`, a.where, b.where, 'routing', message);
  }
  diffExpectations(scope, what, a.expectations ?? [], b.expectations ?? [], out);
}

/**
 * Expectations by name. One that only warns changes counts, never data (`safe`); one that
 * drops, quarantines or fails changes which records are written, or stops runs (`routing`).
 */
function diffExpectations(scope: string, what: string, a: ExpectationSpec[], b: ExpectationSpec[], out: ChangeList): void {
  const before = new Map(a.map((e) => [e.name, e]));
  const after = new Map(b.map((e) => [e.name, e]));
  const check = (e: ExpectationSpec) => (e.unique !== undefined ? `unique (${e.unique.join(', ')})` : e.expr);
  const show = (e: ExpectationSpec) => `${check(e)} (${e.action ?? 'warn'})`;
  const warns = (e: ExpectationSpec | undefined) => e === undefined || (e.action ?? 'warn') === 'warn';
  for (const name of sortedKeys(Object.fromEntries([...before, ...after]))) {
    const was = before.get(name);
    const now = after.get(name);
    const path = `${scope}.expectations.${name}`;
    if (was && now && check(was) === check(now) && (was.action ?? 'warn') === (now.action ?? 'warn')) continue;
    const impact = warns(was) && warns(now) ? 'safe' : 'routing';
    const message = !was
      ? `${what} check expectation ${name}: ${show(now!)}`
      : !now
        ? `${what} no longer check expectation ${name} (was ${show(was)})`
        : `${what} check expectation ${name} as ${show(now)} instead of ${show(was)}`;
    out.add(path, was ?? null, now ?? null, impact, message);
  }
}

/** The source's `derive`/`where` (they apply to every table). */
export function diffSourceDerive(before: PipelineSpec, after: PipelineSpec, out: ChangeList): void {
  diffDeriveWhere('source', 'all tables will', before.source, after.source, out);
  const a = before.source.metadataColumns ?? [];
  const b = after.source.metadataColumns ?? [];
  if ([...a].sort().join(',') !== [...b].sort().join(',')) {
    out.add('source.metadataColumns', a, b, 'table', `tables hold the Kafka columns [${b.join(', ')}] instead of [${a.join(', ')}]; rows written before keep what they had (or NULL)`);
  }
  const ka = before.source.keyFormat ?? 'string';
  const kb = after.source.keyFormat ?? 'string';
  if (ka !== kb && b.includes('key')) {
    out.add('source.keyFormat', ka, kb, 'table', `_kafka_key is read as ${kb} instead of ${ka}: its column type changes; rewrite the tables (or write new ones)`);
  }
}
