/**
 * The storage a table lives on. The lake speaks to it in paths relative to the table root
 * (`_delta_log/00000000000000000003.json`, `p=1/part-….parquet`) and never asks which kind
 * it is: a local folder ({@link LocalStorage}) or an S3-compatible bucket ({@link S3Storage}).
 *
 * DuckDB reads and writes Parquet on the local file system, so every storage maps a
 * relative path to a local one ({@link TableStorage.localPath}): the file itself for a local
 * table, a cached copy for a bucket. Writers let DuckDB write at the local path and then
 * {@link TableStorage.upload}; readers {@link TableStorage.fetch} before reading.
 */
import { LocalStorage } from './local.js';
import { isObjectStoreUrl, tableRoot } from './location.js';
import { S3Storage } from './s3.js';

export { isObjectStoreUrl, joinLocation, resolveLocation, tableRoot } from './location.js';
export { storageRetryCount, watchStorageRetries, type StorageRetry } from './retry.js';

/** A file found by {@link TableStorage.listAll}. */
export interface StoredFile {
  /** Relative to the table root, `/`-separated. */
  path: string;
  size: number;
  mtimeMs: number;
}

/** What the lake does with a table's files. Paths are relative to the table root. */
export interface TableStorage {
  /** The table's canonical location (see {@link tableRoot}). */
  readonly root: string;
  /** The file's bytes, or undefined when it does not exist. */
  read(rel: string): Promise<Buffer | undefined>;
  /** Whether the file exists. */
  exists(rel: string): Promise<boolean>;
  /** Names directly inside folder `rel` (files only); empty when the folder does not exist. */
  list(rel: string): Promise<string[]>;
  /**
   * Every file under the root. `skipFolder` lets a walk leave out a folder (by its relative
   * path) it would otherwise descend into; a flat listing may ignore it.
   */
  listAll(skipFolder?: (rel: string) => boolean): Promise<StoredFile[]>;
  /** Creates the file only if it does not exist; false when it already does (another writer won). */
  putIfAbsent(rel: string, body: string): Promise<boolean>;
  /** Creates or replaces the file, atomically for readers. */
  put(rel: string, body: string): Promise<void>;
  /** Deletes the file; a missing file is not an error. */
  delete(rel: string): Promise<void>;
  /** Where DuckDB reads or writes this file on the local file system. */
  localPath(rel: string): string;
  /**
   * Makes the local copies of these files present (a no-op for local tables). A cached copy
   * is trusted unless `refresh` is set: data files never change, but a file whose name can be
   * reused (a checkpoint of a table deleted and created again) must be downloaded anew.
   */
  fetch(rels: string[], opts?: { refresh?: boolean }): Promise<void>;
  /**
   * Drops local copies of files the latest version no longer references, so a bucket's cache
   * stays near the live size of the tables (a no-op for local tables: the copy is the file).
   */
  forget(rels: string[]): Promise<void>;
  /** Stores the files DuckDB wrote at their local paths (a no-op for local tables). */
  upload(rels: string[]): Promise<void>;
  /** A fresh local path (its folder created) to stage a new version of `rel` at, then {@link TableStorage.publish} it. */
  stagingPath(rel: string): Promise<string>;
  /** Moves a staged file into place as `rel`, replacing what was there. */
  publish(staged: string, rel: string): Promise<void>;
}

const stores = new Map<string, TableStorage>();

/** The storage of the table at `location` (one instance per table root in the process). */
export function storageFor(location: string): TableStorage {
  const root = tableRoot(location);
  let store = stores.get(root);
  if (!store) {
    store = isObjectStoreUrl(root) ? new S3Storage(root) : new LocalStorage(root);
    stores.set(root, store);
  }
  return store;
}

/** The relative path an `add`/`remove` path names (URI-decoded once; a `+` stays a `+`). */
export function relativeDataPath(p: string): string {
  return decodeURIComponent(p);
}
