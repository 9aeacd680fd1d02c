/**
 * `pipeline plan` and `pipeline diff` as a user runs them: the built CLI (`node bin/pipeline.js`,
 * built by `npm test` / `npx tsc -p tsconfig.build.json`), real files, a real git repository.
 */
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GOLDEN_DIR } from './golden.js';
import { requireBuild, ROOT } from '../support/build.js';
import { cliSync } from '../support/cli.js';

const EXAMPLE = join(ROOT, 'pipelines', 'commerce-events.yaml');

function cli(args: string[], cwd = ROOT) {
  // The example reads ${KAFKA_BROKERS:-localhost:9092}; the goldens use the default.
  return cliSync(args, { cwd, env: { NO_COLOR: '1' }, unset: ['KAFKA_BROKERS'] });
}

let dir: string;
let example: string;

/** The example with one line changed; fails loudly if the line is not in the example. */
function variant(name: string, from: RegExp, to: string): string {
  expect(example).toMatch(from);
  const file = join(dir, name);
  writeFileSync(file, example.replace(from, to));
  return file;
}

beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'pipeline-plan-cli-'));
  example = readFileSync(EXAMPLE, 'utf8');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('pipeline plan', () => {
  it('prints the golden plan of the example (exit 0)', () => {
    // Every format is checked in-process by golden-example.test.ts; two spawns suffice here.
    for (const [format, ext] of [['text', 'txt'], ['dot', 'dot']] as const) {
      const r = cli(['plan', 'pipelines/commerce-events.yaml', '--format', format, '--partitions', '12']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(readFileSync(join(GOLDEN_DIR, `commerce-events-p12.plan.${ext}`), 'utf8'));
    }
  });

  it('applies --set before compiling', () => {
    const r = cli(['plan', EXAMPLE, '--format', 'json', '--set', 'streams=2', '--partitions', '4']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).streams.map((s: { partitions: number[] }) => s.partitions)).toEqual([[0, 2], [1, 3]]);
  });

  it('exits 1 with diagnostics on stderr for an invalid spec', () => {
    const bad = variant('bad.yaml', /^streams: *\d+/m, 'streams: many');
    const r = cli(['plan', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+: error PIPE\d{4}/);
  });

  it('exits 2 for a missing file, an unknown flag, a bad format or bad --partitions', () => {
    expect(cli(['plan', join(dir, 'nope.yaml')])).toMatchObject({ code: 2, stderr: expect.stringContaining('spec file not found') });
    expect(cli(['plan', EXAMPLE, '--colour']).code).toBe(2);
    expect(cli(['plan', EXAMPLE, '--format', 'svg']).code).toBe(2);
    expect(cli(['plan', EXAMPLE, '--partitions', '0']).code).toBe(2);
    expect(cli(['plan']).code).toBe(2);
  });
});

describe('pipeline diff', () => {
  it('finds no change between the example and itself (exit 0)', () => {
    const r = cli(['diff', EXAMPLE, EXAMPLE]);
    expect(r).toMatchObject({ code: 0, stdout: 'no changes\n' });
    expect(JSON.parse(cli(['diff', EXAMPLE, EXAMPLE, '--format', 'json']).stdout)).toEqual({ changes: [] });
  });

  it('exits 0 for safe changes and 3 for a checkpoint-breaking one', () => {
    const safe = variant('slower.yaml', /interval: *5s/, 'interval: 10s');
    const r0 = cli(['diff', EXAMPLE, safe, '--format', 'json']);
    expect(r0.code).toBe(0);
    expect(JSON.parse(r0.stdout).changes).toEqual([
      { path: 'trigger.interval', before: '5s', after: '10s', impact: 'safe', message: 'batches close every 10s instead of 5s' },
    ]);
    const resharded = variant('resharded.yaml', /^streams: *4/m, 'streams: 8');
    const r3 = cli(['diff', EXAMPLE, resharded]);
    expect(r3.code).toBe(3);
    expect(r3.stdout).toContain('checkpoint  streams: 4 -> 8');
    expect(r3.stdout).toContain('the runner will refuse to start unless the checkpoints are re-sharded (pipeline run --reshard) or reset');
  });

  it('exits 1 for an invalid side and 2 for usage errors', () => {
    const bad = variant('bad-diff.yaml', /^streams: *\d+/m, 'streams: -1');
    expect(cli(['diff', EXAMPLE, bad]).code).toBe(1);
    expect(cli(['diff', EXAMPLE]).code).toBe(2);
    expect(cli(['diff', EXAMPLE, join(dir, 'missing.yaml')]).code).toBe(2);
    expect(cli(['diff', EXAMPLE, EXAMPLE, '--format', 'dot']).code).toBe(2);
  });

  it('compares with the committed version at a git ref (--against)', () => {
    const repo = join(dir, 'repo');
    const git = (...args: string[]) => execFileSync('git', ['-c', 'commit.gpgsign=false', ...args], { cwd: repo, stdio: 'pipe' });
    execFileSync('git', ['init', '-q', repo], { stdio: 'pipe' });
    git('config', 'user.email', 'ci@example.com');
    git('config', 'user.name', 'CI');
    mkdirSync(join(repo, 'pipelines'));
    const spec = join(repo, 'pipelines', 'commerce-events.yaml');
    writeFileSync(spec, example);
    // The spec is not committed yet: a first commit without it gives HEAD a tree to look in.
    writeFileSync(join(repo, 'README'), 'x\n');
    git('add', 'README');
    git('commit', '-q', '-m', 'start');
    const fresh = cli(['diff', spec, '--against', 'HEAD']);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain('new pipeline commerce-events');
    expect(fresh.stdout).toContain('new table orders (upsert on [id], sequenceBy seq)');

    git('add', 'pipelines/commerce-events.yaml');
    git('commit', '-q', '-m', 'add pipeline');
    expect(cli(['diff', spec, '--against', 'HEAD'], join(repo, 'pipelines'))).toMatchObject({ code: 0, stdout: 'no changes\n' });

    writeFileSync(spec, example.replace(/^streams: *4/m, 'streams: 6'));
    const changed = cli(['diff', 'pipelines/commerce-events.yaml', '--against', 'HEAD', '--format', 'json'], repo);
    expect(changed.code).toBe(3);
    expect(JSON.parse(changed.stdout).changes.map((c: { path: string; impact: string }) => [c.path, c.impact])).toEqual([['streams', 'checkpoint']]);

    expect(cli(['diff', spec, '--against', 'no-such-ref']).code).toBe(2);
    const outside = join(dir, 'outside.yaml');
    writeFileSync(outside, example);
    expect(cli(['diff', outside, '--against', 'HEAD'])).toMatchObject({ code: 2, stderr: expect.stringContaining('not inside a git work tree') });
  });
});
