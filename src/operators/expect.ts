/**
 * expect: a table's expectations (the source's, then the table's), checked in order on the
 * records that pass `where`. The first failing `drop`/`quarantine`/`fail` one decides: `drop`
 * counts and discards, `quarantine` leaves through `quarantine` to the dead-letter table
 * (stage `expectation`), `fail` stops the run before any table of the batch commits; `warn`
 * only counts. Evaluated by the lake as the table loads (a `unique` one compares the batch's
 * rows); records pass the record-level walk untouched.
 *
 * Spec fields it owns: `source.expectations` and `tables.<name>.expectations`.
 */
import type { ExpectationSpec } from '../spec/index.js';
import type { OperatorDefinition, OperatorNode } from './api.js';
import type { Expectation, ExpectationAction } from '../lake/types.js';
import { passThrough } from './derive.js';
import { field, nonEmpty, objectOf } from './schema-builder.js';

/** One expectation as the node carries it; `from: 'source'` when the source declared it. */
export interface ExpectationProp {
  name: string;
  /** The SQL boolean (absent for a `unique` one). */
  expr?: string;
  unique?: string[];
  action: ExpectationAction;
  from: 'source' | 'table';
}

/** The node's expectations, in the order they are checked. */
export function nodeExpectations(node: OperatorNode): ExpectationProp[] {
  return (node.props.expectations as ExpectationProp[] | undefined) ?? [];
}

/** The lake's form of an expectation (a `unique` one is described, not evaluated, by `sql`). */
export function lakeExpectation(e: ExpectationProp): Expectation {
  return e.unique !== undefined
    ? { name: e.name, sql: `unique (${e.unique.join(', ')})`, unique: [...e.unique], action: e.action }
    : { name: e.name, sql: e.expr ?? '', action: e.action };
}

/** One expectation. */
const expectation = objectOf<ExpectationSpec>(
  {
    description: 'A data-quality rule: a DuckDB SQL boolean over the record\'s columns (derived ones included). It holds only when true (false, NULL or an error fail it).',
    examples: [{ name: 'amount_non_negative', expr: 'amount >= 0', action: 'quarantine' }, { name: 'one_per_order', unique: ['order_id'], action: 'drop' }],
  },
  {
    name: field({ description: 'Name reported in counts, logs and dead-letter reasons; unique within its list.', examples: ['amount_non_negative'] }, { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' }),
    expr: field({ description: 'DuckDB SQL boolean expression. Exactly one of `expr` and `unique`.', examples: ['amount >= 0', 'email LIKE \'%@%\''] }, nonEmpty),
    unique: field(
      {
        description: 'Columns (derived ones included) that no two records of one batch may share for the table: the first record of each key, in the batch\'s input order, holds; each later one fails (a record with a NULL key column never does). Scoped to a batch: keys are not checked against earlier batches or the table. Action `warn`, `drop` or `quarantine`, not `fail`.',
        examples: [['order_id'], ['customer_id', 'day']],
      },
      { type: 'array', minItems: 1, items: nonEmpty },
    ),
    action: field(
      {
        description: '`warn` keeps the record and counts it; `drop` discards and counts it; `quarantine` sends it to the dead-letter table (stage `expectation`, the name in the reason); `fail` stops the run naming the record, and commits nothing of its batch.',
        default: 'warn',
        examples: ['warn', 'drop', 'quarantine', 'fail'],
      },
      { enum: ['warn', 'drop', 'quarantine', 'fail'] },
    ),
  },
  ['name'],
);
/** `expectations` at the source (every table) or at one table. */
const expectationsField = (scope: string) =>
  field(
    {
      description: `Data-quality rules ${scope}, checked in order; the first failing drop, quarantine or fail one decides a record's fate.`,
      examples: [[{ name: 'amount_non_negative', expr: 'amount >= 0', action: 'quarantine' }]],
    },
    { type: 'array', minItems: 1, items: expectation },
  );

/** A table's expectations, checked as the table loads. */
export const expectOperator: OperatorDefinition = {
  kind: 'expect',
  role: 'transform',
  summary: 'Checks the records of one table against named expectations (DuckDB SQL booleans, or `unique` keys within the batch): warn counts, drop discards, quarantine dead-letters, fail stops the batch before anything commits.',
  spec: {
    fields: {
      source: { expectations: expectationsField('for every table (before each table\'s own)') },
      'tables.<name>': { expectations: expectationsField('for this table (after the source\'s)') },
    },
  },
  ports: { quarantine: 'records failing a `quarantine` expectation, the expectation named in the reason' },
  failureStage: 'expectation',
  recordStage: passThrough,
  load: {
    step: 'expectation',
    add(node, load) {
      for (const e of nodeExpectations(node)) load.expectations.push(lakeExpectation(e));
    },
  },
  renderProps(props) {
    const list = (props.expectations as ExpectationProp[]).map((e) => `${e.name}: ${lakeExpectation(e).sql} (${e.action}${e.from === 'source' ? ', source' : ''})`);
    return { table: props.table, expectations: list };
  },
};
