/**
 * Data-aware review (`plan --lake`, `diff --lake`): reads the live tables and checkpoints of
 * the deployed spec and says, per table, what a spec change costs before it is deployed —
 * nothing, metadata only, a rewrite of N rows in M files, or N rows orphaned — and per stream
 * whether Kafka must be re-read and from where. Reads only.
 */
import type { Lake } from '../lake/index.js';
import type { SpecChange } from '../planner/changes.js';
import type { Plan } from './plan.js';
import { readCommittedPositions } from './checkpoint-positions.js';
import type { TopicOffsets } from './kafka-client.js';

/** What a change does to the data already in a table, from harmless to most costly. */
export type TableCost = 'none' | 'new' | 'metadata-only' | 'duplicates' | 'rewrite' | 'orphaned';
const RANK: TableCost[] = ['none', 'new', 'metadata-only', 'duplicates', 'rewrite', 'orphaned'];

/** One live table and what the change costs it. */
export interface TableImpact {
  table: string;
  exists: boolean;
  version: number;
  rows: number;
  files: number;
  bytes: number;
  cost: TableCost;
  /** Spec paths of the changes behind the cost. */
  because: string[];
}

/** One stream's committed positions and whether the change makes it read Kafka again. */
export interface StreamImpact {
  stream: number;
  /** Next offset per partition the checkpoint holds. */
  positions: Record<string, number>;
  /** Records the checkpoint has consumed (sum of positions). */
  consumed: number;
  reread: boolean;
  /** Where a re-read starts (`startingOffsets` of the new spec). */
  from?: string;
  /**
   * Offsets the stream would need that Kafka no longer holds, per partition `[from, until)`:
   * for a re-read from earliest, what retention deleted; otherwise unread records deleted
   * before the stream resumes. Empty when the broker was not asked.
   */
  lost: Record<string, [number, number]>;
  /** True when `lost` is not empty: deploying the change loses data. */
  dataLoss: boolean;
}

/** The live state of a pipeline's tables and streams, with the costs of a change. */
export interface LakeImpact {
  /** `output.path` as the deployed spec writes it. */
  outputPath: string;
  tables: TableImpact[];
  streams: StreamImpact[];
  /** Whether the broker's retention was consulted; when not, why. */
  retention: { checked: boolean; reason?: string };
}

/** The cost a single change puts on table `table` (of the deployed spec). */
function costOf(change: SpecChange, table: string, deadLetter: string): TableCost {
  const { path, impact, before, after } = change;
  if (path === 'output.path') return 'orphaned';
  if (path === 'deadLetter.table') return table === deadLetter ? 'orphaned' : 'none';
  if (path === `tables.${table}`) return after === null ? 'orphaned' : before === null ? 'new' : 'rewrite';
  if (!path.startsWith(`tables.${table}.`)) return 'none';
  if (impact === 'table') return 'rewrite';
  return impact === 'safe' ? 'metadata-only' : 'none';
}

/** Changes that make every stream start over from `startingOffsets` (a new checkpoint identity). */
const REREAD_PATHS = new Set(['name', 'source.kafka.topic', 'source.format', 'checkpoint.path']);

/** Rows, files and bytes of a table from its log's statistics (no data file is read). */
async function tableSize(lake: Lake, path: string): Promise<{ exists: boolean; version: number; rows: number; files: number; bytes: number }> {
  if (!(await lake.exists(path))) return { exists: false, version: -1, rows: 0, files: 0, bytes: 0 };
  const s = await lake.snapshot(path);
  return { exists: true, version: s.version, rows: s.files.reduce((n, f) => n + (f.stats?.numRecords ?? 0) - (f.deletedRows ?? 0), 0), files: s.files.length, bytes: s.files.reduce((n, f) => n + f.size, 0) };
}

/**
 * Reads the live tables and checkpoints of `deployed` and prices `changes` (empty for
 * `plan --lake`, which only shows the live state). `startingOffsets` is the new spec's.
 */
