/**
 * `pipeline table <show|history|head|compact|vacuum> <table-path>`: look into a Delta table
 * and keep it tidy without a notebook. Exit codes: 0 ok, 1 not a Delta table or the
 * operation failed (one line on stderr), 2 usage error.
 */
import type { Command } from '../main.js';
import { parseCommandArgs } from '../args.js';
import { LakeError, UsageError } from '../../errors.js';
import { parseDuration } from '../../spec/index.js';
import type { Duck } from '../../lake/duck.js';
import type { CompactResult } from '../../lake/compact.js';
import type { TableSummary } from '../../lake/inspect.js';
import type { VacuumResult } from '../../lake/vacuum.js';
import type { CommitSummary } from '../../lake/types.js';

/** The lake modules, loaded only once the arguments are valid: DuckDB's native module is slow to load. */
async function lakeModules() {
  const [duck, compact, inspect, lake, vacuum] = await Promise.all([
    import('../../lake/duck.js'), import('../../lake/compact.js'), import('../../lake/inspect.js'), import('../../lake/lake.js'), import('../../lake/vacuum.js'),
  ]);
  return { ...duck, ...compact, ...inspect, ...lake, ...vacuum };
}

type LakeModules = Awaited<ReturnType<typeof lakeModules>>;

/** Defaults quoted in the help text; a test checks them against the lake's constants. */
export const HELP_DEFAULTS = { compactTargetSizeMB: 128, vacuumMinRetentionHours: 1 };

const EXIT = 'Exit codes: 0 ok, 1 not a Delta table or the operation failed, 2 usage error.';

/** The usage text of `pipeline table` (key `''`) and of each subcommand (the reference docs print them). */
export const usages: Record<string, string> = {
  '': `Usage: pipeline table <command> <table-path> [options]

Inspects and maintains a Delta table.

Commands:
  show      Version, files, records, size, schema, partition columns, txn versions
  history   One line per commit: version, time, operation, metrics
  head      The first rows as an aligned text table
  compact   Rewrite small files into files near a target size (OPTIMIZE)
  vacuum    Delete data files the table no longer references, after a retention period

Run \`pipeline table <command> --help\` for a command's options.
${EXIT}`,
  show: `Usage: pipeline table show <table-path> [--format text|json]

Prints the table's version, number of live files, number of records, size in bytes, schema
(name, type, nullable), partition columns, and the latest txn version per appId.

Options:
  --format text|json  Output format (default text). JSON keys: version, numFiles, numRecords,
                      sizeBytes, schema, partitionColumns, txns
  -h, --help          Show this help

${EXIT}`,
  history: `Usage: pipeline table history <table-path> [--format text|json] [--limit N]

Prints one line per commit still in the log, newest first: version, timestamp, operation
and the operation's metrics.

Options:
  --format text|json  Output format (default text)
  --limit N           Show only the newest N commits
  -h, --help          Show this help

${EXIT}`,
  head: `Usage: pipeline table head <table-path> [-n 20]

Prints the first rows of the table's latest version as an aligned text table.

Options:
  -n, --rows N  Rows to print (default 20)
  -h, --help    Show this help

${EXIT}`,
  compact: `Usage: pipeline table compact <table-path> [--target-size 128MB] [--sort-by a,b] [--dry-run]

Rewrites, per partition, the files smaller than the target size into files near it, as one
OPTIMIZE commit (remove + add with dataChange=false). Rows are unchanged. Files are sorted by
the table's merge keys (read from its MERGE commits) so merge pruning stays effective.
Safe while writers run: if one rewrites a file being compacted, compaction re-plans (3 tries).

Options:
  --target-size SIZE  Target file size: bytes or KB/MB/GB (1024-based); default the table's
                      delta.targetFileSize, else ${HELP_DEFAULTS.compactTargetSizeMB}MB
  --sort-by a,b       Sort rewritten files by these columns instead of the merge keys
  --dry-run           Show the files that would be rewritten; change nothing
  --format text|json  Output format (default text)
  -h, --help          Show this help

${EXIT}`,
  vacuum: `Usage: pipeline table vacuum <table-path> [--retain 7d] [--dry-run] [--force]

Deletes data files the latest version does not reference and that are older than the
retention: files removed by commits (by their deletion time) and stray files no commit ever
added, e.g. left by a crashed writer (by their modification time). Never deletes _delta_log
or a live file.

Options:
  --retain DURATION   Keep files younger than this: <number><ms|s|m|h|d> (default: the table's
                      delta.deletedFileRetentionDuration, else 7d)
  --force             Allow a retention below ${HELP_DEFAULTS.vacuumMinRetentionHours}h (only when no reader or writer uses the table)
  --dry-run           List the files that would be deleted; delete nothing
  --format text|json  Output format (default text)
  -h, --help          Show this help

${EXIT}`,
};

