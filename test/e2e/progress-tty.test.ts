/**
 * `pipeline run` on a terminal (a real pty from util-linux `script`): the live progress block
 * is drawn and redrawn, and every log line — the main thread's and the stream threads' —
 * arrives whole above it, never cut into by the block.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEvents } from '../../src/dev-broker/events.js';
import { ROOT } from '../support/build.js';
import { E2E_TIMEOUT } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { useTestBroker } from '../support/broker.js';

let dir: string;

const broker = useTestBroker([{ name: 'tty', partitions: 4 }]);
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tty-e2e-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `args` under a pseudo-terminal; resolves with everything the terminal received. */
function runOnTty(args: string[]): Promise<{ code: number | null; output: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, join(ROOT, 'bin/pipeline.js'), ...args].map(quote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, PIPELINE_KAFKA_SESSION_TIMEOUT_MS: '6000' } });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

/** The block's cursor movements: up N lines to their start, clear to the end of the screen. */
const BLOCK_ERASE = /\x1b\[\d+F\x1b\[0J/g;

describe('pipeline run on a terminal', () => {
  it('redraws a progress block and keeps every log line whole above it', async () => {
    await produce(broker, dir, 'tty', [...generateEvents({ count: 6_000, seed: 41 })]);
    const spec = writeCommerceSpec(dir, { name: 'tty', topic: 'tty', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 250, interval: '100ms' });
    await broker.rtt(1, 20);
    const { code, output } = await runOnTty(['run', spec, '--available-now']);
    await broker.rtt(1, 0);
    expect(code, output.slice(-2000)).toBe(0);

    // Drawn and redrawn at least once (the run takes several seconds at 20 ms per request).
    expect(output.match(BLOCK_ERASE)?.length ?? 0).toBeGreaterThan(0);
    const lines = output.replace(BLOCK_ERASE, '').replace(/\r/g, '').split('\n').filter((l) => l.length > 0);
    const blockLines = lines.filter((l) => /^(stream \d+ |total )/.test(l));
    expect(blockLines.some((l) => /^stream 0 .* records .*\/s +lag /.test(l))).toBe(true);
    expect(blockLines.some((l) => /^total .* batches, .* dead-lettered/.test(l))).toBe(true);

    const logLines = lines.filter((l) => l.includes('"level":'));
    expect(logLines.some((l) => l.includes('"msg":"batch committed"'))).toBe(true);
    expect(logLines.some((l) => l.includes('"msg":"joined consumer group"'))).toBe(true);
    // Whole lines: each parses alone, so no block text was written into one.
    for (const l of logLines) expect(() => JSON.parse(l), l).not.toThrow();
    // Above the block: between two erasures the terminal gets log lines first, then the
    // block, never a log line below the block (the next erasure would wipe it off the screen).
    for (const segment of output.replace(/\r/g, '').split(BLOCK_ERASE)) {
      const kinds = segment.split('\n').filter((l) => l.length > 0).map((l) => (/^(stream \d+ |total )/.test(l) ? 'block' : l.includes('"level":') ? 'log' : 'other'));
      const firstBlock = kinds.indexOf('block');
      if (firstBlock >= 0) expect(kinds.slice(firstBlock).includes('log'), segment).toBe(false);
    }
    // Everything else is the block or the summary printed at the end.
    const other = lines.filter((l) => !l.includes('"level":') && !/^(stream \d+ |total )/.test(l));
    expect(other[0]).toMatch(/^pipeline tty: completed/);
  }, E2E_TIMEOUT);
});