export async function lakeImpact(
  lake: Lake, deployed: Plan, changes: SpecChange[], startingOffsets = deployed.source.kafka?.startingOffsets ?? 'earliest', topic?: TopicOffsets | { unreachable: string },
): Promise<LakeImpact> {
  const offsets = topic && !('unreachable' in topic) ? topic : undefined;
  const tables: TableImpact[] = [];
  const rereadBy = changes.filter((c) => REREAD_PATHS.has(c.path));
  for (const { table, path, mode } of [...deployed.sinks, { ...deployed.deadLetter, mode: 'append' }]) {
    const size = await tableSize(lake, path);
    let cost: TableCost = 'none';
    const because: string[] = [];
    for (const c of changes) {
      // Records read again under new txn appIds are appended again; merged tables absorb them.
      const k = rereadBy.includes(c) ? (mode === 'append' && size.rows > 0 ? 'duplicates' : 'none') : costOf(c, table, deployed.deadLetter.table);
      if (k === 'none') continue;
      because.push(c.path);
      if (RANK.indexOf(k) > RANK.indexOf(cost)) cost = k;
    }
    tables.push({ table, ...size, cost, because });
  }
  const reread = rereadBy.length > 0;
  const streams = deployed.streams.map(({ index }) => {
    const positions = Object.fromEntries([...readCommittedPositions(deployed.checkpointPath, index)].sort(([a], [b]) => a - b).map(([p, o]) => [String(p), o]));
    const consumed = Object.values(positions).reduce((n, o) => n + o, 0);
    const again = reread && consumed > 0;
    const lost: Record<string, [number, number]> = {};
    for (const [p, low] of offsets?.low ?? []) {
      if (p % deployed.streams.length !== index) continue;
      const needed = again ? (startingOffsets === 'earliest' ? 0 : undefined) : positions[String(p)];
      if (needed !== undefined && needed < low) lost[String(p)] = [needed, low];
    }
    return { stream: index, positions, consumed, reread: again, ...(again ? { from: String(startingOffsets) } : {}), lost, dataLoss: Object.keys(lost).length > 0 };
  });
  const retention = offsets ? { checked: true } : { checked: false, reason: topic && 'unreachable' in topic ? `broker unreachable: ${topic.unreachable}` : 'broker not asked' };
  return { outputPath: deployed.spec.output.path, tables, streams, retention };
}

/** `1234567` -> `1,234,567`. */
const n = (x: number) => x.toLocaleString('en-US');

/** The impact as text lines for `plan --lake` / `diff --lake` (paths shown as given in the spec). */
export function renderLakeImpact(impact: LakeImpact, withCosts: boolean): string {
  const lines = [`Live tables (${impact.outputPath}):`];
  const width = Math.max(...impact.tables.map((t) => t.table.length));
  for (const t of impact.tables) {
    const size = t.exists ? `version ${t.version}, ${n(t.rows)} rows in ${n(t.files)} file${t.files === 1 ? '' : 's'}` : 'not written yet';
    let cost = '';
    if (withCosts) {
      const files = `${n(t.files)} file${t.files === 1 ? '' : 's'}`;
      if (t.cost === 'rewrite') cost = `rewrite ${n(t.rows)} rows / ${files}`;
      else if (t.cost === 'orphaned') cost = `orphaned: ${n(t.rows)} rows / ${files} no longer written`;
      else if (t.cost === 'new') cost = 'new table';
      else if (t.cost === 'duplicates') cost = `records read again are appended again: up to ${n(t.rows)} duplicate rows`;
      else if (t.cost === 'metadata-only') cost = 'metadata-only';
      else cost = 'unchanged';
      if (t.because.length > 0) cost += ` (${t.because.join(', ')})`;
    }
    lines.push(`  ${t.table.padEnd(width)}  ${size}${cost ? `  ->  ${cost}` : ''}`);
  }
  lines.push('Checkpoints:');
  for (const s of impact.streams) {
    const at = Object.entries(s.positions).map(([p, o]) => `p${p}@${o}`).join(' ') || 'no committed batch';
    const what = !withCosts ? '' : s.reread ? `  ->  re-read Kafka from ${s.from} (${n(s.consumed)} records already consumed)` : '  ->  resumes where it is';
    const loss = Object.entries(s.lost).map(([p, [f, u]]) => `p${p} [${f}, ${u})`).join(', ');
    lines.push(`  stream ${s.stream}  ${at}${what}${s.dataLoss ? `; DATA LOSS: ${loss} no longer in Kafka` : ''}`);
  }
  lines.push(impact.retention.checked ? 'Retention: checked against the broker' : 'Retention: not checked (broker not reachable)');
  return `${lines.join('\n')}\n`;
}
