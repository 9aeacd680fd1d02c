import { describe, expect, it } from 'vitest';
import { loadSpecText } from '../../src/spec/index.js';
import { checkCapabilities, checkSqlFragments, withSqlChecks } from '../../src/planner/check-sql.js';

const spec = (deleteWhen: string, columns = '') => `apiVersion: pipeline/v1
name: cdc
source:
  kafka: { brokers: [localhost:9092], topic: t }
routing: { field: type, routes: { o: orders } }
tables:
  orders: { mergeKeys: [id], sequenceBy: seq, ${columns}deleteWhen: "${deleteWhen}" }
output: { path: ./lake }
`;

describe('SQL fragment checks', () => {
  it('accepts a predicate over declared and inferred columns', async () => {
    expect(await checkSqlFragments(loadSpecText(spec("op = 'd' AND lower(src) <> 'x'"), 's.yaml'))).toEqual([]);
  });

  it('reports a syntax error at its line and column, and the spec is then invalid', async () => {
    const loaded = await withSqlChecks(loadSpecText(spec("op = = 'd'"), 's.yaml'));
    expect(loaded.spec).toBeUndefined();
    expect(loaded.diagnostics.map((d) => [d.code, d.line, d.col, d.message])).toEqual([
      ['PIPE0056', 7, 64, '`tables.orders.deleteWhen` is not a valid SQL predicate: syntax error at or near "="'],
    ]);
  });

  it('reports what does not bind against the declared types, and statement escapes', async () => {
    const [bad] = await checkSqlFragments(loadSpecText(spec("amount > 'abc'", 'columns: { amount: DOUBLE }, '), 's.yaml'));
    expect(bad?.message).toMatch(/Could not convert string 'abc' to DOUBLE/);
    const [unknownFn] = await checkSqlFragments(loadSpecText(spec('no_such_fn(op)'), 's.yaml'));
    expect(unknownFn?.message).toMatch(/no_such_fn/);
    const [escape] = await checkSqlFragments(loadSpecText(spec("op = 'd'; DROP TABLE x"), 's.yaml'));
    expect(escape?.message).toMatch(/may not contain ";"/);
  });
});

describe('capability checks', () => {
  it('warns that a format this version cannot run is refused by run', () => {
    const text = spec("op = 'd'").replace('  kafka: { brokers', '  format: avro\n  kafka: { brokers');
    const [d] = checkCapabilities(loadSpecText(text, 's.yaml'));
    expect(d).toMatchObject({ code: 'PIPE0057', severity: 'warning', line: 4, message: "source.format 'avro' cannot be run yet: this runner decodes json records only" });
    expect(checkCapabilities(loadSpecText(spec("op = 'd'"), 's.yaml'))).toEqual([]);
  });
});