const SUBCOMMANDS = ['show', 'history', 'head', 'compact', 'vacuum'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];
const isSubcommand = (s: string | undefined): s is Subcommand => (SUBCOMMANDS as readonly string[]).includes(s ?? '');

/** Human size: `4.6 KiB`. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[i]}`;
}

/** Parses `128MB`, `1.5GB`, `512KiB`, `4096` (bytes) into bytes; KB/MB/GB are 1024-based. */
export function parseByteSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|k|mb|mib|m|gb|gib|g|tb|tib|t)?$/i.exec(text.trim());
  if (!m) throw new UsageError('PIPE_CLI_USAGE', `invalid size '${text}'; use bytes or <number>KB|MB|GB, e.g. 128MB`);
  const power = { b: 0, k: 1, m: 2, g: 3, t: 4 }[(m[2] ?? 'b')[0]!.toLowerCase() as 'b'];
  const bytes = Math.floor(Number(m[1]) * 1024 ** power);
  if (bytes < 1) throw new UsageError('PIPE_CLI_USAGE', `size '${text}' must be at least 1 byte`);
  return bytes;
}

function parseFormat(value: unknown): 'text' | 'json' {
  if (value !== 'text' && value !== 'json') throw new UsageError('PIPE_CLI_USAGE', `unknown --format '${String(value)}'; use text or json`);
  return value;
}

function parseCount(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError('PIPE_CLI_USAGE', `${flag} must be a whole number, got '${value}'`);
  return Number(value);
}

/** Aligns rows of cells into columns; `right[i]` right-aligns column i. */
function alignColumns(rows: string[][], right: boolean[] = []): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 && !right[i] ? cell : right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

const MAX_CELL = 40;

/** One value as a table cell: NULL, JSON for nested values, hex for bytes, escaped control characters. */
export function formatCell(v: unknown): string {
  let s: string;
  if (v === null || v === undefined) s = 'NULL';
  else if (Buffer.isBuffer(v)) s = `\\x${v.toString('hex')}`;
  else if (typeof v === 'object') s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  else s = String(v);
  s = s.replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r');
  return s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s;
}

const NUMERIC = /^(byte|short|integer|long|float|double|decimal)/;

function renderSummary(tablePath: string, s: TableSummary): string {
  const lines = alignColumns([
    ['Table', tablePath],
    ['Version', String(s.version)],
    ['Files', String(s.numFiles)],
    ['Records', s.numRecords === null ? 'unknown (files without row counts in the log cannot be read)' : String(s.numRecords)],
    ['Size', s.sizeBytes < 1024 ? `${s.sizeBytes} bytes` : `${formatBytes(s.sizeBytes)} (${s.sizeBytes} bytes)`],
    ['Partitioned by', s.partitionColumns.length > 0 ? s.partitionColumns.join(', ') : '(not partitioned)'],
  ]);
  lines.push('Schema');
  lines.push(...alignColumns(s.schema.map((c) => [c.name, c.type, c.nullable ? 'nullable' : 'not null'])).map((l) => `  ${l}`));
  if (s.partitions) {
    lines.push(`Partitions (${s.partitions.length})`);
    const rows = s.partitions.map((p) => [partitionLabel(p.values), `${p.files} files`, `${p.records ?? 'unknown'} rows`]);
    lines.push(...alignColumns(rows, [false, true, true]).map((l) => `  ${l}`));
  }
  const txns = Object.entries(s.txns);
  lines.push(txns.length > 0 ? 'Txns (appId, version)' : 'Txns (none)');
  lines.push(...alignColumns(txns.map(([appId, v]) => [appId, String(v)]), [false, true]).map((l) => `  ${l}`));
  return lines.join('\n');
}

function renderHistory(commits: CommitSummary[]): string {
  const metrics = (m: Record<string, unknown> | undefined) =>
    Object.entries(m ?? {}).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
  const rows = commits.map((c) => [String(c.version), c.timestamp > 0 ? new Date(c.timestamp).toISOString() : '-', c.operation, metrics(c.operationMetrics)]);
  return alignColumns([['VERSION', 'TIMESTAMP', 'OPERATION', 'METRICS'], ...rows], [true]).join('\n');
}

