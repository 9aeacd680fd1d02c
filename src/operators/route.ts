/**
 * route: picks a record's table from a top-level field (`routing.field`) through
 * `routing.routes`. Records without a usable routing value are failures; values that match no
 * route are dead-lettered or dropped per `routing.unmatched`.
 *
 * Spec field it owns: `routing`.
 */
import { jsonTypeOf } from './decode-json.js';
import type { DecodedRecord, OperatorDefinition, RoutingRules } from './api.js';
import type { RoutingSpec } from '../spec/index.js';
import { field, mapOf, nonEmpty, objectOf } from './schema-builder.js';

/** Where a record goes. */
export type RouteDecision =
  | { kind: 'table'; table: string }
  | { kind: 'failure'; error: string }
  | { kind: 'drop' };

/** Decides the table of one decoded record. */
export function routeRecord(record: Record<string, unknown>, rules: RoutingRules): RouteDecision {
  const value = record[rules.field];
  if (value === undefined) return { kind: 'failure', error: `routing field '${rules.field}' is missing` };
  if (typeof value !== 'string') {
    return { kind: 'failure', error: `routing field '${rules.field}' must be a string (got ${jsonTypeOf(value)})` };
  }
  const table = Object.prototype.hasOwnProperty.call(rules.routes, value) ? rules.routes[value] : undefined;
  if (table !== undefined) return { kind: 'table', table };
  if (rules.unmatched === 'drop') return { kind: 'drop' };
  return { kind: 'failure', error: `no route for ${rules.field}='${truncate(value, 200)}'` };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** `routing`: the field, its routes and what happens to the rest. */
const routing = objectOf<RoutingSpec>(
  {
    description: 'Routes each record to a table by the value of one top-level field.',
    examples: [{ field: 'event_type', routes: { orders: 'orders', users: 'users' }, unmatched: 'dead_letter' }],
  },
  {
    field: field({ description: 'Top-level record field whose value selects the route.', examples: ['event_type'] }, nonEmpty),
    routes: mapOf(
      { description: 'Field value -> table name. Several values may share a table; every target must be defined under `tables`.', examples: [{ orders: 'orders', order_created: 'orders' }] },
      field({ description: 'Name of a table defined under `tables`.', examples: ['orders'] }, nonEmpty),
      undefined,
      1,
    ),
    unmatched: field(
      {
        description: 'Records whose field matches no route: `dead_letter` writes them to the dead-letter table, `drop` discards them.',
        default: 'dead_letter',
        examples: ['dead_letter', 'drop'],
      },
      { enum: ['dead_letter', 'drop'] },
    ),
  },
  ['field', 'routes'],
);

/** The router: a record leaves by the port named by its routing value. */
export const route: OperatorDefinition = {
  kind: 'route',
  role: 'router',
  summary: 'Sends each record to a table by the value of one top-level field.',
  spec: { fields: { root: { routing } } },
  ports: { '<value>': 'records whose routing field holds the value', unmatched: 'values with no route (when unmatched: dead_letter)', error: 'routing field missing or not a string' },
  failureStage: 'route',
  recordStage(node) {
    const rules: RoutingRules = { field: String(node.props.field), routes: node.props.routes as Record<string, string>, unmatched: node.props.unmatched as RoutingRules['unmatched'] };
    return {
      process(input) {
        const record = input as DecodedRecord;
        const decision = routeRecord(record.fields, rules);
        if (decision.kind === 'drop') return { drop: true };
        if (decision.kind === 'failure') return { port: decision.error.startsWith('no route') ? 'unmatched' : 'error', error: decision.error, value: record };
        return { port: record.fields[rules.field] as string, value: record };
      },
    };
  },
};
