/**
 * Small pieces of the spec front end: durations, redaction, diagnostic formats, suggestions
 * and the code registry.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  codes,
  formatDiagnostics,
  loadSpecText,
  parseDuration,
  redactSpec,
  type Diagnostic,
} from '../../src/spec/index.js';
import { renderTemplate } from '../../src/spec/codes.js';
import { checkColumnType } from '../../src/spec/column-types.js';
import { closestMatch, editDistance } from '../../src/spec/suggest.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['0s', 0],
    ['5s', 5_000],
    ['1.5s', 1_500],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['5', '5 s', '-1s', 's', '5w', '1.s', '', '5S'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration/);
  });
});

describe('redactSpec', () => {
  const text = (password: string) => `apiVersion: pipeline/v1
name: shop
source:
  kafka:
    brokers: "\${BROKER_KEY:-a:1,b:2}"
    topic: \${TOPIC}
    clientId: "id-\${API_TOKEN}"
    sasl: { mechanism: plain, username: "\${KAFKA_USER}", password: ${password} }
routing: { field: t, routes: { a: a } }
tables: { a: {} }
output: { path: ./lake }
`;
  const env = { TOPIC: 'events', API_TOKEN: 'tok-123', KAFKA_USER: 'bob', KAFKA_PASSWORD: 'pw' };

  it('replaces the SASL password and values read from secret-looking variables', () => {
    const loaded = loadSpecText(text('"${KAFKA_PASSWORD}"'), 'f', { env });
    expect(loaded.diagnostics).toEqual([]);
    const redacted = redactSpec(loaded.spec!);
    expect(redacted.source.kafka).toMatchObject({
      brokers: ['***', '***'],
      topic: 'events',
      clientId: '***',
      sasl: { username: 'bob', password: '***' },
    });
    // The loaded spec itself is untouched.
    expect(loaded.spec!.source.kafka!.clientId).toBe('id-tok-123');
    expect(loaded.spec!.source.kafka!.sasl!.password).toBe('pw');
    expect(JSON.stringify(redacted)).not.toMatch(/tok-123|"pw"/);
  });

  it('redacts a literal password too, and warns about it', () => {
    const loaded = loadSpecText(text('hunter2'), 'f', { env });
    expect(loaded.diagnostics.map((d) => [d.code, d.severity, d.line, d.col])).toEqual([['PIPE0048', 'warning', 8, 68]]);
    expect(redactSpec(loaded.spec!).source.kafka!.sasl!.password).toBe('***');
  });
});

describe('formatDiagnostics', () => {
  const diags: Diagnostic[] = [
    { code: 'PIPE0041', severity: 'warning', file: 'a,b:c.yaml', line: 9, col: 3, path: 'tables.x', message: 'table `x` is 100% unused' },
    { code: 'PIPE0020', severity: 'error', file: 'a,b:c.yaml', line: 2, col: 5, path: 'x', message: 'unknown key `x`', hint: 'did you mean `y`?' },
  ];

  it('text: sorted, one line each, with an indented hint line', () => {
    expect(formatDiagnostics(diags, 'text')).toBe(
      'a,b:c.yaml:2:5: error PIPE0020 unknown key `x`\n    hint: did you mean `y`?\n' +
        'a,b:c.yaml:9:3: warning PIPE0041 table `x` is 100% unused',
    );
    expect(formatDiagnostics([], 'text')).toBe('');
  });

  it('github: workflow commands with escaped properties and data', () => {
    expect(formatDiagnostics(diags, 'github').split('\n')).toEqual([
      '::error file=a%2Cb%3Ac.yaml,line=2,col=5,title=PIPE0020::unknown key `x`%0Ahint: did you mean `y`?',
      '::warning file=a%2Cb%3Ac.yaml,line=9,col=3,title=PIPE0041::table `x` is 100%25 unused',
    ]);
  });

  it('json: valid is false only when an error is present', () => {
    const all = JSON.parse(formatDiagnostics(diags, 'json'));
    expect(all.valid).toBe(false);
    expect(all.diagnostics.map((d: Diagnostic) => d.code)).toEqual(['PIPE0020', 'PIPE0041']);
    expect(JSON.parse(formatDiagnostics([diags[0]!], 'json')).valid).toBe(true);
  });

  it('keeps files in the order they were given', () => {
    const other = { ...diags[1]!, file: 'z.yaml', line: 1 };
    const b = { ...diags[1]!, file: 'b.yaml', line: 5 };
    expect(formatDiagnostics([other, b], 'text').split('\n').filter((l) => !l.startsWith(' ')).map((l) => l.split(':')[0])).toEqual(['z.yaml', 'b.yaml']);
  });
});

describe('suggestions and column types', () => {
  it('measures edit distance with transpositions', () => {
    expect(editDistance('mergeKeys', 'mergeKeys')).toBe(0);
    expect(editDistance('mregeKeys', 'mergeKeys')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests close names only', () => {
    expect(closestMatch('sequenceby', ['sequenceBy', 'mergeKeys'])).toBe('sequenceBy');
    expect(closestMatch('colour', ['columns', 'mode'])).toBeUndefined();
  });

  it('accepts DuckDB type names with parameters and arrays, refuses others', () => {
    for (const t of ['BIGINT', 'varchar', 'DECIMAL(18,2)', 'INTEGER[]', 'STRUCT(a INT, b VARCHAR)', 'timestamp with time zone', 'MAP(VARCHAR, INT)']) {
      expect(checkColumnType(t), t).toBeUndefined();
    }
    expect(checkColumnType('VARCHR')).toBe('did you mean `VARCHAR`?');
    expect(checkColumnType('Thing')).toMatch(/use a DuckDB type name/);
  });
});

describe('code registry', () => {
  it('registers every code as PIPE#### with a title and a severity', () => {
    for (const [code, info] of Object.entries(codes)) {
      expect(code).toMatch(/^PIPE\d{4}$/);
      expect(info.title.length).toBeGreaterThan(3);
      expect(['error', 'warning']).toContain(info.severity);
    }
  });

  it('renders templates and leaves unknown placeholders visible', () => {
    expect(renderTemplate('table `{table}` in {where}', { table: 'orders' })).toBe('table `orders` in {where}');
  });
});

// The diagnostics reference is generated from the registry (`npm run docs`).
const referencePath = join(import.meta.dirname, '..', '..', 'docs', 'reference', 'diagnostics.md');
describe('diagnostics reference', () => {
  it('documents every registered code', () => {
    const reference = readFileSync(referencePath, 'utf8');
    expect(Object.keys(codes).filter((c) => !reference.includes(`| ${c} |`))).toEqual([]);
  });
});
