/**
 * `pipeline run` refuses record formats the spec language names but the runner cannot decode
 * yet, before touching Kafka or any table, instead of dead-lettering every record.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = resolve(__dirname, '../../bin/pipeline.js');
const spec = resolve(__dirname, '../../pipelines/commerce-events.yaml');

describe('pipeline run with a format it cannot decode', () => {
  it.each(['avro', 'protobuf'])('refuses format %s with one coded line and exit 1', (format) => {
    const res = spawnSync(process.execPath, [cli, 'run', spec, '--set', `source.format=${format}`, '--set', 'output.path=/nonexistent/never-written'], {
      encoding: 'utf8',
      env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:1' },
    });
    expect(res.status).toBe(1);
    const lines = res.stderr.trim().split('\n');
    // The same reason validate gives as a warning (PIPE0057), then the refusal.
    expect(lines[0]).toMatch(new RegExp(`warning PIPE0057 source.format '${format}' cannot be run yet`));
    expect(lines.at(-1)).toBe(
      `pipeline run: error PIPE_RUN_FORMAT source.format '${format}' cannot be run yet: this runner decodes json records only (use format: json, or validate/plan the spec without running it)`,
    );
  });
});
