/**
 * filter: a table's `where` (the source's and the table's, both must hold). Records for which
 * the predicate is not true (false, NULL, or an error on that record) are dropped and counted,
 * never dead-lettered. Evaluated by the lake as the table loads, after the derived columns, so
 * the predicate may use them; records pass the record-level walk untouched.
 *
 * Spec fields it owns: `source.where` and `tables.<name>.where`.
 */
import type { OperatorDefinition } from './api.js';
import { passThrough } from './derive.js';
import { field, nonEmpty } from './schema-builder.js';

/** `where` at the source (every table) or at one table. */
const whereField = (scope: string) =>
  field(
    {
      description: `SQL predicate over the record's columns (derived ones included) ${scope}; records for which it is not true are dropped and counted (not dead-lettered).`,
      examples: ["status <> 'test'"],
    },
    nonEmpty,
  );

/** A table's row filter, evaluated as the table loads. */
export const filter: OperatorDefinition = {
  kind: 'filter',
  role: 'transform',
  summary: 'Keeps the records of one table for which a DuckDB SQL predicate (`where`, source-level and table-level) is true; the others are counted drops.',
  spec: {
    fields: {
      source: { where: whereField('that every record must meet to reach its table (applied with each table\'s own `where`)') },
      'tables.<name>': { where: whereField('that a record must meet to be written to this table') },
    },
  },
  ports: {},
  recordStage: passThrough,
  load: {
    step: 'where',
    add(node, load) {
      load.where.push(String(node.props.where));
    },
  },
};
