/**
 * `pipeline diff`: what changing a spec does, for a reviewer and for CI. Compares two spec
 * files, or a spec with its own committed version at a git ref (`--against`). Exit 3 when
 * any change is not safe, so a CI job can require an explicit approval.
 */
import { execFileSync } from 'node:child_process';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { UsageError } from '../../errors.js';
import { loadSpecText, redactSpec, type LoadOptions, type PipelineSpec } from '../../spec/index.js';
import { allSafe, diffNewPipeline, diffSpecs, type SpecChange } from '../../planner/diff.js';
import { DIFF_FORMATS, renderDiffJson, renderDiffText } from '../../planner/render-diff.js';
import { compilePlan } from '../../planner/compile.js';
import { Lake } from '../../lake/index.js';
import { probeTopicOffsets } from '../../runtime/kafka-client.js';
import { lakeImpact, renderLakeImpact, type LakeImpact } from '../../runtime/lake-impact.js';
import { loadSpecOrReport, reportLoaded } from './plan.js';

const usage = `Usage: pipeline diff <old-spec.yaml> <new-spec.yaml> [options]
       pipeline diff <spec.yaml> --against <git-ref> [options]

Lists every semantic change between two versions of a spec, each with its impact:
  safe        applies on the next start; nothing written or checkpointed is affected
  checkpoint  per-stream offsets or state no longer match (streams, topic, name, format, ...)
  table       data already in a table must be rewritten, or is orphaned
  routing     records that used to land in a table go to the dead-letter table, are dropped,
              or land in another table

Options:
  --against <ref>    compare with the same file at a git ref (e.g. HEAD, origin/main);
                     a file absent at that ref is a new pipeline: every table is a safe addition
  --lake             also read the deployed (old) spec's live tables and checkpoints and say
                     per table what the change costs: metadata-only, rewrite of N rows /
                     M files, orphaned rows; per stream whether Kafka is re-read
  --format <f>       ${DIFF_FORMATS.join(' | ')} (default text)
  --set <path=value> override a spec value on both sides (repeatable)
  -h, --help         show this help

Exit codes: 0 no change or only safe changes, 3 some change needs approval,
1 invalid spec (diagnostics on stderr), 2 usage error, missing file or unknown git ref.`;

/** Runs git in `cwd`; returns stdout, or undefined when git exits non-zero. */
function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UsageError('PIPE_CLI_NO_GIT', '--against needs git, which is not installed');
    }
    return undefined;
  }
}

/**
 * The spec as committed at `ref`, loaded with the same options, or `null` when the file does
 * not exist at that ref. The file is addressed relative to its own directory (`<ref>:./name`),
 * so the command works from anywhere inside or outside the repository.
 */
function loadAtRef(file: string, ref: string, opts: LoadOptions): PipelineSpec | null | undefined {
  if (ref.startsWith('-')) throw new UsageError('PIPE_CLI_USAGE', `--against must name a git ref, got '${ref}'`);
  const dir = dirname(resolve(file));
  const name = basename(file);
  if (git(dir, ['rev-parse', '--is-inside-work-tree'])?.trim() !== 'true') {
    throw new UsageError('PIPE_CLI_NOT_GIT', `--against: ${file} is not inside a git work tree`);
  }
  if (git(dir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]) === undefined) {
    throw new UsageError('PIPE_CLI_BAD_REF', `--against: '${ref}' is not a commit in this repository`);
  }
  const prefix = git(dir, ['rev-parse', '--show-prefix'])?.trim() ?? '';
  if (git(dir, ['cat-file', '-e', `${ref}:./${name}`]) === undefined) return null;
  const text = git(dir, ['show', `${ref}:./${name}`]);
  if (text === undefined) throw new UsageError('PIPE_CLI_BAD_REF', `--against: cannot read ${prefix}${name} at '${ref}'`);
  return reportLoaded(loadSpecText(text, `${ref}:${prefix}${name}`, opts));
}

export const command: Command = {
  summary: 'Show what a spec change does and whether it is safe (exit 3 when not)',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      against: { type: 'string' },
      format: { type: 'string' },
      lake: { type: 'boolean' },
      ...setOption,
    });
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'json') {
      throw new UsageError('PIPE_CLI_USAGE', `--format must be one of ${DIFF_FORMATS.join(', ')}, got '${format}'`);
    }
    const expected = values.against === undefined ? 2 : 1;
    if (positionals.length !== expected) {
      throw new UsageError('PIPE_CLI_USAGE',
        values.against === undefined
          ? 'expected <old-spec.yaml> <new-spec.yaml> (or one spec with --against <git-ref>)'
          : 'with --against, give exactly one spec file');
    }
    const opts: LoadOptions = { set: values.set ?? [], env: process.env };

    let changes: SpecChange[];
    let deployed: PipelineSpec | null = null;
    let next: PipelineSpec;
    if (values.against !== undefined) {
      const file = positionals[0]!;
      const after = await loadSpecOrReport(file, opts);
      if (!after) return 1;
      const before = loadAtRef(file, values.against, opts);
      if (before === undefined) return 1;
      deployed = before;
      next = after;
      changes = before === null ? diffNewPipeline(redactSpec(after)) : diffSpecs(redactSpec(before), redactSpec(after));
    } else {
      const before = await loadSpecOrReport(positionals[0]!, opts);
      const after = await loadSpecOrReport(positionals[1]!, opts);
      if (!before || !after) return 1;
      deployed = before;
      next = after;
      changes = diffSpecs(redactSpec(before), redactSpec(after));
    }
    let impact: LakeImpact | undefined;
    if (values.lake && deployed) {
      const lake = await Lake.create({ threads: 1 });
      try {
        const plan = compilePlan(deployed);
        const topic = plan.source.kafka ? await probeTopicOffsets(plan.source.kafka, `${plan.source.kafka.clientId ?? plan.pipeline}-diff`) : undefined;
        impact = await lakeImpact(lake, plan, changes, next.source.kafka?.startingOffsets ?? 'earliest', topic);
      } finally {
        lake.close();
      }
    }
    if (format === 'json') {
      process.stdout.write(values.lake ? `${JSON.stringify({ changes, lake: impact ?? null }, null, 2)}\n` : renderDiffJson(changes));
    } else {
      process.stdout.write(renderDiffText(changes));
      if (values.lake) process.stdout.write(`\n${impact ? renderLakeImpact(impact, true) : 'Live tables: none (a new pipeline)\n'}`);
    }
    return allSafe(changes) ? 0 : 3;
  },
};
