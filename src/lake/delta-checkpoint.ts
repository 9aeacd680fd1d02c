/**
 * Classic Parquet checkpoints: one row per action with top-level nullable struct columns
 * `txn`, `add`, `remove`, `metaData`, `protocol` (exactly one non-null per row, no
 * `commitInfo`), plus the `_last_checkpoint` pointer. Reading accepts Spark's layouts
 * (extra columns such as `commitInfo` or `domainMetadata` are ignored).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Duck } from './duck.js';
import { checkpointName, LAST_CHECKPOINT, type Action } from './log.js';
import { storageFor } from './storage/index.js';
import { quoteIdent, quoteLiteral } from './schema.js';
import type { TableState } from './snapshot.js';

/** Commits between checkpoints (Spark's default). */
export const CHECKPOINT_INTERVAL = 10;

/** The table's checkpoint interval: `delta.checkpointInterval` or {@link CHECKPOINT_INTERVAL}. */
export function checkpointInterval(configuration: Record<string, string> | undefined): number {
  const v = Number(configuration?.['delta.checkpointInterval']);
  return Number.isInteger(v) && v > 0 ? v : CHECKPOINT_INTERVAL;
}

/** Tombstones younger than this stay in checkpoints (the protocol's default retention, 1 week). */
const TOMBSTONE_RETENTION_MS = 7 * 24 * 3600 * 1000;

const ACTION_COLUMNS = ['txn', 'add', 'remove', 'metaData', 'protocol'] as const;

/** Parquet column types of a checkpoint this lake writes. */
const CHECKPOINT_TYPES: Record<(typeof ACTION_COLUMNS)[number], string> = {
  txn: 'STRUCT(appId VARCHAR, "version" BIGINT, lastUpdated BIGINT)',
  add: 'STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags MAP(VARCHAR, VARCHAR))',
  remove: 'STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT)',
  metaData: 'STRUCT(id VARCHAR, "name" VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, "options" MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, partitionColumns VARCHAR[], "configuration" MAP(VARCHAR, VARCHAR), createdTime BIGINT)',
  protocol: 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER)',
};

const DV_STRUCT = 'STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, "offset" INTEGER, sizeInBytes INTEGER, cardinality BIGINT, maxRowIndex BIGINT)';

/** Checkpoint column types for a table with table features (deletion vectors): DV structs and feature lists. */
const FEATURE_CHECKPOINT_TYPES: typeof CHECKPOINT_TYPES = {
  ...CHECKPOINT_TYPES,
  add: `${CHECKPOINT_TYPES.add.slice(0, -1)}, deletionVector ${DV_STRUCT})`,
  remove: `${CHECKPOINT_TYPES.remove.slice(0, -1)}, deletionVector ${DV_STRUCT}, stats VARCHAR)`,
  protocol: 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])',
};

/** Reads the actions stored in the checkpoint of `version`. */
export async function readCheckpointActions(duck: Duck, tablePath: string, version: number): Promise<Action[]> {
  const store = storageFor(tablePath);
  await store.fetch([checkpointName(version)], { refresh: true });
  const file = quoteLiteral(store.localPath(checkpointName(version)));
  return duck.with(async (c) => {
    const described = await c.json(`DESCRIBE SELECT * FROM read_parquet(${file})`);
    const present = new Set(described.map((r) => String(r.column_name)));
    const cols = ACTION_COLUMNS.filter((a) => present.has(a));
    if (cols.length === 0) return [];
    const select = cols.map((a) => `to_json(${quoteIdent(a)}) AS ${quoteIdent(a)}`).join(', ');
    const rows = await c.json(`SELECT ${select} FROM read_parquet(${file})`);
    const actions: Action[] = [];
    for (const r of rows) {
      for (const a of cols) {
        const v = r[a];
        if (v !== null && v !== undefined) actions.push({ [a]: JSON.parse(String(v)) } as Action);
      }
    }
    return actions;
  });
}

/** The actions a checkpoint of `state` holds: protocol, metadata, txns, live files, recent tombstones. */
export function checkpointActions(state: TableState, now = Date.now()): Action[] {
  const out: Action[] = [{ protocol: state.protocol! }, { metaData: state.metadata! }];
  for (const t of state.txns.values()) out.push({ txn: t });
  for (const f of state.files.values()) out.push({ add: { ...f.add, dataChange: false } });
  for (const r of state.tombstones.values()) {
    if ((r.deletionTimestamp ?? now) >= now - TOMBSTONE_RETENTION_MS) out.push({ remove: { ...r, dataChange: false } });
  }
  return out;
}

/**
 * Writes the checkpoint of `state` (after its JSON commit exists) to a staged file, publishes
 * it (a rename, or an upload), then updates `_last_checkpoint`. A crash midway leaves at most a stray temp
 * file; readers never depend on a checkpoint being present.
 */
export async function writeCheckpoint(duck: Duck, state: TableState): Promise<void> {
  const actions = checkpointActions(state);
  const store = storageFor(state.path);
  const ndjson = path.join(os.tmpdir(), `lake-checkpoint-${randomUUID()}.ndjson`);
  const tmp = await store.stagingPath(checkpointName(state.version));
  // Column-wise objects: every row names all five columns so the JSON reader sees one shape.
  const lines = actions.map((a) => {
    const row: Record<string, unknown> = {};
    for (const col of ACTION_COLUMNS) row[col] = a[col] ?? null;
    return JSON.stringify(row);
  });
  await fs.writeFile(ndjson, lines.join('\n') + '\n', 'utf8');
  try {
    const types = (state.protocol?.minReaderVersion ?? 1) >= 3 ? FEATURE_CHECKPOINT_TYPES : CHECKPOINT_TYPES;
    const columns = ACTION_COLUMNS.map((a) => `${quoteIdent(a)}: ${quoteLiteral(types[a])}`).join(', ');
    await duck.with((c) =>
      c.run(
        `COPY (SELECT ${ACTION_COLUMNS.map(quoteIdent).join(', ')} FROM read_json(${quoteLiteral(ndjson)}, format='newline_delimited', columns={${columns}}))
         TO ${quoteLiteral(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
      ),
    );
    await store.publish(tmp, checkpointName(state.version));
  } finally {
    await fs.rm(ndjson, { force: true });
    await fs.rm(tmp, { force: true });
  }
  await store.put(
    LAST_CHECKPOINT,
    JSON.stringify({ version: state.version, size: actions.length, numOfAddFiles: state.files.size }),
  );
}
