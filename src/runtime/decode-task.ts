/**
 * piscina task file: runs {@link transformBatch} off the stream's thread. Inputs arrive by
 * transfer (one packed buffer), outputs are small (file paths, indices, failures).
 */
import { transformBatch, type TransformContext } from './batch-transform.js';
import type { PackedValues, RoutedBatch } from '../operators/api.js';

/** The task's message. */
export interface DecodeTask {
  packed: PackedValues;
  ctx: TransformContext;
}

/** piscina calls the default export. */
export default function runDecodeTask({ packed, ctx }: DecodeTask): RoutedBatch {
  return transformBatch(packed, ctx);
}
