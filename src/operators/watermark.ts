/**
 * watermark: tracks the greatest event time a stream has seen (`watermark.column`), so the
 * stream's watermark is that minus `watermark.delay`. Its state is committed with each batch
 * and restored on restart, so a crash never moves the watermark back. Records pass through
 * unchanged; event times that are missing or unreadable are counted, not failed.
 *
 * Event time: an ISO-8601 string, or a number of milliseconds since the epoch.
 */
import type { DecodedRecord, OperatorDefinition } from './api.js';

/** The watermark operator's committed state. */
export interface WatermarkState {
  /** Greatest event time seen (ms since the epoch), or null before the first one. */
  maxEventTimeMs: number | null;
  /** Records whose event time was missing or unreadable. */
  unreadable: number;
}

/** Milliseconds since the epoch of an event-time value, or undefined. */
export function eventTimeMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

export const watermark: OperatorDefinition = {
  kind: 'watermark',
  role: 'transform',
  summary: 'Tracks the greatest event time per stream; the watermark is that minus the delay. State is committed with each batch.',
  ports: { out: 'every record, unchanged' },
  recordStage(node, ctx) {
    const column = String(node.props.column);
    const previous = ctx.state as WatermarkState | undefined;
    const state: WatermarkState = { maxEventTimeMs: previous?.maxEventTimeMs ?? null, unreadable: previous?.unreadable ?? 0 };
    return {
      process(input) {
        const record = input as DecodedRecord;
        const t = eventTimeMs(record.fields[column]);
        if (t === undefined) state.unreadable++;
        else if (state.maxEventTimeMs === null || t > state.maxEventTimeMs) state.maxEventTimeMs = t;
        return { port: 'out', value: record };
      },
      snapshot: () => ({ ...state }),
    };
  },
};
