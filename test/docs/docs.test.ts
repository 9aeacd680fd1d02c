/**
 * The docs a user reads stay true: `docs/reference/` is what `npm run docs` generates from
 * the code right now, and every relative link in README.md and docs/ reaches an existing
 * file and heading. Set PIPELINE_UPDATE_DOCS=1 to rewrite the generated pages.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { drift, generatedPages, writeReference } from '../../scripts/docs/generate.js';
import { anchorOf, anchorsOf, brokenLinks, markdownFiles } from '../../scripts/docs/links.js';
import { specFields } from '../../scripts/docs/spec-reference.js';
import { cellCount, raggedRows } from '../../scripts/docs/table-check.js';
import { ERROR_REGISTRY } from '../../src/error-codes.js';
import { codes } from '../../src/spec/codes.js';
import { METRICS } from '../../src/runtime/metric-definitions.js';
import { operators } from '../../src/operators/index.js';
import { buildPipelineSchema } from '../../src/spec/schema-definition.js';

const root = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'docs-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('generated reference', () => {
  it('matches the code (run `npm run docs` after changing the spec schema, a command, an operator, a code, a metric or bench results)', async () => {
    if (process.env.PIPELINE_UPDATE_DOCS) await writeReference();
    expect(await drift()).toEqual([]);
  });

  it('notices a page edited by hand, a missing page and a stale generated page', async () => {
    const dir = join(scratch, 'reference');
    await writeReference(dir);
    expect(await drift(dir)).toEqual([]);
    writeFileSync(join(dir, 'spec.md'), readFileSync(join(dir, 'spec.md'), 'utf8').replace('Spec format version.', 'Version.'));
    rmSync(join(dir, 'metrics.md'));
    mkdirSync(join(dir, 'operators'), { recursive: true });
    writeFileSync(join(dir, 'operators', 'gone.md'), (await generatedPages()).get('operators/route.md')!);
    expect(await drift(dir)).toEqual(['metrics.md', 'operators/gone.md', 'spec.md']);
    await writeReference(dir);
    expect(await drift(dir)).toEqual([]);
  });

  it('documents every spec field, diagnostic code, metric, operator and runtime error code', async () => {
    const pages = await generatedPages();
    const spec = pages.get('spec.md')!;
    const fields = specFields(buildPipelineSchema());
    for (const path of ['apiVersion', 'source.kafka.sasl.password', 'tables.<name>.mergeKeys', 'tables.<name>.columns.<column>', 'routing.routes.<value>', 'alerts.maxLagSeconds']) {
      expect(fields.map((f) => f.path)).toContain(path);
    }
    for (const f of fields) {
      expect(spec).toContain(`| \`${f.path}\` |`);
      expect(f.description.length, f.path).toBeGreaterThan(5);
      expect(f.example, `${f.path} has an example`).toBeDefined();
    }
    expect(spec).toMatch(/\| `streams` \| integer 1–1024 \| `1` \|/);
    // The operator reading a field (or the object holding it) is named beside it; pipeline-level fields have none.
    expect(spec).toMatch(/\| `source\.kafka\.topic` \|[^\n]*\| \[`source-kafka`\]\(operators\/source-kafka\.md\) \|\n/);
    expect(spec).toMatch(/\| `tables\.<name>\.derive` \|[^\n]*\| \[`derive`\]\(operators\/derive\.md\) \|\n/);
    expect(spec).toMatch(/\| `output\.path` \|[^\n]*\| — \|\n/);
    expect(pages.get('operators/source-kafka.md')).toContain('| spec fields | `source.kafka`, `source.metadataColumns`, `source.keyFormat` |');
    const diagnostics = pages.get('diagnostics.md')!;
    for (const code of Object.keys(codes)) expect(diagnostics).toContain(`| ${code} |`);
    const metrics = pages.get('metrics.md')!;
    for (const m of METRICS) expect(metrics).toContain(`\`${m.name}\``);
    for (const op of operators) expect(pages.get(`operators/${op.kind}.md`)).toContain(op.summary);
    expect(pages.get('cli/run.md')).toContain('--available-now');
    expect(pages.get('cli/table.md')).toContain('pipeline table vacuum');
    const errors = pages.get('errors.md')!;
    for (const e of ERROR_REGISTRY) expect(errors).toContain(`| \`${e.code}\` | ${e.message.replace(/\|/g, '\\|')} |`);
    expect(errors).toMatch(/\| `PIPE_LAKE_CONFLICT` \|[^\n]*\| yes \| `src\/errors.ts`/);
    expect(errors).toMatch(/\| `PIPE_SOURCE_DATA_LOSS` \|[^\n]*\| no \|/);
  });
});

describe('links in README.md and docs/', () => {
  it('computes anchors as GitHub does', () => {
    expect(anchorOf('Scaling out: several processes (`--instance i/K`)')).toBe('scaling-out-several-processes---instance-ik');
    expect([...anchorsOf('# A\n## From code\n```\n# not a heading\n```\n## From code\n')]).toEqual(['a', 'from-code', 'from-code-1']);
  });

  it('finds a missing file and a missing heading', () => {
    const dir = join(scratch, 'links');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.md'), '# Title\n\n[ok](b.md#there) [gone](c.md) [bad](b.md#nowhere) [self](#title) `[code](x.md)` [web](https://example.com/x)\n');
    writeFileSync(join(dir, 'b.md'), '## There\n');
    expect(brokenLinks(dir, [join(dir, 'a.md')]).map((b) => `${b.target}: ${b.reason}`)).toEqual([
      'c.md: no such file',
      'b.md#nowhere: no heading with anchor #nowhere',
    ]);
  });

  it('all resolve', () => {
    const files = [join(root, 'README.md'), ...markdownFiles(join(root, 'docs'))];
    expect(brokenLinks(root, files)).toEqual([]);
  });
});

describe('tables in README.md and docs/', () => {
  it('count cells as GitHub does: only an escaped pipe stays in its cell, inline code or not', () => {
    expect(cellCount('| a | b \\| c | `x \\| y` |')).toBe(3);
    expect(cellCount('| a | `x | y` |')).toBe(3);
    const dir = join(scratch, 'tables');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 't.md'), '| a | b |\n|---|---|\n| 1 | 2 |\n| 1 | 2 | 3 |\n\n```\n| not | a | table |\n```\n');
    expect(raggedRows(dir, [join(dir, 't.md')])).toEqual([{ file: 't.md', line: 4, cells: 3, expected: 2 }]);
  });

  it('have as many cells in every row as in the header', () => {
    const files = [join(root, 'README.md'), ...markdownFiles(join(root, 'docs'))];
    expect(raggedRows(root, files)).toEqual([]);
  });
});
