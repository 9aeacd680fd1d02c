/**
 * Durations in specs: `<number><unit>` with unit ms, s, m, h or d (`250ms`, `1.5s`, `5m`).
 * The same pattern is used by the JSON Schema, so the editor and the loader agree.
 */
import { UsageError } from '../errors.js';

/** Regular expression source for a duration, shared with the schema's `pattern`. */
export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?)(ms|s|m|h|d)$';

const unitMs: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const durationRe = new RegExp(DURATION_PATTERN);

/** True when `d` is a well-formed duration string. */
export function isDuration(d: string): boolean {
  return durationRe.test(d);
}

/**
 * Parses `<number><ms|s|m|h|d>` to milliseconds (rounded to a whole millisecond).
 * Throws a UsageError for anything else; specs are checked by the schema before this runs.
 */
export function parseDuration(d: string): number {
  const m = durationRe.exec(d);
  if (!m) {
    throw new UsageError('PIPE_SPEC_DURATION', `invalid duration '${d}'`, {
      hint: 'use <number><ms|s|m|h|d>, e.g. 500ms, 5s, 1m',
    });
  }
  return Math.round(Number(m[1]) * unitMs[m[3]!]!);
}
