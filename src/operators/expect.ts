/**
 * expect: a table's expectations (the source's, then the table's), checked in order on the
 * records that pass `where`. The first failing `drop`/`quarantine`/`fail` one decides: `drop`
 * counts and discards, `quarantine` leaves through `quarantine` to the dead-letter table
 * (stage `expectation`), `fail` stops the run before any table of the batch commits; `warn`
 * only counts. Evaluated by the lake as the table loads (a `unique` one compares the batch's
 * rows); records pass the record-level walk untouched.
 */
import type { OperatorDefinition, OperatorNode } from './api.js';
import type { Expectation, ExpectationAction } from '../lake/types.js';
import { passThrough } from './derive.js';

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

/** A table's expectations, checked as the table loads. */
export const expectOperator: OperatorDefinition = {
  kind: 'expect',
  role: 'transform',
  summary: 'Checks the records of one table against named expectations (DuckDB SQL booleans, or `unique` keys within the batch): warn counts, drop discards, quarantine dead-letters, fail stops the batch before anything commits.',
  spec: ['source.expectations', 'tables.<t>.expectations'],
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
