/**
 * The Delta source's batching and numbering, against a model written from the documented rule:
 * a batch holds whole versions, at most `maxRows` rows unless its first version alone holds
 * more, and consecutive batches cover every row once, in order; a row's offset is
 * `version * 10^9 + its index within the version`, whatever the cut.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { capRows, type VersionRead } from '../../src/operators/source-delta.js';
import { ROWS_PER_VERSION, toMessages } from '../../src/runtime/delta-source-run.js';
import { decodeJsonValue } from '../../src/operators/decode-json.js';

/** A read of versions `(after, after + files.length]` where version v adds files of the given row counts. */
function readOf(after: number, versions: number[][]): VersionRead {
  const files = versions.flatMap((counts, i) => counts.map((n, j) => ({ version: after + 1 + i, file: { add: { path: `v${after + 1 + i}-f${j}.parquet` } } as never, rows: n })));
  const rows = files.flatMap((f) => Array.from({ length: f.rows }, (_, k) => ({ v: f.version, f: f.file, k })));
  return {
    changes: { after, upTo: after + versions.length, files: files.map(({ version, file }) => ({ version, file })), skippedRewrites: [], ignoredRemoves: [] },
    rows,
    fileRows: files.map((f) => f.rows),
  };
}

/** Drops the first `n` versions of a read (what the next batch reads after a cut). */
function after(read: VersionRead, upTo: number): VersionRead {
  const keep = read.changes.files.map((f, i) => [f, i] as const).filter(([f]) => f.version > upTo);
  const skipped = read.fileRows.slice(0, read.fileRows.length - keep.length).reduce((a, b) => a + b, 0);
  return {
    changes: { ...read.changes, after: upTo, files: keep.map(([f]) => f) },
    rows: read.rows.slice(skipped),
    fileRows: keep.map(([, i]) => read.fileRows[i]!),
  };
}

describe('source-delta batches', () => {
  it('cut at version boundaries, never above maxRows but for a lone version, covering every row once', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 3 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 15 }), (versions, maxRows) => {
        const whole = readOf(4, versions);
        const seen: unknown[] = [];
        let rest = whole;
        for (let guard = 0; rest.rows.length > 0; guard++) {
          expect(guard).toBeLessThan(100);
          const batch = capRows(rest, maxRows);
          const versionsIn = new Set(batch.changes.files.filter((_, i) => batch.fileRows[i]! > 0).map((f) => f.version));
          // Whole versions: every row of each version in the batch is in it.
          for (const v of versionsIn) expect(batch.rows.filter((r) => (r as { v: number }).v === v).length).toBe(whole.rows.filter((r) => (r as { v: number }).v === v).length);
          if (versionsIn.size > 1) expect(batch.rows.length).toBeLessThanOrEqual(maxRows);
          expect(batch.rows.length).toBeGreaterThan(0);
          expect(batch.fileRows.reduce((a, b) => a + b, 0)).toBe(batch.rows.length);
          seen.push(...batch.rows);
          rest = after(rest, batch.changes.upTo);
        }
        expect(seen).toEqual(whole.rows);
      }),
    );
  });

  it('numbers rows by version and position within it, the same whatever the cut', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 9 }), (versions, maxRows) => {
        const whole = readOf(0, versions);
        const reference = whole.changes.files.flatMap((f, i) => Array.from({ length: whole.fileRows[i]! }, () => f.version));
        const expected = reference.map((v, i) => v * ROWS_PER_VERSION + reference.slice(0, i).filter((x) => x === v).length);
        const offsets: number[] = [];
        for (let rest = whole; rest.rows.length > 0; ) {
          const batch = capRows(rest, maxRows);
          offsets.push(...toMessages(batch).map((m) => Number(m.offset)));
          rest = after(rest, batch.changes.upTo);
        }
        expect(offsets).toEqual(expected);
      }),
    );
  });

  it('hands rows over as JSON the decoder reads back: big integers and dates as text, bytes as base64', () => {
    const read: VersionRead = {
      changes: { after: 2, upTo: 3, files: [{ version: 3, file: { add: { path: 'a.parquet' } } as never }], skippedRewrites: [], ignoredRemoves: [] },
      rows: [{ id: 7n, big: 2n ** 60n, at: new Date('2026-03-01T10:00:00.000Z'), blob: Buffer.from('hi'), nested: { n: 1n, list: [2n] }, none: null }],
      fileRows: [1],
    };
    const [m] = toMessages(read);
    expect(m!.offset).toBe(String(3 * ROWS_PER_VERSION));
    expect(JSON.parse(m!.value!.toString())).toEqual({ id: 7, big: '1152921504606846976', at: '2026-03-01T10:00:00.000Z', blob: 'aGk=', nested: { n: 1, list: [2] }, none: null });
  });

  it('spells NaN and ±Infinity as bare tokens, so the record is dead-lettered naming them instead of stored with NULL', () => {
    const read: VersionRead = {
      changes: { after: 0, upTo: 1, files: [{ version: 1, file: { add: { path: 'a.parquet' } } as never }], skippedRewrites: [], ignoredRemoves: [] },
      // The second row's text looks like a marker a fixed-name scheme could have used: it stays text.
      rows: [{ id: 1, ratio: Number.NaN, list: [Number.NEGATIVE_INFINITY, 2], note: 'NaN' }, { id: 2, ratio: 0.5, note: '__pipeline_non_finite__NaN' }],
      fileRows: [2],
    };
    const [bad, good] = toMessages(read);
    expect(bad!.value!.toString()).toBe('{"id":1,"ratio":NaN,"list":[-Infinity,2],"note":"NaN"}');
    expect(decodeJsonValue(bad!.value!)).toEqual({ ok: false, error: 'invalid JSON: it holds NaN, which JSON cannot spell and no table column can store' });
    expect(decodeJsonValue(good!.value!)).toEqual({ ok: true, value: { id: 2, ratio: 0.5, note: '__pipeline_non_finite__NaN' }, lossless: false });
  });
});
