/**
 * filter: a table's `where` (the source's and the table's, both must hold). Records for which
 * the predicate is not true (false, NULL, or an error on that record) are dropped and counted,
 * never dead-lettered. Evaluated by the lake as the table loads, after the derived columns, so
 * the predicate may use them; records pass the record-level walk untouched.
 */
import type { OperatorDefinition } from './api.js';
import { passThrough } from './derive.js';

/** A table's row filter, evaluated as the table loads. */
export const filter: OperatorDefinition = {
  kind: 'filter',
  role: 'transform',
  summary: 'Keeps the records of one table for which a DuckDB SQL predicate (`where`, source-level and table-level) is true; the others are counted drops.',
  spec: ['source.where', 'tables.<t>.where'],
  ports: {},
  recordStage: passThrough,
  load: {
    step: 'where',
    add(node, load) {
      load.where.push(String(node.props.where));
    },
  },
};
