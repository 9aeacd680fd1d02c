/**
 * `pipeline run` with avro/protobuf settings it cannot use stops before touching Kafka or any
 * table, with one coded line: a spec without a schema (PIPE0060) or with a schema file that is
 * missing (PIPE0061) fails the checks `validate` runs too.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSync } from '../support/cli.js';

const spec = resolve(__dirname, '../../pipelines/commerce-events.yaml');
const run = (...set: string[]) =>
  cliSync(['run', spec, ...set.flatMap((s) => ['--set', s]), '--set', 'output.path=/nonexistent/never-written'], { env: { KAFKA_BROKERS: '127.0.0.1:1' } });

describe('pipeline run with unusable format settings', () => {
  it.each(['avro', 'protobuf'])('refuses format %s without a schema, pointing at the line', (format) => {
    const res = run(`source.format=${format}`);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`commerce-events.yaml:\\d+:\\d+: error PIPE0060 format ${format} needs a schema: \`source.schema.file\` or \`source.schema.registry\``));
  });

  it('refuses a schema file that does not exist, before connecting', () => {
    const res = run('source.format=avro', 'source.schema.file=/nonexistent/order.avsc');
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toMatch(/commerce-events\.yaml:1:1: error PIPE0061 `\/nonexistent\/order\.avsc`: no such file$/);
  });
});
