/**
 * derive: computed columns of one table (`source.derive`, then the table's own `derive`).
 * The expressions are DuckDB SQL over the typed batch, so the node adds them to its table's
 * load and the lake evaluates them in the load's one statement; records pass through the
 * record-level walk untouched. A record on which an expression errors leaves through `error`
 * (dead letter, stage `derive`, the column and DuckDB's error); an expression the user wrote
 * with `TRY_CAST`/`TRY` yields NULL instead, which is theirs.
 *
 * Spec fields it owns: `source.derive` and `tables.<name>.derive`.
 */
import type { OperatorDefinition, OperatorNode, RecordStage } from './api.js';
import { field, mapOf, nonEmpty } from './schema-builder.js';

/** One computed column as the node carries it; `from: 'source'` when `source.derive` declared it. */
export interface DeriveColumnProp {
  column: string;
  sql: string;
  from: 'source' | 'table';
}

/** The node's computed columns, in the order they are computed. */
export function deriveColumns(node: OperatorNode): DeriveColumnProp[] {
  return (node.props.columns as DeriveColumnProp[] | undefined) ?? [];
}

/** A record-level stage that hands every record on unchanged: the load does the work. */
export function passThrough(): RecordStage {
  // One result object for the batch: the walk reads it before the next call.
  const out: { port: string; value?: unknown } = { port: 'out' };
  return {
    process(value) {
      out.value = value;
      return out;
    },
  };
}

/** `derive` at the source (every table) or at one table. */
const deriveField = (scope: string) =>
  mapOf(
    {
      description: `Computed columns ${scope}: name -> DuckDB SQL expression over the record's columns and the derived columns listed before it. Usable in partitionBy, mergeKeys and sequenceBy (the table records such expressions: changing one later stops the run, PIPE_LAKE_LAYOUT_CHANGED, until \`--allow-layout-change\` computes the keys again). An expression that errors on a record (a cast that fails) dead-letters that record (stage \`derive\`); write \`TRY_CAST\`/\`TRY\` to get NULL instead. A NULL derived merge key or sequence dead-letters its record.`,
      examples: [{ event_date: 'CAST(event_time AS DATE)' }],
    },
    field({ description: 'A DuckDB SQL expression.', examples: ['CAST(event_time AS DATE)', "lower(country)"] }, nonEmpty),
    nonEmpty,
  );

/** Computed columns, evaluated as the table loads. */
export const derive: OperatorDefinition = {
  kind: 'derive',
  role: 'transform',
  summary: 'Computes columns of one table from DuckDB SQL expressions over the record\'s typed columns (source-level ones first), evaluated as the table loads.',
  spec: {
    fields: {
      source: { derive: deriveField('of every table (computed before each table\'s own `derive`)') },
      'tables.<name>': { derive: deriveField('of this table (after the source\'s)') },
    },
  },
  ports: { error: 'records on which an expression errors (e.g. a cast that fails), with the column and DuckDB\'s error' },
  failureStage: 'derive',
  recordStage: passThrough,
  load: {
    step: 'derive',
    add(node, load) {
      for (const c of deriveColumns(node)) load.derive.push({ column: c.column, sql: c.sql });
    },
  },
  renderProps(props) {
    const columns = (props.columns as DeriveColumnProp[]).map((c) => [c.from === 'source' ? `${c.column} (source)` : c.column, c.sql]);
    return { table: props.table, columns: Object.fromEntries(columns) };
  },
};
