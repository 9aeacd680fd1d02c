/**
 * What a SQL expression (a `deleteWhen` predicate, later expectations and measures) says,
 * learned from DuckDB's own parser (`json_serialize_sql`) rather than from patterns: whether
 * it parses, where it fails, and which columns it names.
 */
import type { Conn } from './duck.js';
import { quoteLiteral } from './schema.js';

/** The outcome of parsing one expression. */
export type ParsedSql =
  | { ok: true; columns: string[] }
  | { ok: false; message: string; /** 0-based offset into the expression, when DuckDB gives one. */ offset?: number };

const PREFIX = 'SELECT * FROM t WHERE ';

/** Parses `expr` as a boolean expression (a WHERE clause). */
export async function parseSqlExpression(c: Conn, expr: string): Promise<ParsedSql> {
  // A statement separator or comment would let the fragment escape its WHERE clause.
  if (/;|--|\/\*/.test(expr)) return { ok: false, message: 'an expression may not contain ";" or comments' };
  const [row] = await c.json(`SELECT json_serialize_sql(${quoteLiteral(PREFIX + expr)}) AS j`);
  const parsed = JSON.parse(String(row!.j)) as { error: boolean; error_message?: string; position?: string; statements?: unknown[] };
  if (parsed.error) {
    const position = parsed.position === undefined ? undefined : Number(parsed.position) - PREFIX.length;
    return { ok: false, message: parsed.error_message ?? 'does not parse', ...(position !== undefined && position >= 0 ? { offset: position } : {}) };
  }
  if ((parsed.statements?.length ?? 0) !== 1) return { ok: false, message: 'must be a single expression' };
  const columns = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const n = node as Record<string, unknown>;
      if (n.class === 'COLUMN_REF' && Array.isArray(n.column_names) && n.column_names.length > 0) columns.add(String(n.column_names[0]));
      for (const v of Object.values(n)) walk(v);
    }
  };
  walk((parsed.statements![0] as { node: { where_clause: unknown } }).node.where_clause);
  return { ok: true, columns: [...columns] };
}

/** The columns `expr` names (empty when it does not parse: the caller's own use reports that). */
export async function sqlColumnRefs(c: Conn, expr: string): Promise<string[]> {
  const parsed = await parseSqlExpression(c, expr);
  return parsed.ok ? parsed.columns : [];
}
