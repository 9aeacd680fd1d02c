/**
 * `pipeline validate <spec>...`: loads every spec, prints every diagnostic, and exits
 * 0 (valid; warnings allowed unless --deny-warnings), 1 (invalid) or 2 (usage: unknown
 * flag, no spec given, a spec file that cannot be read).
 */
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { UsageError } from '../../errors.js';
import { withSqlChecks } from '../../planner/check-sql.js';
import { parsePartitions } from './plan.js';
import {
  diagnosticFormats,
  formatDiagnostics,
  hasErrors,
  loadSpecFile,
  type Diagnostic,
  type DiagnosticFormat,
} from '../../spec/index.js';

const usage = `Usage: pipeline validate <spec.yaml>... [options]

Checks pipeline specs (YAML syntax, schema, routes, tables, keys, secrets) and reports every
problem as file:line:col: severity CODE message.

Options:
  --format text|json|github  Output format (default text; github prints Actions annotations)
  --deny-warnings            Treat warnings as errors (exit 1)
  --set path=value           Override a field before validating, e.g. --set streams=8 (repeatable)
  --advice                   Also warn about sizing and naming (streams for the partitions,
                             topic names not following domain.entity.version)
  --partitions <n>           The topic's partition count (implies --advice): checks streams
                             against it
  -h, --help                 Show this help

Exit codes: 0 valid, 1 invalid, 2 usage error (unknown flag, missing file).`;

function summary(files: number, invalid: number, diags: Diagnostic[]): string {
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.length - errors;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const verdict = invalid === 0 ? (files === 1 ? 'valid' : 'all valid') : `${invalid} invalid`;
  return `${plural(files, 'spec')} checked: ${verdict} (${plural(errors, 'error')}, ${plural(warnings, 'warning')})`;
}

/** The validate command. */
export const command: Command = {
  summary: 'Check pipeline specs and report every problem with its position',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      format: { type: 'string', default: 'text' },
      'deny-warnings': { type: 'boolean', default: false },
      advice: { type: 'boolean', default: false },
      partitions: { type: 'string' },
      ...setOption,
    });
    const format = values.format as DiagnosticFormat;
    if (!diagnosticFormats.includes(format)) {
      throw new UsageError('PIPE_CLI_USAGE', `unknown --format '${values.format}'; use ${diagnosticFormats.join(', ')}`);
    }
    if (positionals.length === 0) throw new UsageError('PIPE_CLI_USAGE', 'give at least one spec file');
    const partitions = parsePartitions(values.partitions);
    const advice = values.advice || partitions !== undefined ? { partitions } : undefined;

    const all: Diagnostic[] = [];
    let invalid = 0;
    let unreadable = false;
    for (const file of positionals) {
      const loaded = await withSqlChecks(loadSpecFile(file, { set: values.set ?? [], advice }));
      all.push(...loaded.diagnostics);
      if (loaded.diagnostics.some((d) => d.code === 'PIPE0001')) unreadable = true;
      const warned = loaded.diagnostics.some((d) => d.severity === 'warning');
      if (hasErrors(loaded.diagnostics) || (values['deny-warnings'] && warned)) invalid++;
    }

    if (format === 'json') {
      // `valid` is the verdict the exit code gives, so --deny-warnings flips it too.
      const parsed = JSON.parse(formatDiagnostics(all, 'json')) as { diagnostics: Diagnostic[] };
      console.log(JSON.stringify({ valid: invalid === 0, diagnostics: parsed.diagnostics }, null, 2));
    } else {
      const out = formatDiagnostics(all, format);
      if (out) console.log(out);
      if (format === 'text') console.log(summary(positionals.length, invalid, all));
    }
    if (unreadable) return 2;
    return invalid === 0 ? 0 : 1;
  },
};
