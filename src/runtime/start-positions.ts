/**
 * Where each owned partition starts: the checkpoint's next offset when it has one; on a first
 * run `source.kafka.startingOffsets` (earliest = log start, latest = log end at start);
 * partitions the checkpoint has never seen (the topic grew) start at their earliest offset.
 * A checkpoint position that retention already deleted is data loss: it stops the run unless
 * `failOnDataLoss: false`, in which case reading skips ahead and says so.
 */
import { SourceError } from '../errors.js';
import type { RecoveredState } from './stream-checkpoint.js';
import type { Logger } from './logger.js';

export interface StartPositionInput {
  partitions: number[];
  state: RecoveredState;
  low: Map<number, number>;
  high: Map<number, number>;
  startingOffsets: 'earliest' | 'latest';
  failOnDataLoss: boolean;
  logger: Pick<Logger, 'warn'>;
  /** Called with the records of a partition that retention deleted before they were read (skipped). */
  onLost?: (partition: number, records: number) => void;
}

/** Start offset per owned partition; may move a pending replay's `from` past lost data. */
export function resolveStartPositions(input: StartPositionInput): Map<number, number> {
  const { partitions, state, low, high, startingOffsets, failOnDataLoss, logger } = input;
  const positions = new Map<number, number>();
  for (const p of partitions) {
    const lo = low.get(p) ?? 0;
    const hi = high.get(p) ?? lo;
    const known = state.positions.get(p);
    let position = known ?? (state.fresh && startingOffsets === 'latest' ? hi : lo);
    if (position < lo || position > hi) {
      const what = position < lo
        ? `offsets ${position}..${lo - 1} of partition ${p} were deleted by retention before they were read`
        : `partition ${p} ends at ${hi} but the checkpoint is at ${position} (was the topic recreated?)`;
      if (failOnDataLoss) {
        throw new SourceError('PIPE_SOURCE_DATA_LOSS', what, {
          hint: 'set source.kafka.failOnDataLoss: false to skip ahead, or reset the checkpoint and tables',
          details: { partition: p, position, low: lo, high: hi },
        });
      }
      const skipTo = position < lo ? lo : hi;
      logger.warn({ partition: p, from: position, to: skipTo }, `${what}; skipping ahead (failOnDataLoss: false)`);
      if (position < lo) input.onLost?.(p, lo - position);
      position = skipTo;
      const range = state.pending?.ranges[String(p)];
      if (range) range[0] = skipTo, range[1] = Math.max(range[1], skipTo);
    }
    positions.set(p, position);
  }
  return positions;
}
