/**
 * `pipeline validate` as users run it: the built CLI in a child process, checking exit
 * codes (0 valid, 1 invalid, 2 usage) and the exact text/github/json output.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureFreshBuild } from '../support/build.js';
import { cliSync } from '../support/cli.js';

const broken = (name: string) => `test/spec/broken/${name}`;

function validate(...args: string[]) {
  return cliSync(['validate', ...args], { bare: true });
}

beforeAll(ensureFreshBuild, 180_000);

describe('pipeline validate', () => {
  it('accepts the example specs in every format (exit 0)', () => {
    const text = validate('pipelines/commerce-events.yaml', 'pipelines/cdc-orders.yaml');
    expect([text.code, text.stdout]).toEqual([0, '2 specs checked: all valid (0 errors, 0 warnings)\n']);
    const github = validate('pipelines/commerce-events.yaml', '--format', 'github');
    expect([github.code, github.stdout]).toEqual([0, '']);
    const json = validate('pipelines/commerce-events.yaml', '--format=json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ valid: true, diagnostics: [] });
  });

  it('reports every problem with its position and exits 1', () => {
    const r = validate(broken('multiple-problems.yaml'));
    expect(r.code).toBe(1);
    const f = broken('multiple-problems.yaml');
    expect(r.stdout.split('\n').filter((l) => !l.startsWith('    hint:'))).toEqual([
      `${f}:8:10: error PIPE0025 \`streams\` must be >= 1, got 0`,
      `${f}:12:13: error PIPE0040 route \`orders\` targets table \`order\`, which is not defined under \`tables\``,
      `${f}:15:3: warning PIPE0041 table \`orders\` is not the target of any route; it will never receive records`,
      `${f}:15:13: error PIPE0042 table \`orders\` is upsert and needs \`sequenceBy\` to decide which record wins`,
      `${f}:16:26: error PIPE0020 unknown key \`partitonBy\` in \`tables.users\``,
      '1 spec checked: 1 invalid (4 errors, 1 warning)',
      '',
    ]);
    expect(r.stdout).toContain('\n    hint: did you mean `partitionBy`?\n');
  });

  it('prints GitHub Actions annotations', () => {
    const r = validate(broken('unknown-key.yaml'), broken('literal-password.yaml'), '--format', 'github');
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      `::error file=${broken('unknown-key.yaml')},line=14,col=13,title=PIPE0020::unknown key \`mergeKey\` in \`tables.orders\`%0Ahint: did you mean \`mergeKeys\`?`,
      `::warning file=${broken('literal-password.yaml')},line=11,col=17,title=PIPE0048::\`source.kafka.sasl.password\` holds a literal password%0Ahint: write \`password: \${KAFKA_PASSWORD}\` and set the variable where the pipeline runs`,
    ]);
  });

  it('allows warnings unless --deny-warnings', () => {
    expect(validate(broken('unreachable-table.yaml')).code).toBe(0);
    const denied = validate(broken('unreachable-table.yaml'), '--deny-warnings', '--format', 'json');
    expect(denied.code).toBe(1);
    const out = JSON.parse(denied.stdout);
    expect(out.valid).toBe(false);
    expect(out.diagnostics.map((d: { code: string; line: number }) => [d.code, d.line])).toEqual([['PIPE0041', 16]]);
  });

  it('applies --set to every spec', () => {
    const r = validate('pipelines/commerce-events.yaml', '--set', 'streams=0', '--set', 'trigger.interval=1s');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('pipelines/commerce-events.yaml:1:1: error PIPE0025 `streams` must be >= 1, got 0\n    hint: the value comes from --set streams=0');
  });

  it('exits 2 on usage errors: missing file, unknown flag, bad format, no spec', () => {
    const missing = validate('pipelines/commerce-events.yaml', 'nope.yaml');
    expect([missing.code, missing.stdout.split('\n')[0]]).toEqual([2, 'nope.yaml:1:1: error PIPE0001 cannot read spec file: no such file']);
    const flag = validate('--frobnicate', 'pipelines/commerce-events.yaml');
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("pipeline validate: Unknown option '--frobnicate'");
    const format = validate('--format', 'xml', 'pipelines/commerce-events.yaml');
    expect([format.code, format.stderr.split('\n')[0]]).toEqual([2, "pipeline validate: unknown --format 'xml'; use text, json, github"]);
    expect(validate().code).toBe(2);
  });
});

describe('pipeline validate --advice / --partitions', () => {
  it('adds sizing and naming warnings; they fail only with --deny-warnings', () => {
    const r = validate('pipelines/commerce-events.yaml', '--partitions', '6');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => !l.startsWith('    hint:'))).toEqual([
      'pipelines/commerce-events.yaml:8:12: warning PIPE0054 topic `events_topic` does not follow `domain.entity.version` (e.g. `commerce.orders.v1`)',
      'pipelines/commerce-events.yaml:11:10: warning PIPE0053 streams: 4 over 6 partitions: more than one stream rarely pays under 10 partitions',
      '1 spec checked: valid (0 errors, 2 warnings)',
      '',
    ]);
    expect(validate('pipelines/commerce-events.yaml', '--advice', '--deny-warnings').code).toBe(1);
    expect(validate('pipelines/commerce-events.yaml', '--partitions', 'six').code).toBe(2);
  });
});
