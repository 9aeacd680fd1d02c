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
    expect(await checkSqlFragments(loadSpecText(spec("op = 'd' AND lower(src) <> 'x'", 'columns: { op: VARCHAR, src: VARCHAR }, '), 's.yaml'))).toEqual([]);
    // Undeclared, they bind too (their type is inferred at run time), with a warning (below).
    expect((await checkSqlFragments(loadSpecText(spec("op = 'd' AND lower(src) <> 'x'"), 's.yaml'))).map((d) => d.code)).toEqual(['PIPE0081']);
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

describe('derive and where checks', () => {
  const derived = (derive: string, where: string) => `apiVersion: pipeline/v1
name: d
source:
  kafka: { brokers: [localhost:9092], topic: t }
  derive: { day: "${derive}" }
routing: { field: type, routes: { o: orders } }
tables:
  orders: { mode: append, columns: { amount: DOUBLE }, derive: { cents: "CAST(amount * 100 AS BIGINT)" }, where: "${where}" }
output: { path: ./lake }
`;

  it('accepts expressions over undeclared columns of any plausible type', async () => {
    // `ts` is undeclared: it binds as text for the CAST, `n` as a number for the comparison.
    expect((await checkSqlFragments(loadSpecText(derived('CAST(ts AS DATE)', 'n > 3 AND day IS NOT NULL'), 's.yaml'))).filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('reports a bad derive expression (PIPE0067) and a bad where (PIPE0056) at their values', async () => {
    const loaded = await withSqlChecks(loadSpecText(derived('CAST(ts AS', 'amount > '), 's.yaml'));
    expect(loaded.spec).toBeUndefined();
    expect(loaded.diagnostics.map((d) => [d.code, d.line, d.path])).toEqual([
      ['PIPE0067', 5, 'source.derive.day'],
      ['PIPE0056', 8, 'tables.orders.where'],
    ]);
    const [unknownFn] = await checkSqlFragments(loadSpecText(derived('no_such_fn(ts)', 'true'), 's.yaml'));
    expect(unknownFn?.code).toBe('PIPE0067');
    expect(unknownFn?.message).toMatch(/no_such_fn/);
  });

  it('warns of SQL that reads the clock (a replay gets another value); a quoted "now" is no call', async () => {
    const loaded = await withSqlChecks(loadSpecText(derived('CAST(now() AS DATE)', "status <> 'now' AND current_date > day"), 's.yaml'));
    expect(loaded.spec).toBeDefined();
    const clock = loaded.diagnostics.filter((d) => d.code === 'PIPE0091');
    expect(clock.map((d) => [d.code, d.severity, d.path, d.line])).toEqual([
      ['PIPE0091', 'warning', 'source.derive.day', 5],
      ['PIPE0091', 'warning', 'tables.orders.where', 8],
    ]);
    expect(clock[1]!.message).toContain('calls current_date()');
    expect((await checkSqlFragments(loadSpecText(derived('CAST(ts AS DATE)', "status = 'now'"), 's.yaml'))).filter((d) => d.code === 'PIPE0091')).toEqual([]);
  });

  it('warns of SQL over a column whose type is inferred (PIPE0081), not over declared, derived or metadata columns', async () => {
    const text = `apiVersion: pipeline/v1
name: d
source:
  kafka: { brokers: [localhost:9092], topic: t }
  metadataColumns: [timestamp]
  derive: { day: "CAST(ts AS DATE)", seen: "_kafka_timestamp" }
routing: { field: type, routes: { o: orders, r: returns } }
tables:
  orders: { mode: append, columns: { amount: DOUBLE, ts: VARCHAR }, derive: { cents: "CAST(amount * 100 AS BIGINT)", label: "CAST(qty AS VARCHAR) || day" }, where: "cents > 0 AND seen IS NOT NULL" }
  returns: { mode: append, columns: { ts: VARCHAR } }
output: { path: ./lake }
`;
    const loaded = await withSqlChecks(loadSpecText(text, 's.yaml'));
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(loaded.spec).toBeDefined();
    // ts is declared by every table, amount by orders; day, cents and seen are computed; qty is inferred.
    expect(loaded.diagnostics.map((d) => [d.code, d.severity, d.path, d.line, d.col])).toEqual([['PIPE0081', 'warning', 'tables.orders.derive.label', 9, 125]]);
    expect(loaded.diagnostics[0]!.message).toBe('`tables.orders.derive.label` reads `qty`, whose type is inferred from the values seen so far: a batch that widens it (BIGINT → DOUBLE → VARCHAR) can change what the expression gives, or stop the run, depending on how records were batched');
    expect(loaded.diagnostics[0]!.hint).toBe('declare it under tables.orders.columns (e.g. `columns: { qty: VARCHAR }`), so every batch reads it with one type');
  });

  it('refuses volatile functions, which the load cannot run (and a replay could not repeat)', async () => {
    const loaded = await withSqlChecks(loadSpecText(derived("CASE WHEN ts IS NULL THEN error('no ts') END", 'random() < 0.5'), 's.yaml'));
    expect(loaded.spec).toBeUndefined();
    expect(loaded.diagnostics.map((d) => [d.code, d.path, /volatile function/.test(d.message)])).toEqual([
      ['PIPE0067', 'source.derive.day', true],
      ['PIPE0056', 'tables.orders.where', true],
    ]);
  });
});

describe('capability checks', () => {
  it('has no format this version cannot run: avro and protobuf decode', () => {
    for (const format of ['avro', 'protobuf']) {
      const text = spec("op = 'd'").replace('  kafka: { brokers', `  format: ${format}\n  schema: { file: x, messageType: y }\n  kafka: { brokers`);
      expect(checkCapabilities(loadSpecText(text, 's.yaml'))).toEqual([]);
    }
  });
});

describe('schema file checks', () => {
  const schemas = 'test/operators/schemas';
  const withSchema = (lines: string) => spec("op = 'd'").replace('  kafka: { brokers', `${lines}\n  kafka: { brokers`);

  it('accepts existing schema files and message types', async () => {
    const avro = await withSqlChecks(loadSpecText(withSchema(`  format: avro\n  schema: { file: ${schemas}/order-v1.avsc, reader: ${schemas}/order-reader.avsc }`), 's.yaml'));
    expect(avro.diagnostics.filter((d) => d.code !== 'PIPE0081')).toEqual([]);
    const proto = await withSqlChecks(loadSpecText(withSchema(`  format: protobuf\n  schema: { file: ${schemas}/order.proto, messageType: shop.Order }`), 's.yaml'));
    expect(proto.diagnostics.filter((d) => d.code !== 'PIPE0081')).toEqual([]);
  });

  it('reports a missing, invalid or non-record schema and an unknown message type at the line naming it', async () => {
    const avro = await withSqlChecks(loadSpecText(withSchema(`  format: avro\n  schema:\n    file: ${schemas}/missing.avsc\n    reader: ${schemas}/not-a-record.avsc`), 's.yaml'));
    expect(avro.spec).toBeUndefined();
    expect(avro.diagnostics.filter((d) => d.code !== 'PIPE0081').map((d) => [d.code, d.line, d.col, d.message])).toEqual([
      ['PIPE0061', 6, 11, `\`${schemas}/missing.avsc\`: no such file`],
      ['PIPE0061', 7, 13, `\`${schemas}/not-a-record.avsc\`: the schema's top level is string, not a record`],
    ]);
    const proto = await withSqlChecks(loadSpecText(withSchema(`  format: protobuf\n  schema: { file: ${schemas}/order.proto, messageType: shop.Ordr }`), 's.yaml'));
    expect(proto.diagnostics.filter((d) => d.code !== 'PIPE0081').map((d) => [d.code, d.line, d.message])).toEqual([
      ['PIPE0061', 5, `\`${schemas}/order.proto\`: no message type \`shop.Ordr\` in ${schemas}/order.proto (it defines shop.Money, shop.Order)`],
    ]);
  });
});
