/**
 * Sizing and naming advice: warnings that `pipeline validate --advice` (or `--partitions N`)
 * adds on top of the checks every load runs. They encode practice, not correctness — a spec
 * that ignores them runs exactly once all the same — so they are opt-in: turning them on by
 * default would fail existing `--deny-warnings` CI steps over house rules a team may not share.
 *
 * Rules: a stream owns the partitions p with p % streams == j, so more streams than partitions
 * leaves streams idle, an uneven split leaves some streams with more work than others, and
 * below ~10 partitions the fixed per-stream cost (a consumer, a DuckDB instance, a thread) is
 * rarely repaid (the README's Performance section measured one stream as fast as two to eight
 * on 64 partitions of a 2-core machine). Topic names follow `domain.entity.version`, so
 * owners and schema versions can be read off the name.
 */
import { diagnostic } from './codes.js';
import type { PositionLookup } from './schema-validate.js';
import type { Diagnostic } from './types.js';

/** Below this many partitions, more than one stream rarely pays. */
export const MULTI_STREAM_MIN_PARTITIONS = 10;

/** `domain.entity.version`: lowercase dotted segments ending in `v<N>` (e.g. `commerce.orders.v1`). */
const TOPIC_CONVENTION = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+\.v\d+$/;

/** What the advice needs to know beyond the spec. */
export interface SizingContext {
  file: string;
  at: PositionLookup;
  /** The topic's partition count, when the user gave it (`--partitions N`). */
  partitions?: number;
}

/** Sizing and naming warnings for (possibly schema-invalid) spec data; skips what it cannot read. */
export function checkSizing(data: unknown, ctx: SizingContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  const root = (typeof data === 'object' && data !== null ? data : {}) as Record<string, any>;
  const streamsValue = root.streams;
  const streams = streamsValue === undefined ? 1 : streamsValue;
  const streamsSite = { file: ctx.file, ...(streamsValue === undefined ? { line: 1, col: 1 } : ctx.at.value(['streams'])), path: 'streams' };
  const partitions = ctx.partitions;
  if (Number.isInteger(streams) && streams >= 1 && partitions !== undefined) {
    if (streams > partitions) {
      out.push(diagnostic('PIPE0052', streamsSite, { streams, partitions, idle: streams - partitions },
        `use at most streams: ${partitions}; a stream with no partition still holds a consumer, a DuckDB instance and a thread`));
    } else if (streams > 1 && partitions < MULTI_STREAM_MIN_PARTITIONS) {
      out.push(diagnostic('PIPE0053', streamsSite, { streams, partitions, min: MULTI_STREAM_MIN_PARTITIONS },
        'start with streams: 1 and add streams (and instances) when one stream cannot keep up; changing streams later needs --reshard'));
    } else if (partitions % streams !== 0) {
      const fewest = Math.floor(partitions / streams);
      out.push(diagnostic('PIPE0055', streamsSite, { streams, partitions, fewest, most: fewest + 1 },
        `choose streams dividing ${partitions} (e.g. ${divisorsNear(partitions, streams).join(' or ')}) so every stream has the same share`));
    }
  }
  const topic = root.source?.kafka?.topic;
  if (typeof topic === 'string' && topic !== '' && !TOPIC_CONVENTION.test(topic)) {
    out.push(diagnostic('PIPE0054', { file: ctx.file, ...ctx.at.value(['source', 'kafka', 'topic']), path: 'source.kafka.topic' }, { topic },
      'name topics `<domain>.<entity>.v<N>`, e.g. `commerce.orders.v1`; a new version gets a new topic'));
  }
  return out;
}

/** The divisors of `n` just below and above `near` (one of them when `near` is at an end). */
function divisorsNear(n: number, near: number): number[] {
  let below = near;
  while (below > 1 && n % below !== 0) below--;
  let above = near;
  while (above < n && n % above !== 0) above++;
  return below === above ? [below] : [below, above];
}
