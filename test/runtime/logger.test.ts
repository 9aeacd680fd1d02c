/**
 * Run loggers: JSON lines with credentials censored wherever a line nests them, and the
 * pretty format for people, both through a sink (how the progress block takes them).
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/runtime/logger.js';

const SECRET = 's3cr3t-Pa55';

describe('createLogger', () => {
  it('writes JSON lines and never a password or SASL block', () => {
    const lines: string[] = [];
    const log = createLogger('info', 'p', { sink: (t) => lines.push(t) });
    log.info({ password: SECRET, sasl: { mechanism: 'plain', username: 'u', password: SECRET }, config: { password: SECRET, sasl: { password: SECRET } } }, 'connecting');
    log.child({ stream: 1 }).warn({ broker: { ssl: { key: SECRET } } }, 'retry');
    log.debug('hidden at info');
    expect(lines).toHaveLength(2);
    expect(lines.join('')).not.toContain(SECRET);
    const first = JSON.parse(lines[0]!);
    expect(first).toMatchObject({ pipeline: 'p', msg: 'connecting', password: '[redacted]', sasl: '[redacted]' });
    expect(JSON.parse(lines[1]!)).toMatchObject({ stream: 1, level: 40 });
  });

  it('pretty: one readable line per entry, no JSON', async () => {
    let text = '';
    const log = createLogger('info', 'p', { format: 'pretty', sink: (t) => (text += t) });
    log.info({ stream: 0, batchId: 3, password: SECRET }, 'batch committed');
    await new Promise((r) => setTimeout(r, 50));
    expect(text).toMatch(/INFO.*batch committed/);
    expect(text).toMatch(/"batchId":3/);
    expect(text.trimEnd().split('\n')).toHaveLength(1);
    expect(text).not.toContain(SECRET);
    expect(text.trimStart().startsWith('{')).toBe(false);
  });
});
