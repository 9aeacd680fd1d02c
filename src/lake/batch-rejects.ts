/**
 * The rows a load leaves out of its temp table, decided once per row in a fixed order: the
 * caller's own reason (an attached column that could not be read), a value that does not convert to its fixed type, then a derive
 * expression that errors on the row, then a derived key or sequence that is NULL (all
 * failures), then `where` (a drop), then the first failing `drop`/`quarantine`/`fail`
 * expectation in the order the write lists them. Rows left out after the loaded values name their step
 * (`RejectedRow.step`). Rows are read by `rowid` (the input row) before any is deleted.
 */
import { ExpectationFailedError } from '../errors.js';
import type { Conn } from './duck.js';
import { ATTACH_BAD } from './attached.js';
import { DERIVE_BAD, DERIVE_ERROR, EXPECT_DECIDES, WHERE_DROP, expectationColumn } from './derive.js';
import type { TypedColumn } from './files.js';
import { quoteIdent, renderDuckType } from './schema.js';
import { sqlColumnRefs } from './sql-refs.js';
import type { DerivedColumn, Expectation, ExpectationCount, RejectedRow } from './types.js';
import { deriveErrorReasons } from './derive-errors.js';
import { DECIMAL_EXACT_DIGITS } from './type-lattice.js';

/** Why a value may not fit a DECIMAL column that looks like a number (type-lattice.ts). */
const DECIMAL_RULE = `: taken only exactly, never rounded; a number of more than ${DECIMAL_EXACT_DIGITS} significant digits only as a string`;

/** Which flag columns the temp table holds. */
export interface RejectFlags {
  typeBad: boolean;
  /** The table's partition columns: a text one fails only on the empty string (Delta reads it as NULL). */
  partitionColumns: string[];
  /** The rows carry the caller's reasons ({@link ATTACH_BAD}). */
  attachBad: boolean;
  /** The write's derived columns when the rows carry {@link DERIVE_ERROR} (empty: they do not). */
  deriveError: DerivedColumn[];
  deriveBad: boolean;
  drop: boolean;
  expectations: Expectation[];
  table: string;
}

/**
 * Reads and deletes the rows left out, counts each expectation over the rows it was
 * evaluated on, removes the flag columns. Throws ExpectationFailedError, before anything is
 * deleted, when a row fails a `fail` expectation.
 */
export async function takeRejected(c: Conn, into: string, columns: TypedColumn[], flags: RejectFlags): Promise<{ rejected: RejectedRow[]; counts: ExpectationCount[] }> {
  const failing: string[] = [];
  const flagColumns: string[] = [];
  if (flags.typeBad) {
    failing.push(`__lake_bad <> ''`);
    flagColumns.push('__lake_bad');
  }
  if (flags.attachBad) {
    failing.push(`${ATTACH_BAD} <> ''`);
    flagColumns.push(ATTACH_BAD);
  }
  if (flags.deriveError.length > 0) {
    failing.push(`${DERIVE_ERROR} <> ''`);
    flagColumns.push(DERIVE_ERROR);
  }
  if (flags.deriveBad) {
    failing.push(`${DERIVE_BAD} <> ''`);
    flagColumns.push(DERIVE_BAD);
  }
  if (flags.drop) {
    failing.push(WHERE_DROP);
    flagColumns.push(WHERE_DROP);
  }
  if (flags.expectations.some((e) => e.unique)) await markDuplicates(c, into, failing, flags.expectations);
  const counts = flags.expectations.length > 0 ? await countExpectations(c, into, failing, flags.expectations) : [];
  if (flags.expectations.length > 0) {
    failing.push(`${EXPECT_DECIDES} IS NOT NULL`);
    flagColumns.push(EXPECT_DECIDES, ...flags.expectations.map((_, i) => expectationColumn(i)));
  }
  if (failing.length === 0) return { rejected: [], counts };
  const rejected: RejectedRow[] = [];
  const rows = await c.json(`SELECT rowid AS r, ${flagColumns.join(', ')} FROM ${into} WHERE ${failing.join(' OR ')} ORDER BY rowid`);
  const errored: { row: number; columns: string }[] = [];
  for (const b of rows) {
    const row = Number(b.r);
    const typeBad = flags.typeBad ? String(b.__lake_bad ?? '') : '';
    const deriveError = flags.deriveError.length > 0 ? String(b[DERIVE_ERROR] ?? '') : '';
    const deriveBad = flags.deriveBad ? String(b[DERIVE_BAD] ?? '') : '';
    const attachBad = flags.attachBad ? String(b[ATTACH_BAD] ?? '') : '';
    if (attachBad !== '') rejected.push({ row, reason: attachBad });
    else if (typeBad !== '') {
      const names = typeBad.split(', ');
      const type = (n: string) => renderDuckType(columns.find((col) => col.name === n)!.type);
      const empty = names.filter((n) => type(n) === 'VARCHAR' && flags.partitionColumns.some((p) => p.toLowerCase() === n.toLowerCase()));
      const other = names.filter((n) => !empty.includes(n));
      const reasons = [
        ...(other.length > 0 ? [`value does not convert to the column type: ${other.map((n) => `${n} (${type(n)}${type(n).startsWith('DECIMAL') ? DECIMAL_RULE : ''})`).join(', ')}`] : []),
        ...empty.map((n) => `partition column ${n} holds the empty string, which Delta reads as NULL`),
      ];
      rejected.push({ row, reason: reasons.join('; ') });
    } else if (deriveError !== '') {
      errored.push({ row, columns: deriveError });
      rejected.push({ row, reason: '', step: 'derive' });
    } else if (deriveBad !== '') rejected.push({ row, reason: deriveBad, step: 'derived-value' });
    else if (flags.drop && b[WHERE_DROP] === true) rejected.push({ row, reason: 'where is not true', dropped: true, step: 'where' });
    else {
      const e = flags.expectations[Number(b[EXPECT_DECIDES])]!;
      if (e.action === 'fail') throw await failure(c, into, row, e, flags.table);
      rejected.push({ row, reason: `expectation '${e.name}' failed: ${e.sql}`, expectation: e.name, step: 'expectation', ...(e.action === 'drop' ? { dropped: true } : {}) });
    }
  }
  if (errored.length > 0) {
    const reasons = await deriveErrorReasons(c, into, errored, flags.deriveError);
    for (const r of rejected) if (r.step === 'derive') r.reason = reasons.get(r.row)!;
  }
  if (rejected.length > 0) await c.run(`DELETE FROM ${into} WHERE ${failing.join(' OR ')}`);
  for (const f of flagColumns) await c.run(`ALTER TABLE ${into} DROP COLUMN ${f}`);
  return { rejected, counts };
}

