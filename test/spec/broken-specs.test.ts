/**
 * The broken-spec suite: every fixture in test/spec/broken/ is one mistake (or one hostile
 * input) and `expected.json` lists exactly the diagnostics it must produce, with positions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codes, isRegisteredCode, loadSpecFile, type Diagnostic } from '../../src/spec/index.js';

interface Expected {
  code: string;
  line: number;
  col: number;
  message?: string;
  hint?: string;
}
interface Case {
  set?: string[];
  env?: Record<string, string>;
  /** Load with sizing and naming advice (`validate --advice` / `--partitions`). */
  advice?: { partitions?: number };
  expect: Expected[];
}

const dir = join(import.meta.dirname, 'broken');
const table = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Case>;
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

// Only the fields an expectation names are compared, so a fixture can pin a message
// exactly where the wording matters (hostile input) and just code + position elsewhere.
function project(d: Diagnostic, e: Expected | undefined): Expected {
  const p: Expected = { code: d.code, line: d.line, col: d.col };
  if (e?.message !== undefined) p.message = d.message;
  if (e?.hint !== undefined) p.hint = d.hint;
  return p;
}

describe('broken specs', () => {
  it('has an expectation for every fixture and a fixture for every expectation', () => {
    expect(Object.keys(table).sort()).toEqual(fixtures);
    expect(fixtures.length).toBeGreaterThanOrEqual(25);
  });

  const emitted = new Set<string>();
  it.each(fixtures)('%s', (name) => {
    const c = table[name]!;
    const loaded = loadSpecFile(join(dir, name), { set: c.set, env: c.env ?? {}, advice: c.advice });
    expect(loaded.diagnostics.map((d, i) => project(d, c.expect[i]))).toEqual(c.expect);
    for (const d of loaded.diagnostics) {
      emitted.add(d.code);
      expect(isRegisteredCode(d.code)).toBe(true);
      expect(d.severity).toBe(codes[d.code as keyof typeof codes].severity);
      expect(d.file).toBe(join(dir, name));
    }
    // A spec is returned exactly when nothing is an error.
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    expect(loaded.spec === undefined).toBe(errors.length > 0);
  });

  it('exercises every registered code (PIPE0001/PIPE0002: loader tests; PIPE0044, PIPE0090: retired; PIPE0056/PIPE0057/PIPE0061/PIPE0063/PIPE0067/PIPE0081/PIPE0091: planner check tests)', () => {
    const missing = Object.keys(codes).filter((c) => !emitted.has(c));
    expect(missing).toEqual(['PIPE0001', 'PIPE0002', 'PIPE0044', 'PIPE0056', 'PIPE0057', 'PIPE0061', 'PIPE0063', 'PIPE0067', 'PIPE0090', 'PIPE0091', 'PIPE0081']);
  });
});
