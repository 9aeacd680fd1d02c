/**
 * `src/lake`: Delta Lake tables (reader 1 / writer 2) over Parquet files written by DuckDB,
 * with copy-on-write MERGE, exactly-once txn marks, optimistic concurrency, schema
 * evolution and checkpoints. Knows nothing about Kafka or specs.
 */
export { Lake, type ScanRequest } from './lake.js';
export type {
  BatchInput, ColumnDef, CommitSummary, DataFile, DeltaField, TableSnapshot, TxnMark, WriteMode, WriteOptions, WriteResult,
} from './types.js';
export { SCD2_CURRENT, SCD2_END, SCD2_SEEN, SCD2_START, TOMBSTONE } from './merge.js';
export { CHECKPOINT_INTERVAL } from './delta-checkpoint.js';
export { DEFAULT_TARGET_FILE_SIZE } from './files.js';
export { toPlain, microsToIso } from './duck.js';
export { isObjectStoreUrl, watchStorageRetries, storageRetryCount, type StorageRetry } from './storage/index.js';
export { auditTable, commitTxns, type TableAudit } from './audit.js';
export { listChanges, type AddedFile, type ChangeOptions, type RemovePolicy, type TableChanges } from './changes.js';
