/**
 * Where a stream's CPU-bound decode runs: on a piscina pool of its own (default, one thread)
 * or inline on the stream thread (`PIPELINE_DECODE_THREADS=0`). With the pool, the stream
 * thread keeps fetching and heartbeating while the previous batch is parsed.
 */
import { Piscina } from 'piscina';
import { transformBatch, type TransformContext } from './batch-transform.js';
import type { PackedValues, RoutedBatch } from '../operators/api.js';
import type { DecodeTask } from './decode-task.js';

/** Runs decode + route + validate for one batch. */
export interface Decoder {
  readonly threads: number;
  transform(packed: PackedValues, ctx: TransformContext): Promise<RoutedBatch>;
  close(): Promise<void>;
}

/** A decoder with `threads` pool threads, or inline when 0. */
export function createDecoder(threads: number): Decoder {
  if (threads === 0) {
    return {
      threads,
      transform: async (packed, ctx) => transformBatch(packed, ctx),
      close: async () => {},
    };
  }
  const pool = new Piscina({
    filename: new URL('./decode-task.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
  });
  return {
    threads,
    transform(packed, ctx) {
      const task: DecodeTask = { packed, ctx };
      return pool.run(task, { transferList: [packed.data.buffer as ArrayBuffer, packed.starts.buffer as ArrayBuffer, packed.nulls.buffer as ArrayBuffer] });
    },
    close: () => pool.destroy(),
  };
}
