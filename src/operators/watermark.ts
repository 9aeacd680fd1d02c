/**
 * watermark: event time per partition. Each partition's watermark is the greatest event time
 * (`watermark.column`) seen so far in that partition minus `watermark.delay`; a record whose
 * event time is behind its partition's watermark is late. Deciding lateness per partition,
 * in the partition's own order, makes it independent of batch cuts, stream count and restarts
 * (a stream's batch interleaves its partitions in an order that depends on timing).
 *
 * The stream's watermark is the least watermark over the partitions it owns, leaving out
 * partitions idle for `idleTimeout`; it never moves back. Append windows close on it.
 *
 * State (committed with each batch, restored on restart) holds every partition's greatest
 * event time. Event times that are missing or unreadable are counted, never late.
 *
 * Event time: an ISO-8601 string (UTC when it names no zone), or a number of milliseconds since the epoch.
 *
 * Spec field it owns: `watermark`.
 */
import type { DecodedRecord, OperatorDefinition, RecordPosition } from './api.js';
import { numeric } from './window-measures.js';
import type { WatermarkSpec } from '../spec/index.js';
import { field, nonEmpty, objectOf, ref } from './schema-builder.js';

/** One partition's clock. */
export interface PartitionClock {
  /** Greatest event time seen in the partition (ms), or null before the first one. */
  maxEventTimeMs: number | null;
  /** Wall-clock time (ms) the partition last delivered a record, or was first owned. */
  seenAt: number;
}

/** The watermark operator's committed state. */
export interface WatermarkState {
  /** Greatest event time seen by the stream (ms since the epoch), or null before the first one. */
  maxEventTimeMs: number | null;
  /** The stream's watermark after the batch (ms), or null while a partition holds it back. */
  watermarkMs: number | null;
  /** Per partition (key: partition number). */
  partitions: Record<string, PartitionClock>;
  /** Records whose event time was missing or unreadable (since the checkpoint began). */
  unreadable: number;
  /** Late records (since the checkpoint began). */
  late: number;
  /** Late records in this batch. */
  batchLate: number;
  /** Records of this batch whose event time was missing or unreadable. */
  batchUnreadable?: number;
}

/** What the watermark publishes to downstream stages of the same batch (`StageContext.shared.eventTime`). */
export interface EventTimeView {
  column: string;
  /** The stream's watermark now (ms), or null. */
  watermarkMs(): number | null;
}

/** The dead-letter reason of a late record. */
export const LATE_REASON = 'late: event time is behind its partition\'s watermark';

