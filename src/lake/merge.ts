/**
 * The copy-on-write MERGE in SQL. The batch (temp table) becomes `src`; the rows of the
 * candidate files become `tgt`; the result `out` holds every row of the files that must be
 * rewritten plus the batch rows that win. Only files holding a changed key are rewritten.
 *
 * Upsert rule: a key's row is replaced only by a record with a greater sequence value;
 * within a batch the greatest wins (the first of equal ones); a record with a NULL
 * sequence never replaces a row. A `deleteWhen` record that wins deletes the key; the
 * table keeps no tombstone, so a later record for that key inserts it again.
 *
 * SCD2 rule: each key's history is rebuilt from its stored versions (and the deletes they
 * imply) plus the batch's records, ordered by sequence: a record opens a new version when a
 * tracked column differs from the previous event or the key was deleted; a delete closes
 * the current version; records equal in sequence to a stored event are ignored.
 */
import type { Conn } from './duck.js';
import type { TypedColumn } from './files.js';
import { FILE_COLUMN } from './read.js';
import { quoteIdent, renderDuckType } from './schema.js';

/** SCD2 system columns. */
export const SCD2_START = '__start_at';
export const SCD2_END = '__end_at';
export const SCD2_CURRENT = '__is_current';

/** How the batch merges. */
export interface MergeSpec {
  mergeKeys: string[];
  sequenceBy?: string;
  deleteWhen?: string;
}

/** The outcome of a merge: rows to write, files to remove, counts. */
export interface MergeOutcome {
  /** Temp table with the rows to write (final table columns). */
  out: string;
  /** Resolved paths of the files `out` replaces. */
  rewrittenFiles: string[];
  inserted: number;
  updated: number;
  deleted: number;
}

const q = quoteIdent;
const list = (cols: string[], prefix = '') => cols.map((c) => `${prefix}${q(c)}`).join(', ');
const keysMatch = (keys: string[], a: string, b: string) => keys.map((k) => `${a}.${q(k)} IS NOT DISTINCT FROM ${b}.${q(k)}`).join(' AND ');
const deleteExpr = (spec: MergeSpec) => (spec.deleteWhen ? `coalesce((${spec.deleteWhen}), false)` : 'false');

async function count(c: Conn, sql: string): Promise<number> {
  const rows = await c.json(sql);
  return Number(rows[0]!.n);
}

/**
 * Creates `src` from the loaded batch: deduplicated per key (upsert) or per key and
 * sequence (scd2), with `__lake_ord` (input position) and `__lake_delete`.
 */
export async function prepareSource(c: Conn, batch: string, dataColumns: TypedColumn[], spec: MergeSpec, mode: 'upsert' | 'scd2'): Promise<void> {
  const cols = list(dataColumns.map((d) => d.name));
  const keys = list(spec.mergeKeys);
  let partition: string;
  let order: string;
  let where = '';
  if (mode === 'upsert') {
    partition = keys;
    order = spec.sequenceBy ? `${q(spec.sequenceBy)} DESC NULLS LAST, rowid ASC` : 'rowid DESC';
  } else {
    partition = `${keys}, ${q(spec.sequenceBy!)}`;
    order = 'rowid ASC';
    where = ` WHERE ${q(spec.sequenceBy!)} IS NOT NULL`;
  }
  await c.run(
    `CREATE TEMP TABLE src AS SELECT * EXCLUDE (__lake_rn) FROM (
       SELECT ${cols}, rowid AS __lake_ord, ${deleteExpr(spec)} AS __lake_delete,
              row_number() OVER (PARTITION BY ${partition} ORDER BY ${order}) AS __lake_rn
       FROM ${q(batch)}${where}) WHERE __lake_rn = 1`,
  );
}

/**
 * Materialises the candidate rows as `tgt` with every final column (NULL where the old
 * schema lacks it), the file each row came from and a row number.
 */
export async function prepareTarget(c: Conn, relation: string, columns: TypedColumn[], oldColumns: Set<string>): Promise<void> {
  const select = columns
    .map((col) => (oldColumns.has(col.name.toLowerCase()) ? q(col.name) : `CAST(NULL AS ${renderDuckType(col.type)}) AS ${q(col.name)}`))
    .join(', ');
  await c.run(`CREATE TEMP TABLE tgt AS SELECT ${select}, ${FILE_COLUMN}, row_number() OVER () AS __lake_trow FROM ${relation}`);
}

