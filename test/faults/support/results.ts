/**
 * Collects what each scenario checked (events produced, table rows compared) into
 * `$PIPELINE_FAULT_RESULTS` (one JSON line per scenario run) when that variable is set, so
 * repeated suite runs can be summarised as a table. Without the variable it does nothing.
 */
import { appendFileSync } from 'node:fs';

/** Appends one scenario outcome (it passed: it is only called after the checks). */
export function recordResult(scenario: string, events: number, rowsChecked: number): void {
  const file = process.env.PIPELINE_FAULT_RESULTS;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ scenario, events, rowsChecked, at: new Date().toISOString() })}\n`);
}