/** Milliseconds since the epoch of an event-time value (ISO-8601 text or epoch ms), or undefined. */
export function eventTimeMs(value: unknown): number | undefined {
  if (typeof value === 'string') {
    const ms = utcTimestampMs(value) ?? textTimeMs(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return numeric(value);
}

/** An ISO-8601 date and time (`T` or a space between), with or without a zone. */
const ISO_DATE_TIME = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?\s*$/;

/**
 * Milliseconds of a time written as text (NaN when unreadable). An ISO-8601 time without a
 * zone is UTC, as the lake stores it, never the machine's local time: `Date.parse` would read
 * `2024-01-01T10:00:00` in the process's time zone, so the same record would fall in another
 * window on another machine. Other forms go to `Date.parse`, which the CLI runs in UTC.
 */
export function textTimeMs(text: string): number {
  const m = ISO_DATE_TIME.exec(text);
  if (!m) return Date.parse(text);
  const zone = m[3] !== undefined || m[4] === undefined ? 'Z' : `${m[4]}${m[5]}:${m[6] ?? '00'}`;
  return Date.parse(`${m[1]}T${m[2]!.replace(',', '.')}${zone}`);
}

/** Digits `s[at..at+n)` as a number, or -1 when one is not a digit. */
function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.sssZ` (the form most producers write) as
 * Date.parse reads it, at a fraction of its cost; undefined for anything else (including
 * years before 1000, left to Date.parse).
 */
export function utcTimestampMs(s: string): number | undefined {
  const n = s.length;
  if ((n !== 20 && n !== 24) || s.charCodeAt(n - 1) !== 90 /* Z */) return undefined;
  if (s[4] !== '-' || s[7] !== '-' || s[10] !== 'T' || s[13] !== ':' || s[16] !== ':' || (n === 24 && s[19] !== '.')) return undefined;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  const milli = n === 24 ? digits(s, 20, 3) : 0;
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || milli < 0) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, milli);
}

/**
 * The stream's watermark over `owned` partitions: the least partition watermark, leaving out
 * partitions idle for `idleMs`. A partition that never delivered an event time holds the
 * watermark back (null) until it is idle. When every partition is idle, the greatest
 * partition watermark counts (all data seen so far is in).
 */
export function streamWatermark(clocks: Record<string, PartitionClock>, owned: number[], delayMs: number, now: number, idleMs?: number): number | null {
  let least: number | null = null;
  let greatest: number | null = null;
  let active = 0;
  for (const p of owned) {
    const clock = clocks[p];
    const wm = clock?.maxEventTimeMs == null ? null : clock.maxEventTimeMs - delayMs;
    if (wm !== null && (greatest === null || wm > greatest)) greatest = wm;
    const idle = idleMs !== undefined && clock !== undefined && now - clock.seenAt >= idleMs;
    if (idle) continue;
    active++;
    if (wm === null) return null;
    if (least === null || wm < least) least = wm;
  }
  return active === 0 ? greatest : least;
}

/** `watermark`: the event-time column, allowed lateness and what happens to late records. */
const watermarkSchema = objectOf<WatermarkSpec>(
  {
    description: 'Event-time watermark: how late a record may arrive, measured on `column`.',
    examples: [{ column: 'event_time', delay: '1m' }],
  },
  {
    column: field({ description: 'Event-time column of the record: ISO-8601 text (UTC when it names no zone) or milliseconds since the epoch.', examples: ['event_time'] }, nonEmpty),
    delay: ref('Duration', { description: 'Allowed lateness behind the greatest event time seen in the same partition.', examples: ['1m', '30s'] }),
    lateData: field(
      {
        description: 'Records behind their partition\'s watermark: `dead_letter` writes them to the dead-letter table (stage `late`), `drop` discards them, `keep` stores them in their table but leaves them out of windows. Always counted.',
        default: 'dead_letter',
        examples: ['dead_letter', 'drop', 'keep'],
      },
      { enum: ['drop', 'dead_letter', 'keep'] },
    ),
    idleTimeout: ref('Duration', { description: 'A partition with no records for this long stops holding its stream\'s watermark back (append windows close without it).', examples: ['5m'] }),
  },
  ['column', 'delay'],
);

export const watermark: OperatorDefinition = {
  kind: 'watermark',
  role: 'transform',
  summary: 'Tracks the greatest event time per partition; records behind their partition\'s watermark (greatest minus delay) are late. State is committed with each batch.',
  spec: { fields: { root: { watermark: watermarkSchema } } },
  ports: { out: 'every on-time record (and late ones under `lateData: keep`)', late: 'late records under `lateData: dead_letter`' },
  failureStage: 'late',
  recordStage(node, ctx) {
    const column = String(node.props.column);
    const delayMs = Number(node.props.delayMs);
    const idleMs = node.props.idleTimeoutMs === undefined ? undefined : Number(node.props.idleTimeoutMs);
    const lateData = String(node.props.lateData ?? 'dead_letter');
    const now = ctx.now ?? Date.now();
    const previous = ctx.state as Partial<WatermarkState> | undefined;
    const partitions: Record<string, PartitionClock> = {};
    for (const [p, c] of Object.entries(previous?.partitions ?? {})) partitions[p] = { ...c };
    for (const p of ctx.partitions ?? []) partitions[p] ??= { maxEventTimeMs: null, seenAt: now };
    const state: WatermarkState = {
      maxEventTimeMs: previous?.maxEventTimeMs ?? null,
      watermarkMs: previous?.watermarkMs ?? null,
      partitions,
      unreadable: previous?.unreadable ?? 0,
      late: previous?.late ?? 0,
      batchLate: 0,
      batchUnreadable: 0,
    };
    const owned = (): number[] => ctx.partitions ?? Object.keys(partitions).map(Number);
    const current = (): number | null => {
      const wm = streamWatermark(partitions, owned(), delayMs, now, idleMs);
      // Never moves back: a partition returning from idle does not reopen closed windows.
      return wm === null ? state.watermarkMs : state.watermarkMs === null ? wm : Math.max(wm, state.watermarkMs);
    };
    if (ctx.shared) ctx.shared.eventTime = { column, watermarkMs: current } satisfies EventTimeView;
    return {
      process(input, at?: RecordPosition) {
        const record = input as DecodedRecord;
        const t = eventTimeMs(record.fields[column]);
        if (t === undefined) {
          state.unreadable++;
          state.batchUnreadable!++;
          return { port: 'out', value: record };
        }
        const clock = (partitions[at?.partition ?? 0] ??= { maxEventTimeMs: null, seenAt: now });
        clock.seenAt = now;
        if (clock.maxEventTimeMs !== null && t < clock.maxEventTimeMs - delayMs) {
          state.late++;
          state.batchLate++;
          if (lateData === 'drop') return { drop: true };
          if (lateData === 'dead_letter') return { port: 'late', error: LATE_REASON };
          if (at) at.late = true;
          return { port: 'out', value: record };
        }
        if (clock.maxEventTimeMs === null || t > clock.maxEventTimeMs) clock.maxEventTimeMs = t;
        if (state.maxEventTimeMs === null || t > state.maxEventTimeMs) state.maxEventTimeMs = t;
        return { port: 'out', value: record };
      },
      snapshot: () => ({ ...state, watermarkMs: current(), partitions: structuredClone(partitions) }),
    };
  },
};