/** Upsert `src` into `tgt`. */
export async function mergeUpsert(c: Conn, columns: TypedColumn[], spec: MergeSpec): Promise<MergeOutcome> {
  const seq = spec.sequenceBy ? q(spec.sequenceBy) : undefined;
  const wins = seq ? `coalesce(s.${seq} > t.${seq} OR (t.${seq} IS NULL AND s.${seq} IS NOT NULL), false)` : 'true';
  await c.run(
    `CREATE TEMP TABLE hit AS SELECT s.__lake_ord AS srow, t.__lake_trow AS trow, t.${FILE_COLUMN} AS file, s.__lake_delete AS del, ${wins} AS wins
     FROM src s JOIN tgt t ON ${keysMatch(spec.mergeKeys, 's', 't')}`,
  );
  await c.run(`CREATE TEMP TABLE sres AS SELECT srow, bool_and(wins) AS wins FROM hit GROUP BY srow`);
  await c.run(`CREATE TEMP TABLE replaced AS SELECT DISTINCT h.trow, h.file, h.del FROM hit h JOIN sres r USING (srow) WHERE r.wins`);
  const cols = list(columns.map((d) => d.name));
  const files = (await c.json(`SELECT DISTINCT file FROM replaced`)).map((r) => String(r.file));
  // Kept rows of rewritten files (none when nothing is replaced), then the winning records.
  const kept = files.length > 0
    ? `SELECT ${cols} FROM tgt WHERE ${FILE_COLUMN} IN (SELECT file FROM replaced) AND __lake_trow NOT IN (SELECT trow FROM replaced) UNION ALL `
    : '';
  await c.run(`CREATE TEMP TABLE "out" AS ${kept}SELECT ${cols} FROM src WHERE NOT __lake_delete AND __lake_ord NOT IN (SELECT srow FROM sres WHERE NOT wins)`);
  const [counts] = await c.json(
    `SELECT count(*) FILTER (WHERE NOT s.__lake_delete AND r.srow IS NULL) AS inserted,
            count(*) FILTER (WHERE NOT s.__lake_delete AND r.wins) AS updated
     FROM src s LEFT JOIN sres r ON s.__lake_ord = r.srow`,
  );
  return {
    out: 'out',
    rewrittenFiles: files,
    inserted: Number(counts!.inserted),
    updated: Number(counts!.updated),
    deleted: files.length > 0 ? await count(c, `SELECT count(DISTINCT trow) AS n FROM replaced WHERE del`) : 0,
  };
}

