/**
 * `pipeline demo` end to end on a small event set: the README's first command must start the
 * broker, run the pipeline and report tables that match the reference model.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliSync } from '../support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'demo-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('pipeline demo', () => {
  it('runs the commerce pipeline on sample events and reports exact tables', () => {
    const out = join(work, 'lake');
    const res = cliSync(['demo', '--events', '20000', '--partitions', '8', '--streams', '2', '--out', out], { timeoutMs: 120_000 });
    expect(res.stderr).toContain('produced 20,000 commerce events');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/exactly once yes/);
    expect(res.stdout).toMatch(/orders\s+[\d,]+\s+[\d,]+\s+\(upsert\)/);
    expect(existsSync(join(out, 'orders', '_delta_log', '00000000000000000000.json'))).toBe(true);
  }, 150_000);

  it('refuses to replace a directory it did not create', () => {
    const out = join(work, 'precious');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'data');
    const res = cliSync(['demo', '--events', '10', '--out', out]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('was not created by the demo; refusing to replace it');
    expect(existsSync(join(out, 'keep.txt'))).toBe(true);
  });
});