/**
 * Fails each later row of a key a `unique` expectation names: among the rows that reached the
 * expectations and that no earlier `drop`/`quarantine` one leaves out, the first by input order
 * (the rowid) holds. A row with a NULL key column, or a key column the batch lacks, is never a
 * duplicate. Each row's deciding expectation is recomputed in list order after each.
 */
async function markDuplicates(c: Conn, into: string, before: string[], expectations: Expectation[]): Promise<void> {
  const reached = before.length > 0 ? `NOT coalesce(${before.map((b) => `(${b})`).join(' OR ')}, false)` : 'true';
  const present = new Set((await c.json(`DESCRIBE ${into}`)).map((r) => String(r.column_name).toLowerCase()));
  const deciding = expectations.map((e, i) => [e, i] as const).filter(([e]) => e.action !== 'warn');
  for (const [i, e] of expectations.entries()) {
    if (!e.unique || !e.unique.every((k) => present.has(k.toLowerCase()))) continue;
    const keys = e.unique.map(quoteIdent);
    const candidates = `${reached} AND coalesce(${EXPECT_DECIDES} > ${i}, true) AND ${keys.map((k) => `${k} IS NOT NULL`).join(' AND ')}`;
    await c.run(`UPDATE ${into} SET ${expectationColumn(i)} = false WHERE rowid IN (SELECT r FROM (SELECT rowid AS r, row_number() OVER (PARTITION BY ${keys.join(', ')} ORDER BY rowid) AS n FROM ${into} WHERE ${candidates}) WHERE n > 1)`);
    if (deciding.length > 0) await c.run(`UPDATE ${into} SET ${EXPECT_DECIDES} = CASE ${deciding.map(([, j]) => `WHEN NOT ${expectationColumn(j)} THEN ${j}`).join(' ')} END`);
  }
}

/** Rows each expectation was evaluated on (those not already failed or dropped) and failed. */
async function countExpectations(c: Conn, into: string, before: string[], expectations: Expectation[]): Promise<ExpectationCount[]> {
  const reached = before.length > 0 ? `NOT coalesce(${before.map((b) => `(${b})`).join(' OR ')}, false)` : 'true';
  const parts = expectations.map((_, i) => `count(*) FILTER (WHERE NOT ${expectationColumn(i)}) AS f${i}`);
  const [row] = await c.json(`SELECT count(*) AS n${parts.map((p) => `, ${p}`).join('')} FROM ${into} WHERE ${reached}`);
  return expectations.map((e, i) => ({ name: e.name, action: e.action, evaluated: Number(row!.n), failed: Number(row![`f${i}`]) }));
}

/** The coded error of a `fail` expectation, with the values of the columns it names. */
async function failure(c: Conn, into: string, row: number, e: Expectation, table: string): Promise<ExpectationFailedError> {
  const names = await sqlColumnRefs(c, e.sql);
  let values: Record<string, unknown> = {};
  if (names.length > 0) {
    try {
      const [r] = await c.json(`SELECT ${names.map((n) => `CAST(${quoteIdent(n)} AS VARCHAR) AS ${quoteIdent(n)}`).join(', ')} FROM ${into} WHERE rowid = ${row}`);
      values = r ?? {};
    } catch {
      values = {}; // a column the batch lacks: the expression saw NULL
    }
  }
  const shown = Object.entries(values).map(([k, v]) => `${k}=${v === null ? 'NULL' : JSON.stringify(v)}`).join(', ');
  return new ExpectationFailedError('PIPE_LAKE_EXPECTATION_FAILED', `table ${table}: expectation '${e.name}' (${e.sql}) failed${shown ? ` (${shown})` : ''}`, {
    details: { table, expectation: e.name, sql: e.sql, row, values },
  });
}
