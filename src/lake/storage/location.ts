/**
 * Table locations: a local path, or an object-store URL (`s3://bucket/prefix`). Local paths
 * are resolved to absolute ones; URLs are kept as written minus trailing slashes, so one
 * table has one key whichever way it was spelled.
 */
import path from 'node:path';
import { LakeError } from '../../errors.js';

/** Whether a location names an object store rather than the local file system. */
export function isObjectStoreUrl(location: string): boolean {
  return /^s3a?:\/\//i.test(location);
}

/** Bucket and key prefix (no leading or trailing slash) of an `s3://` location. */
export interface S3Location {
  bucket: string;
  prefix: string;
}

/** Splits `s3://bucket/a/b` into `{bucket: 'bucket', prefix: 'a/b'}`. */
export function parseS3Url(location: string): S3Location {
  const m = /^s3a?:\/\/([^/]+)\/*(.*)$/i.exec(location);
  if (!m || m[1] === '') throw new LakeError('PIPE_LAKE_BAD_LOCATION', `${location} is not an s3://bucket/prefix location`);
  const prefix = m[2]!.replace(/\/+$/, '').replace(/\/{2,}/g, '/');
  if (prefix.split('/').some((seg) => seg === '.' || seg === '..')) {
    throw new LakeError('PIPE_LAKE_BAD_LOCATION', `${location}: '.' and '..' are not allowed in an object-store prefix`);
  }
  return { bucket: m[1]!, prefix };
}

/** The canonical key of a table location: an absolute local path, or `s3://bucket/prefix`. */
export function tableRoot(location: string): string {
  if (!isObjectStoreUrl(location)) return path.resolve(location);
  const { bucket, prefix } = parseS3Url(location);
  return prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`;
}

/** `location` resolved against `cwd` when it is a local relative path. */
export function resolveLocation(cwd: string, location: string): string {
  return isObjectStoreUrl(location) ? tableRoot(location) : path.resolve(cwd, location);
}

/** A child of a location (`s3://b/p` + `t` = `s3://b/p/t`; local paths join as paths). */
export function joinLocation(base: string, child: string): string {
  return isObjectStoreUrl(base) ? `${tableRoot(base)}/${child.replace(/^\/+/, '')}` : path.join(base, child);
}
