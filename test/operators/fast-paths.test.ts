/**
 * The decode's fast paths against the slow rules they stand in for: the long-digit-run test
 * before JSON.parse (`/\d{16}/`) and the ISO UTC timestamp reader (Date.parse).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hasLongDigitRun } from '../../src/lake/json-values.js';
import { eventTimeMs, utcTimestampMs } from '../../src/operators/watermark.js';

describe('hasLongDigitRun', () => {
  it('agrees with /\\d{16}/ on texts of digit runs of every length at every offset', () => {
    const piece = fc.oneof(fc.stringMatching(/^[0-9]{1,40}$/), fc.stringMatching(/^[^0-9]{1,20}$/), fc.constantFrom('"', ',', '.', '-', 'e', '١٢٣'));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        const text = pieces.join('');
        expect(hasLongDigitRun(text)).toBe(/\d{16}/.test(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('finds a run of exactly 16 digits wherever it sits', () => {
    for (let at = 0; at < 40; at++) {
      const text = `${'x'.repeat(at)}1234567890123456`;
      expect(hasLongDigitRun(text)).toBe(true);
      expect(hasLongDigitRun(`${text.slice(0, -1)}x${'y'.repeat(at)}`)).toBe(false);
    }
  });
});

describe('utcTimestampMs', () => {
  const two = (n: number) => String(n).padStart(2, '0');
  it('reads what Date.parse reads, or leaves it to Date.parse', () => {
    const stamp = fc
      .record({
        y: fc.integer({ min: 0, max: 9999 }), mo: fc.integer({ min: 0, max: 13 }), d: fc.integer({ min: 0, max: 32 }),
        h: fc.integer({ min: 0, max: 25 }), mi: fc.integer({ min: 0, max: 61 }), s: fc.integer({ min: 0, max: 61 }),
        frac: fc.constantFrom('', '.000', '.5', '.123', '.999', '.123456', ',123'), zone: fc.constantFrom('Z', 'z', '+00:00', '', 'Z '),
      })
      .map(({ y, mo, d, h, mi, s, frac, zone }) => `${String(y).padStart(4, '0')}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:${two(s)}${frac}${zone}`);
    fc.assert(
      fc.property(stamp, (text) => {
        const fast = utcTimestampMs(text);
        const slow = Date.parse(text);
        if (fast !== undefined) expect(fast).toBe(slow);
        // A time without a zone is UTC; a comma may mark the fraction (ISO 8601 allows both).
        const iso = text.replace(',', '.').trim();
        const utc = Date.parse(/([Zz]|[+-]\d\d:\d\d)$/.test(iso) ? iso : `${iso}Z`);
        expect(eventTimeMs(text)).toBe(Number.isNaN(utc) ? undefined : utc);
      }),
      { numRuns: 5000 },
    );
  });

  it('reads a time without a zone as UTC, whatever the machine\'s time zone', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      expect(new Date(2024, 0, 1).getTimezoneOffset()).toBe(300);
      expect(eventTimeMs('2024-01-01T10:00:00')).toBe(Date.UTC(2024, 0, 1, 10));
      expect(eventTimeMs('2024-01-01 10:00:00.250')).toBe(Date.UTC(2024, 0, 1, 10, 0, 0, 250));
      expect(eventTimeMs('2024-01-01T10:00')).toBe(Date.UTC(2024, 0, 1, 10));
      expect(eventTimeMs('2024-01-01')).toBe(Date.UTC(2024, 0, 1));
      expect(eventTimeMs('2024-01-01 10:00:00-05:00')).toBe(Date.UTC(2024, 0, 1, 15));
      expect(eventTimeMs('2024-01-01T10:00:00+0200')).toBe(Date.UTC(2024, 0, 1, 8));
      expect(eventTimeMs('2024-01-01T10:00:00+02')).toBe(Date.UTC(2024, 0, 1, 8));
      expect(eventTimeMs('2024-01-01T10:00:00,5Z')).toBe(Date.UTC(2024, 0, 1, 10, 0, 0, 500));
      expect(eventTimeMs('yesterday')).toBeUndefined();
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('takes the common forms', () => {
    expect(utcTimestampMs('2026-11-30T10:18:16Z')).toBe(Date.UTC(2026, 10, 30, 10, 18, 16));
    expect(utcTimestampMs('2026-11-30T10:18:16.123Z')).toBe(Date.UTC(2026, 10, 30, 10, 18, 16, 123));
    expect(utcTimestampMs('2026-11-30 10:18:16Z')).toBeUndefined();
  });
});
