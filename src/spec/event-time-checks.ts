/**
 * Checks of the event-time parts of a spec: aggregations need a watermark, read declared
 * tables, have windows whose slide divides their size, and write to a directory of their
 * own. Measures are checked with DuckDB by the planner (check-measures.ts). Tolerates data
 * that failed the schema.
 */
import type { Code } from './codes.js';
import { isDuration, parseDuration } from './duration.js';
import { deadLetterTableOf } from './source-checks.js';
import { didYouMean } from './suggest.js';
import type { SpecPath } from './yaml-tree.js';

type Obj = Record<string, unknown>;
type Reporter = (code: Code, path: SpecPath, params: Record<string, string | number>, hint?: string) => void;

/** Columns a window table derives from `window_start` that it may be partitioned by. */
const WINDOW_PARTITION_COLUMNS = ['window_date', 'window_hour'];

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Runs the event-time checks over (possibly schema-invalid) spec data. */
export function checkEventTime(data: Obj, keyAt: Reporter, valueAt: Reporter): void {
  const aggregations = data.aggregations;
  if (!isObj(aggregations)) return;
  const tables = isObj(data.tables) ? Object.keys(data.tables) : [];
  const taken = new Map(tables.map((t) => [t.toLowerCase(), t]));
  const deadLetter = deadLetterTableOf(data);
  taken.set(deadLetter.toLowerCase(), deadLetter);

  for (const [name, agg] of Object.entries(aggregations)) {
    if (!isObj(agg)) continue;
    const base = ['aggregations', name];
    if (!isObj(data.watermark)) {
      keyAt('PIPE0062', base, { name }, 'add `watermark: { column: event_time, delay: 1m }`: windows are on event time');
    }
    const other = taken.get(name.toLowerCase());
    if (other !== undefined) keyAt('PIPE0045', base, { first: other, second: name }, 'give the aggregation its own name; it writes its own table');
    else taken.set(name.toLowerCase(), name);

    strings(agg.from).forEach((table, i) => {
      if (!tables.includes(table)) valueAt('PIPE0064', [...base, 'from', String(i)], { name, table }, didYouMean(table, tables) ?? 'name a table defined under `tables`');
    });

    const window = agg.window;
    if (isObj(window) && typeof window.size === 'string' && isDuration(window.size)) {
      const size = parseDuration(window.size);
      const slide = typeof window.slide === 'string' && isDuration(window.slide) ? parseDuration(window.slide) : undefined;
      if (size === 0) valueAt('PIPE0065', [...base, 'window', 'size'], { name, detail: 'the size must be longer than 0ms' });
      if (window.type === 'tumbling' && window.slide !== undefined) {
        keyAt('PIPE0065', [...base, 'window', 'slide'], { name, detail: 'a tumbling window has no `slide`' }, 'remove `slide`, or use `type: sliding`');
      }
      if (window.type === 'sliding') {
        if (window.slide === undefined) keyAt('PIPE0065', [...base, 'window'], { name, detail: 'a sliding window needs `slide`' }, 'add e.g. `slide: 30s`');
        else if (slide !== undefined && (slide === 0 || size % slide !== 0)) {
          valueAt('PIPE0065', [...base, 'window', 'slide'], { name, detail: `\`slide\` (${window.slide}) must be longer than 0ms and divide \`size\` (${window.size})` });
        }
      }
    }

    const groups = strings(agg.groupBy);
    const measures = isObj(agg.measures) ? Object.keys(agg.measures) : [];
    const reserved = ['window_start', 'window_end', ...WINDOW_PARTITION_COLUMNS];
    for (const column of [...groups, ...measures]) {
      if (reserved.includes(column.toLowerCase()) || column.startsWith('__')) {
        keyAt('PIPE0066', [...base, groups.includes(column) ? 'groupBy' : 'measures'], { name, detail: `\`${column}\` is a column the window table writes itself` }, 'choose another name');
      }
    }
    for (const column of measures.filter((m) => groups.some((g) => g.toLowerCase() === m.toLowerCase()))) {
      keyAt('PIPE0066', [...base, 'measures', column], { name, detail: `measure \`${column}\` has the name of a group key` }, 'choose another name');
    }
    strings(agg.partitionBy).forEach((column, i) => {
      if (!groups.includes(column) && !WINDOW_PARTITION_COLUMNS.includes(column)) {
        valueAt('PIPE0066', [...base, 'partitionBy', String(i)], { name, detail: `cannot partition by \`${column}\`` }, 'partition by a group key, `window_date` or `window_hour`');
      }
    });
  }
}