function renderHead(rows: Record<string, unknown>[], summary: TableSummary): string {
  const names = summary.schema.map((c) => c.name);
  const right = summary.schema.map((c) => NUMERIC.test(c.type));
  const cells = rows.map((r) => names.map((n) => formatCell(r[n])));
  const widths = names.map((n, i) => Math.max(n.length, ...cells.map((r) => r[i]!.length)));
  const lines = alignColumns([names, widths.map((w) => '-'.repeat(w)), ...cells], right);
  lines.push(`(${rows.length} of ${summary.numRecords ?? 'unknown'} rows, version ${summary.version})`);
  return lines.join('\n');
}

function partitionLabel(pv: Record<string, string | null>): string {
  const parts = Object.entries(pv).map(([k, v]) => `${k}=${v ?? 'null'}`);
  return parts.length > 0 ? parts.join('/') : '(table)';
}

function renderCompact(r: CompactResult): string {
  const sorted = r.sortBy.length > 0 ? `sorted by ${r.sortBy.join(', ')}` : 'file order kept';
  if (r.status === 'nothing-to-do') return `Nothing to compact at version ${r.version}: no partition has two files smaller than ${formatBytes(r.targetSize)}.`;
  const head = r.status === 'dry-run'
    ? `Would compact ${r.filesRemoved} files (${formatBytes(r.bytesRemoved)}) in ${r.bins.length} bins, target ${formatBytes(r.targetSize)}, ${sorted} (version ${r.readVersion}):`
    : `Compacted ${r.filesRemoved} files (${formatBytes(r.bytesRemoved)}) into ${r.filesAdded} files (${formatBytes(r.bytesAdded)}) at version ${r.version}, ${sorted}.`;
  const bins = alignColumns(r.bins.map((b) => [partitionLabel(b.partitionValues), `${b.files.length} files`, formatBytes(b.bytes)]), [false, true, true]);
  return [head, ...bins.map((l) => `  ${l}`)].join('\n');
}

function renderVacuum(r: VacuumResult, retain: string): string {
  const total = r.files.reduce((s, f) => s + f.size, 0);
  const head = r.dryRun
    ? `Would delete ${r.files.length} files (${formatBytes(total)}) not referenced by version ${r.version} and older than ${retain}:`
    : `Deleted ${r.filesDeleted} files (${formatBytes(r.bytesDeleted)}) not referenced by version ${r.version} and older than ${retain}.`;
  const rows = alignColumns(r.files.map((f) => [f.reason, f.path, formatBytes(f.size), new Date(f.since).toISOString()]), [false, false, true]);
  const kept = `Kept ${r.liveFilesKept} live files and ${r.recentFilesKept} unreferenced files younger than ${retain}.`;
  return [head, ...rows.map((l) => `  ${l}`), kept].join('\n');
}

/** The one table path positional, or a usage error. */
function tablePathOf(positionals: string[], sub: string): string {
  if (positionals.length === 0) throw new UsageError('PIPE_CLI_USAGE', `table ${sub} needs a table path`);
  if (positionals.length > 1) throw new UsageError('PIPE_CLI_USAGE', `table ${sub} takes one table path, got ${positionals.length}: ${positionals.join(' ')}`);
  return positionals[0]!;
}

function notATable(tablePath: string): LakeError {
  return new LakeError('PIPE_LAKE_NO_TABLE', `${tablePath} is not a Delta table (no _delta_log commits)`, { hint: 'check the path; a table has a _delta_log folder' });
}

async function withDuck<T>(fn: (duck: Duck, lake: LakeModules) => Promise<T>): Promise<T> {
  const modules = await lakeModules();
  const duck = await modules.Duck.create({ threads: 2 });
  try {
    return await fn(duck, modules);
  } finally {
    duck.close();
  }
}

const print = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);

