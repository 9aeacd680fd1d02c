/**
 * Merge-on-read: instead of rewriting every file that holds a replaced row, a merge writes
 * only its new rows and marks the replaced ones with Delta deletion vectors (PROTOCOL
 * "Writer Requirement for Deletion Vectors"). A batch then costs what it writes plus one
 * small DV file, not the size of the files its keys happen to live in.
 */
import type { PlannedCommit } from './commit.js';
import { removeFor } from './commit.js';
import { writeDeletionVectors } from './deletion-vectors.js';
import type { Conn } from './duck.js';
import type { ProtocolAction } from './log.js';
import { deletedRowsOf } from './read.js';
import { fileKey, type LiveFile, type TableState } from './snapshot.js';

/** The table property that lets writers create deletion vectors. */
export const ENABLE_DELETION_VECTORS = 'delta.enableDeletionVectors';

/** Whether a table (its configuration) takes deletion vectors from this writer. */
export const deletionVectorsEnabled = (configuration: Record<string, string> | undefined): boolean => configuration?.[ENABLE_DELETION_VECTORS] === 'true';

/**
 * The protocol a merge-on-read table needs, or undefined when `current` already has it. A
 * (1,2) table keeps the writer features (1,2) implies (appendOnly, invariants), as the
 * protocol asks of an upgrade ("Table Features for New and Existing Tables").
 */
export function deletionVectorProtocol(current: ProtocolAction | undefined): ProtocolAction | undefined {
  if (current && current.minReaderVersion >= 3 && (current.readerFeatures ?? []).includes('deletionVectors') && (current.writerFeatures ?? []).includes('deletionVectors')) return undefined;
  const implied = current ? ['appendOnly', 'invariants'] : [];
  const writer = new Set([...(current?.writerFeatures ?? []), ...implied, 'deletionVectors']);
  const reader = new Set([...(current?.readerFeatures ?? []), 'deletionVectors']);
  return { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: [...reader], writerFeatures: [...writer] };
}

/** The stats of a file once a DV is attached: same physical row count, min/max become bounds only. */
function looseStats(stats: string | null | undefined): string | undefined {
  if (!stats) return undefined;
  try {
    return JSON.stringify({ ...(JSON.parse(stats) as Record<string, unknown>), tightBounds: false });
  } catch {
    return undefined;
  }
}

/**
 * Marks the rows of `replaced` (a relation `(file, row)`) deleted in their files: each file's
 * DV becomes its old DV plus the new rows, written together in one DV file; a file left with
 * no live row is removed instead. Adds the actions to `commit`; returns the files touched.
 */
export async function markReplacedRows(c: Conn, state: TableState, replaced: string, byResolved: Map<string, LiveFile>, commit: PlannedCommit): Promise<LiveFile[]> {
  const groups = await c.json(`SELECT file, CAST(to_json(list(DISTINCT "row")) AS VARCHAR) AS rows FROM ${replaced} GROUP BY file ORDER BY file`);
  const pending: { f: LiveFile; rows: number[] }[] = [];
  const touched: LiveFile[] = [];
  for (const g of groups) {
    const f = byResolved.get(String(g.file))!;
    const rows = new Set<number>(await deletedRowsOf(state.path, f));
    for (const r of JSON.parse(String(g.rows)) as number[]) rows.add(Number(r));
    touched.push(f);
    commit.readFiles.add(fileKey(f.add.path));
    commit.removes.push(removeFor(f.add));
    // Every row deleted: the file goes (a remove carrying its old DV), no DV is written.
    if (rows.size === f.file.stats?.numRecords) continue;
    pending.push({ f, rows: [...rows].sort((a, b) => a - b) });
  }
  if (pending.length === 0) return touched;
  const descriptors = await writeDeletionVectors(state.path, pending.map((p) => p.rows));
  pending.forEach(({ f }, i) => {
    const stats = looseStats(f.add.stats);
    commit.adds.push({
      path: f.add.path,
      partitionValues: f.add.partitionValues ?? {},
      size: f.add.size,
      modificationTime: f.add.modificationTime,
      dataChange: true,
      ...(stats ? { stats } : {}),
      ...(f.add.tags ? { tags: f.add.tags } : {}),
      deletionVector: descriptors[i]!,
    });
  });
  return touched;
}
