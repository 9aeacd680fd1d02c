/**
 * What each table's load runs, read from the plan's nodes: the load-time operators on the
 * path from route to the table's sink (derive, filter, expect), in edge order, each adding
 * its part through its definition. The plan is the program: a sink's configuration never
 * carries these itself, so the runtime cannot run something the plan does not show.
 *
 * The same nodes turn a load's outcome (rows the lake left out, each naming its step) into
 * per-operator counters: rows in, rows out, dropped, dead-lettered.
 */
import { PipelineError } from '../errors.js';
import { operatorFor } from '../operators/index.js';
import type { FailureStage, OperatorCount, TableLoad } from '../operators/api.js';
import { REJECT_STEPS, type RejectedRow } from '../lake/types.js';
import type { Plan, PlanNode, SinkPlan } from './plan.js';

/** The load-time nodes feeding `sinkId`, in the order the load applies them. */
export function loadNodesOf(plan: Plan, sinkId: string): PlanNode[] {
  const byId = new Map(plan.nodes.map((n) => [n.id, n]));
  const chain: PlanNode[] = [];
  for (let at = sinkId; ;) {
    const edge = plan.edges.find((e) => e.to === at && e.port === undefined && operatorFor(byId.get(e.from)!.kind).load !== undefined);
    if (!edge) break;
    const node = byId.get(edge.from)!;
    if (chain.includes(node)) break;
    chain.unshift(node);
    at = node.id;
  }
  return chain;
}

/**
 * The table's load program from its nodes. The lake applies its steps in one fixed order
 * (computed columns, the filter, expectations), so a plan whose nodes run in another order
 * is refused rather than run differently from how it reads.
 */
export function tableLoad(nodes: PlanNode[]): TableLoad {
  const load: TableLoad = { derive: [], where: [], expectations: [] };
  let last = -1;
  for (const node of nodes) {
    const def = operatorFor(node.kind).load!;
    const at = REJECT_STEPS.indexOf(def.step);
    if (at < last) {
      throw new PipelineError('PIPE_RUN_PLAN', `node ${node.id} (${node.kind}) comes after a node its table's load applies later`, {
        hint: 'a table\'s load runs derive, then filter, then expect: compile the plan from the spec again',
      });
    }
    last = at;
    def.add(node, load);
  }
  return load;
}

/** A sink with the load program of its plan nodes (what the lake's write options take). */
export function withLoad(sink: SinkPlan, nodes: PlanNode[]): SinkPlan {
  const { derive, where, expectations } = tableLoad(nodes);
  const out: SinkPlan = { ...sink };
  delete out.derive;
  delete out.where;
  delete out.expectations;
  if (derive.length > 0) out.derive = derive;
  if (where.length > 0) out.where = where.length === 1 ? where[0]! : where.map((w) => `(${w})`).join(' AND ');
  if (expectations.length > 0) out.expectations = expectations;
  return out;
}

/** One table's sink as the runtime writes it, with the nodes that feed it. */
export interface TableProgram {
  sink: SinkPlan;
  nodes: PlanNode[];
}

/** Every table of the plan with its load program, by table name. */
export function tablePrograms(plan: Plan): Map<string, TableProgram> {
  return new Map(plan.sinks.map((s) => {
    const nodes = loadNodesOf(plan, s.id);
    return [s.table, { sink: withLoad(s, nodes), nodes }];
  }));
}

/** The dead-letter stage of a row the load left out: its operator's, else the sink's. */
export function rejectedStage(program: TableProgram, row: RejectedRow): FailureStage {
  const node = program.nodes.find((n) => operatorFor(n.kind).load!.step === row.step);
  if (node) return operatorFor(node.kind).failureStage ?? 'sink';
  return row.expectation ? 'expectation' : 'sink';
}

/**
 * Each load-time node's counters for one table of a batch: `loaded` rows entered the load,
 * and each step (in the lake's order) takes its left-out rows from those reaching it; steps no
 * node owns (a derived value the table cannot take) are the sink's checks.
 */
export function operatorCounts(program: TableProgram, loaded: number, rejected: RejectedRow[]): OperatorCount[] {
  const counts: OperatorCount[] = [];
  // Rows whose loaded values failed (no step) never reach the first node.
  let reaching = loaded - rejected.filter((r) => r.step === undefined).length;
  for (const step of REJECT_STEPS) {
    const mine = rejected.filter((r) => r.step === step);
    const node = program.nodes.find((n) => operatorFor(n.kind).load!.step === step);
    if (node) {
      const dropped = mine.filter((r) => r.dropped).length;
      counts.push({ node: node.id, kind: node.kind, table: program.sink.table, in: reaching, out: reaching - mine.length, dropped, deadLettered: mine.length - dropped });
    }
    reaching -= mine.length;
  }
  return counts;
}