async function runSubcommand(sub: Subcommand, argv: string[]): Promise<number> {
  const format = { format: { type: 'string', default: 'text' } } as const;
  switch (sub) {
    case 'show': {
      const { values, positionals } = parseCommandArgs(argv, format);
      const fmt = parseFormat(values.format);
      const tablePath = tablePathOf(positionals, sub);
      const summary = await withDuck(async (duck, m) => m.summarizeState(duck, await m.requireState(duck, tablePath)));
      print(fmt === 'json' ? JSON.stringify(summary, null, 2) : renderSummary(tablePath, summary));
      return 0;
    }
    case 'history': {
      const { values, positionals } = parseCommandArgs(argv, { ...format, limit: { type: 'string' } });
      const fmt = parseFormat(values.format);
      const limit = parseCount(values.limit, '--limit');
      const tablePath = tablePathOf(positionals, sub);
      const lake = await (await lakeModules()).Lake.create({ threads: 1 });
      let commits: CommitSummary[];
      try {
        if (!(await lake.exists(tablePath))) throw notATable(tablePath);
        commits = await lake.history(tablePath, limit === undefined ? {} : { limit });
      } finally {
        lake.close();
      }
      print(fmt === 'json' ? JSON.stringify(commits, null, 2) : renderHistory(commits));
      return 0;
    }
    case 'head': {
      const { values, positionals } = parseCommandArgs(argv, { rows: { type: 'string', short: 'n', default: '20' } });
      const n = parseCount(values.rows, '-n')!;
      const tablePath = tablePathOf(positionals, sub);
      const text = await withDuck(async (duck, m) => {
        const state = await m.requireState(duck, tablePath);
        return renderHead(await m.headRows(duck, state, n), await m.summarizeState(duck, state));
      });
      print(text);
      return 0;
    }
    case 'compact': {
      const { values, positionals } = parseCommandArgs(argv, {
        ...format, 'target-size': { type: 'string' }, 'sort-by': { type: 'string' }, 'dry-run': { type: 'boolean', default: false },
      });
      const fmt = parseFormat(values.format);
      const targetSize = values['target-size'] === undefined ? undefined : parseByteSize(values['target-size']);
      const sortBy = values['sort-by']?.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const tablePath = tablePathOf(positionals, sub);
      const result = await withDuck(async (duck, m) => {
        await m.requireState(duck, tablePath);
        return m.compactTable(tablePath, { duck, dryRun: values['dry-run'], ...(targetSize ? { targetSize } : {}), ...(sortBy ? { sortBy } : {}) });
      });
      print(fmt === 'json' ? JSON.stringify(result, null, 2) : renderCompact(result));
      return 0;
    }
    case 'vacuum': {
      const { values, positionals } = parseCommandArgs(argv, {
        ...format, retain: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, force: { type: 'boolean', default: false },
      });
      const fmt = parseFormat(values.format);
      let retentionMs: number | undefined;
      if (values.retain !== undefined) {
        try {
          retentionMs = parseDuration(values.retain);
        } catch {
          throw new UsageError('PIPE_CLI_USAGE', `invalid --retain '${values.retain}'; use <number><ms|s|m|h|d>, e.g. 7d or 12h`);
        }
      }
      const tablePath = tablePathOf(positionals, sub);
      print(await withDuck(async (duck, m) => {
        await m.requireState(duck, tablePath);
        const result = await m.vacuumTable(tablePath, { duck, dryRun: values['dry-run'], force: values.force, ...(retentionMs !== undefined ? { retentionMs } : {}) });
        return fmt === 'json' ? JSON.stringify(result, null, 2) : renderVacuum(result, values.retain ?? m.formatRetention(result.retentionMs));
      }));
      return 0;
    }
  }
}

/** The usage text for the subcommand named in `argv` (the general text when none is). */
function usageFor(argv: string[]): string {
  const sub = argv.find(isSubcommand);
  return usages[sub ?? '']!;
}

/** The table command. */
export const command: Command = {
  summary: 'Inspect and maintain a Delta table: show, history, head, compact, vacuum',
  // The dispatcher prints `usage` for --help and usage errors without passing the
  // arguments on, so the subcommand is taken from the process arguments.
  get usage() {
    const i = process.argv.indexOf('table');
    return usageFor(i >= 0 ? process.argv.slice(i + 1) : []);
  },
  async run(argv) {
    const [sub, ...rest] = argv;
    if (argv.includes('--help') || argv.includes('-h')) {
      print(usageFor(argv));
      return 0;
    }
    if (sub === undefined) throw new UsageError('PIPE_CLI_USAGE', `give a command: ${SUBCOMMANDS.join(', ')}`);
    if (!isSubcommand(sub)) throw new UsageError('PIPE_CLI_USAGE', `unknown table command '${sub}'; use ${SUBCOMMANDS.join(', ')}`);
    return runSubcommand(sub, rest);
  },
};
