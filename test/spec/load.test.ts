/**
 * The loader on its own: defaults, positions, interpolation, --set overrides and hostile
 * input. Fixture-per-check coverage lives in broken-specs.test.ts.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadSpecFile, loadSpecText, type LoadedSpec } from '../../src/spec/index.js';

const minimal = `apiVersion: pipeline/v1
name: shop
source:
  kafka:
    brokers: "a:9092, b:9092"
    topic: events
routing:
  field: event_type
  routes: { orders: orders, users: users }
tables:
  orders: { mergeKeys: [id], sequenceBy: seq }
  users: {}
output:
  path: ./lake/
`;

const codesOf = (r: LoadedSpec) => r.diagnostics.map((d) => `${d.code}@${d.line}:${d.col}`);

describe('defaults and normalisation', () => {
  it('fills every default and splits a comma-separated broker string', () => {
    const r = loadSpecText(minimal, 'min.yaml', { env: {} });
    expect(r.diagnostics).toEqual([]);
    expect(r.spec).toMatchObject({
      streams: 1,
      trigger: { interval: '5s', maxRecordsPerBatch: 100000 },
      source: { format: 'json', kafka: { brokers: ['a:9092', 'b:9092'], startingOffsets: 'earliest', failOnDataLoss: true } },
      routing: { unmatched: 'dead_letter' },
      deadLetter: { table: '_dead_letter' },
      checkpoint: { path: './lake/_checkpoints' },
      tables: { orders: { mode: 'upsert' }, users: { mode: 'append' } },
    });
    expect(r.spec!.output.path).toBe('./lake/');
  });

  it('maps dotted paths to key positions', () => {
    const r = loadSpecText(minimal, 'min.yaml', { env: {} });
    expect(r.positions.get('tables.orders.mergeKeys')).toEqual({ line: 11, col: 13 });
    expect(r.positions.get('source.kafka.topic')).toEqual({ line: 6, col: 5 });
    expect(r.positions.get('routing.routes.users')).toEqual({ line: 9, col: 29 });
  });

  it('matches declared columns case-insensitively, as DuckDB does', () => {
    const text = minimal.replace('orders: { mergeKeys: [id], sequenceBy: seq }', 'orders: { mergeKeys: [id], sequenceBy: seq, columns: { ID: BIGINT, Seq: BIGINT } }');
    expect(loadSpecText(text, 'f', { env: {} }).diagnostics).toEqual([]);
  });

  it('allows a few anchors and aliases', () => {
    const text = minimal.replace('orders: { mergeKeys: [id], sequenceBy: seq }', 'orders: &keyed { mergeKeys: [id], sequenceBy: seq }').replace('users: {}', 'users: *keyed');
    const r = loadSpecText(text, 'alias.yaml', { env: {} });
    expect(r.diagnostics).toEqual([]);
    expect(r.spec!.tables.users).toEqual({ mergeKeys: ['id'], sequenceBy: 'seq', mode: 'upsert', maxColumns: 1000 });
  });
});

describe('environment interpolation', () => {
  const withTopic = (topic: string) => minimal.replace('topic: events', () => `topic: ${topic}`);

  it('substitutes set variables, defaults for unset or empty ones, and $${ as a literal', () => {
    const env = { TOPIC: 'orders_v2', EMPTY: '' };
    expect(loadSpecText(withTopic('${TOPIC}'), 'f', { env }).spec!.source.kafka!.topic).toBe('orders_v2');
    expect(loadSpecText(withTopic('t-${NOPE:-x}-${TOPIC}'), 'f', { env }).spec!.source.kafka!.topic).toBe('t-x-orders_v2');
    expect(loadSpecText(withTopic('${EMPTY:-fallback}'), 'f', { env }).spec!.source.kafka!.topic).toBe('fallback');
    expect(loadSpecText(withTopic('"$${TOPIC}"'), 'f', { env }).spec!.source.kafka!.topic).toBe('${TOPIC}');
  });

  it('reports an unset variable without a default at the value', () => {
    const r = loadSpecText(withTopic('${NOPE}'), 'f', { env: {} });
    expect(r.spec).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.line, d.col, d.message])).toEqual([
      ['PIPE0010', 6, 12, 'environment variable `NOPE` is not set and has no default'],
    ]);
  });

  it('reads process.env when no env is given', () => {
    process.env.PIPELINE_TEST_TOPIC = 'from-process-env';
    try {
      expect(loadSpecText(withTopic('${PIPELINE_TEST_TOPIC}'), 'f').spec!.source.kafka!.topic).toBe('from-process-env');
    } finally {
      delete process.env.PIPELINE_TEST_TOPIC;
    }
  });

  it('turns a plain scalar into a number, but keeps a quoted one a string', () => {
    const plain = loadSpecText(`${minimal}streams: \${STREAMS:-4}\n`, 'f', { env: {} });
    expect(plain.spec!.streams).toBe(4);
    const quoted = loadSpecText(`${minimal}streams: "\${STREAMS:-4}"\n`, 'f', { env: {} });
    expect(codesOf(quoted)).toEqual(['PIPE0022@15:10']);
  });

  it('cannot inject YAML: a variable holding YAML stays one string value', () => {
    const env = { TOPIC: 'a\nb: c\nstreams: 99', PAYLOAD: '{streams: 5}' };
    const r = loadSpecText(withTopic('${TOPIC}').replace('  users: {}', '  users: { mode: "${PAYLOAD}" }'), 'f', { env });
    // The flow mapping in PAYLOAD is just text, so `mode` gets a string that is no mode.
    expect(r.diagnostics.map((d) => [d.code, d.path])).toEqual([['PIPE0023', 'tables.users.mode']]);
    const ok = loadSpecText(withTopic('${TOPIC}'), 'f', { env });
    expect(ok.spec!.source.kafka!.topic).toBe('a\nb: c\nstreams: 99');
    expect(ok.spec!.streams).toBe(1);
    expect(Object.keys(ok.spec!)).not.toContain('b');
  });
});

describe('--set overrides', () => {
  it('overrides scalars, parses values as YAML, and creates missing parents', () => {
    const r = loadSpecText(minimal, 'f', {
      env: {},
      set: ['streams=8', 'source.kafka.brokers=x:1,y:2', 'trigger.interval=250ms', 'tables.users.mode=append', 'tables.orders.partitionBy=[day]', 'source.kafka.ssl=true'],
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.spec).toMatchObject({
      streams: 8,
      source: { kafka: { brokers: ['x:1', 'y:2'], ssl: true } },
      trigger: { interval: '250ms', maxRecordsPerBatch: 100000 },
      tables: { users: { mode: 'append' }, orders: { partitionBy: ['day'] } },
    });
  });

  it('adds a whole table when the path is a new map entry', () => {
    const r = loadSpecText(minimal, 'f', { env: {}, set: ['tables.audit={mode: append}', 'routing.routes.audit=audit'] });
    expect(r.diagnostics).toEqual([]);
    expect(r.spec!.tables.audit).toEqual({ mode: 'append', maxColumns: 1000 });
  });

  it('refuses paths the schema does not have, with a suggestion', () => {
    const r = loadSpecText(minimal, 'f', { env: {}, set: ['source.kafka.topics=x', 'trigger.interval.ms=5'] });
    expect(r.diagnostics.map((d) => [d.code, d.message, d.hint])).toEqual([
      ['PIPE0013', '--set path `source.kafka.topics` does not exist in the spec schema', 'did you mean `topic`?'],
      ['PIPE0013', '--set path `trigger.interval.ms` does not exist in the spec schema', undefined],
    ]);
  });

  it('validates overridden values and says where they came from', () => {
    const r = loadSpecText(minimal, 'f', { env: {}, set: ['source.kafka.startingOffsets=newest'] });
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ code: 'PIPE0023', hint: 'the value comes from --set source.kafka.startingOffsets=newest' });
  });
});

describe('hostile input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipeline-spec-'));

  it('refuses a file over 1 MiB before reading it', () => {
    const file = join(dir, 'huge.yaml');
    writeFileSync(file, `# ${'x'.repeat(1024 * 1024)}\n`);
    const r = loadSpecFile(file);
    expect(r.diagnostics.map((d) => [d.code, d.line, d.col, d.message])).toEqual([
      ['PIPE0002', 1, 1, 'spec file is 1048579 bytes; the limit is 1048576 bytes'],
    ]);
    expect(codesOf(loadSpecText(`# ${'é'.repeat(600 * 1024)}`, 't'))).toEqual(['PIPE0002@1:1']);
  });

  it('reports a missing file or a directory as PIPE0001', () => {
    expect(loadSpecFile(join(dir, 'nope.yaml')).diagnostics.map((d) => d.message)).toEqual(['cannot read spec file: no such file']);
    mkdirSync(join(dir, 'sub'));
    expect(loadSpecFile(join(dir, 'sub')).diagnostics.map((d) => d.message)).toEqual(['cannot read spec file: it is a directory']);
  });

  it('locates the first non-UTF-8 byte by line and column (columns count characters)', () => {
    const file = join(dir, 'latin1.yaml');
    writeFileSync(file, Buffer.concat([Buffer.from('a: 1\nnamé: x'), Buffer.from([0xc0, 0x80]), Buffer.from('\n')]));
    expect(loadSpecFile(file).diagnostics.map((d) => [d.code, d.line, d.col, d.message])).toEqual([
      ['PIPE0003', 2, 8, 'spec file is not valid UTF-8: invalid byte 0xc0 at offset 13'],
    ]);
  });

  it('refuses 100,000 nested brackets quickly and without a stack trace', () => {
    const started = Date.now();
    const r = loadSpecText(`a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, 'deep.yaml');
    expect(r.diagnostics.map((d) => [d.code, d.line, d.col, d.message])).toEqual([['PIPE0008', 1, 68, 'YAML nesting is deeper than 64 levels']]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('ignores brackets inside strings and comments when measuring depth', () => {
    const text = `${minimal}description: "${'['.repeat(200)}" # ${'{'.repeat(200)}\n`;
    expect(loadSpecText(text, 'f', { env: {} }).diagnostics).toEqual([]);
  });

  it('treats __proto__ as an ordinary (unknown) key', () => {
    const r = loadSpecText(`${minimal}__proto__: { polluted: true }\n`, 'f', { env: {} });
    expect(codesOf(r)).toEqual(['PIPE0020@15:1']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('never throws, whatever the text', () => {
    const piece = fc.constantFrom('a', ':', ' ', '\n', '\t', '-', '[', ']', '{', '}', '&x', '*x', '"', "'", '#', '${A}', '${', '? ', '!!str', '---', 'tables', 'routes', '0', '|', '>', '\\');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (parts) => {
        const r = loadSpecText(parts.join(''), 'fuzz.yaml', { env: {}, set: ['streams=2'] });
        expect(Array.isArray(r.diagnostics)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
