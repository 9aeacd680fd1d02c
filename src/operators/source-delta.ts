/**
 * source-delta: a Delta table read as a stream — the data files each version after the last
 * one processed added (src/lake/changes.ts has the rule for rewrites, updates, deletes and
 * deletion vectors). The runtime keeps the position (the last version read) in the job's
 * checkpoint, and every table the job writes carries the job's txn, so a batch replayed after
 * a crash reads the same versions and writes nothing twice. Staged mode's bronze job reads the
 * raw table with it, the gold job each bronze table.
 */
import type { OperatorDefinition } from './api.js';

/** How a source-delta node reads (its plan props). */
export interface DeltaSourceProps {
  /** Absolute table location. */
  path: string;
  /** What a version that updated or deleted rows does: stop (`fail`) or read its added files in full (`ignore`). */
  removes: 'fail' | 'ignore';
  /** Most versions one batch reads. */
  maxVersionsPerBatch: number;
}

export const sourceDelta: OperatorDefinition = {
  kind: 'source-delta',
  role: 'source',
  summary: 'Reads the rows each new version of a Delta table added (compaction skipped), remembering the last version read exactly once.',
  ports: { out: 'rows of the added files, in version, file and row order' },
};