/** SCD2 merge of `src` into `tgt`. `dataColumns` excludes the three system columns. */
export async function mergeScd2(c: Conn, columns: TypedColumn[], dataColumns: TypedColumn[], spec: MergeSpec): Promise<MergeOutcome> {
  const keys = spec.mergeKeys;
  const seq = spec.sequenceBy!;
  const data = dataColumns.map((d) => d.name);
  const lowerFixed = new Set([...keys, seq].map((k) => k.toLowerCase()));
  const tracked = data.filter((d) => !lowerFixed.has(d.toLowerCase()));
  const keyList = list(keys);
  await c.run(`CREATE TEMP TABLE hist AS SELECT t.* FROM tgt t WHERE EXISTS (SELECT 1 FROM src s WHERE ${keysMatch(keys, 's', 't')})`);
  const nonKeyNulls = data.map((d) => (keys.some((k) => k.toLowerCase() === d.toLowerCase()) ? `h.${q(d)}` : `NULL AS ${q(d)}`)).join(', ');
  await c.run(
    `CREATE TEMP TABLE ev AS
       SELECT ${list(data)}, ${q(SCD2_START)} AS __lake_seq, false AS __lake_delete, 0 AS __lake_origin, 0 AS __lake_ord FROM hist
       UNION ALL BY NAME
       SELECT ${nonKeyNulls}, h.${q(SCD2_END)} AS __lake_seq, true AS __lake_delete, 0 AS __lake_origin, 0 AS __lake_ord FROM hist h
         WHERE h.${q(SCD2_END)} IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM hist h2 WHERE ${keysMatch(keys, 'h', 'h2')} AND h2.${q(SCD2_START)} = h.${q(SCD2_END)})
       UNION ALL BY NAME
       SELECT ${list(data)}, ${q(seq)} AS __lake_seq, __lake_delete, 1 AS __lake_origin, __lake_ord FROM src`,
  );
  const prev = tracked.map((t, i) => `lag(${q(t)}) OVER w AS __lake_prev${i}`).join(', ');
  const same = tracked.length === 0 ? 'true' : tracked.map((t, i) => `${q(t)} IS NOT DISTINCT FROM __lake_prev${i}`).join(' AND ');
  await c.run(
    `CREATE TEMP TABLE kept AS SELECT * FROM (
       SELECT *, lag(__lake_delete) OVER w AS __lake_prev_del${prev ? `, ${prev}` : ''} FROM (
         SELECT * EXCLUDE (__lake_rn) FROM (
           SELECT *, row_number() OVER (PARTITION BY ${keyList}, __lake_seq ORDER BY __lake_origin, __lake_ord) AS __lake_rn FROM ev
         ) WHERE __lake_rn = 1
       ) WINDOW w AS (PARTITION BY ${keyList} ORDER BY __lake_seq)
     ) WHERE CASE WHEN __lake_delete THEN __lake_prev_del IS NOT NULL AND NOT __lake_prev_del
                  ELSE __lake_prev_del IS NULL OR __lake_prev_del OR NOT (${same}) END`,
  );
  await c.run(
    `CREATE TEMP TABLE newhist AS SELECT ${list(data)}, __lake_seq AS ${q(SCD2_START)},
        lead(__lake_seq) OVER w AS ${q(SCD2_END)}, lead(__lake_seq) OVER w IS NULL AS ${q(SCD2_CURRENT)}, __lake_delete, __lake_origin
     FROM kept WINDOW w AS (PARTITION BY ${keyList} ORDER BY __lake_seq)`,
  );
  const cols = list(columns.map((d) => d.name));
  const changed = await count(
    c,
    `SELECT count(*) AS n FROM (
       (SELECT ${cols} FROM hist EXCEPT ALL SELECT ${cols} FROM newhist WHERE NOT __lake_delete)
       UNION ALL
       (SELECT ${cols} FROM newhist WHERE NOT __lake_delete EXCEPT ALL SELECT ${cols} FROM hist))`,
  );
  if (changed === 0) {
    await c.run(`CREATE TEMP TABLE "out" AS SELECT ${cols} FROM tgt WHERE false`);
    return { out: 'out', rewrittenFiles: [], inserted: 0, updated: 0, deleted: 0 };
  }
  await c.run(
    `CREATE TEMP TABLE "out" AS
       SELECT ${cols} FROM tgt WHERE ${FILE_COLUMN} IN (SELECT ${FILE_COLUMN} FROM hist) AND __lake_trow NOT IN (SELECT __lake_trow FROM hist)
       UNION ALL
       SELECT ${cols} FROM newhist WHERE NOT __lake_delete`,
  );
  const files = await c.json(`SELECT DISTINCT ${FILE_COLUMN} AS file FROM hist`);
  const sameVersion = `${keysMatch(keys, 'n', 'h')} AND n.${q(SCD2_START)} = h.${q(SCD2_START)}`;
  return {
    out: 'out',
    rewrittenFiles: files.map((r) => String(r.file)),
    inserted: await count(c, `SELECT count(*) AS n FROM newhist n WHERE NOT n.__lake_delete AND NOT EXISTS (SELECT 1 FROM hist h WHERE ${sameVersion})`),
    updated: await count(
      c,
      `SELECT count(*) AS n FROM hist h WHERE EXISTS (SELECT 1 FROM newhist n WHERE ${sameVersion} AND NOT n.__lake_delete
         AND (n.${q(SCD2_END)} IS DISTINCT FROM h.${q(SCD2_END)} OR n.${q(SCD2_CURRENT)} IS DISTINCT FROM h.${q(SCD2_CURRENT)}))`,
    ),
    deleted: await count(c, `SELECT count(*) AS n FROM newhist WHERE __lake_delete AND __lake_origin = 1`),
  };
}
