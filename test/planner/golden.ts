/**
 * Golden-file assertions for plan renders. `UPDATE_GOLDEN=1 npx vitest run test/planner`
 * rewrites the files under test/golden/; review the diff before committing them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** test/golden/, next to this folder. */
export const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'golden');

/** Compares `actual` with test/golden/<file>, or rewrites the file when UPDATE_GOLDEN=1. */
export function expectGolden(file: string, actual: string): void {
  const path = join(GOLDEN_DIR, file);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) {
    throw new Error(`golden file test/golden/${file} is missing; create it with UPDATE_GOLDEN=1 npx vitest run test/planner`);
  }
  expect(actual, `test/golden/${file} is out of date (UPDATE_GOLDEN=1 npx vitest run test/planner)`).toBe(readFileSync(path, 'utf8'));
}
