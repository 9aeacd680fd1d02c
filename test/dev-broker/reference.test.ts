import { describe, expect, it } from 'vitest';
import { commerceReferenceSpec, computeReference, type ReferenceSpec } from '../../src/dev-broker/reference.js';
import { generateEvents, UNKNOWN_EVENT_TYPE } from '../../src/dev-broker/events.js';

const spec: ReferenceSpec = {
  routing: { field: 'event_type', routes: { orders: 'orders', analytics: 'clicks' }, unmatched: 'dead_letter' },
  tables: {
    orders: { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' },
    clicks: { mode: 'append' },
  },
};
const ev = (o: unknown) => ({ value: Buffer.from(JSON.stringify(o)) });

describe('reference model', () => {
  it('keeps the greatest seq per key, the first of equal seqs, and every append record', () => {
    const events = [
      ev({ event_type: 'orders', id: 'ord-2', seq: 1, status: 'created' }),
      ev({ event_type: 'orders', id: 'ord-1', seq: 2, status: 'paid' }),
      ev({ event_type: 'orders', id: 'ord-1', seq: 1, status: 'created' }), // late, older: ignored
      ev({ event_type: 'analytics', id: 'evt-1', seq: 1, page: '/' }),
      ev({ event_type: 'orders', id: 'ord-2', seq: 3, status: 'shipped' }),
      ev({ event_type: 'orders', id: 'ord-2', seq: 3, status: 'duplicate-tie' }), // tie: first wins
      ev({ event_type: 'orders', id: 'ord-3', seq: null, status: 'no-seq' }), // fills an absent key
      ev({ event_type: 'orders', id: 'ord-3', seq: 1, status: 'has-seq' }),
      ev({ event_type: 'analytics', id: 'evt-1', seq: 1, page: '/cart' }), // append keeps repeats
      ev({ event_type: 'legacy_audit', id: 'aud-1', seq: 1 }), // unknown route
      ev({ id: 'ord-9', seq: 1 }), // no routing field
      ev({ event_type: 7, id: 'ord-8', seq: 1 }), // routing field not a string
      { value: Buffer.from('{"event_type":"orders","id":"ord-4"') }, // truncated
      { value: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) }, // invalid UTF-8
      ev([{ event_type: 'orders', id: 'ord-5', seq: 1 }]), // not an object
      ev('orders'),
    ];
    const result = computeReference(events, spec);
    expect(result.tables.orders!.rows).toEqual([
      { event_type: 'orders', id: 'ord-1', seq: 2, status: 'paid' },
      { event_type: 'orders', id: 'ord-2', seq: 3, status: 'shipped' },
      { event_type: 'orders', id: 'ord-3', seq: 1, status: 'has-seq' },
    ]);
    expect(result.tables.orders!.routed).toBe(7);
    expect(result.tables.clicks!.rows).toEqual([
      { event_type: 'analytics', id: 'evt-1', seq: 1, page: '/' },
      { event_type: 'analytics', id: 'evt-1', seq: 1, page: '/cart' },
    ]);
    expect(result).toMatchObject({ malformed: 4, unmatched: 3, deadLetter: 7, total: 16 });
    expect(computeReference(events, { ...spec, routing: { ...spec.routing, unmatched: 'drop' } }).deadLetter).toBe(4);
  });

  it('refuses what it does not model', () => {
    expect(() => computeReference([], { ...spec, tables: { orders: { mode: 'upsert', mergeKeys: ['id'] } } })).toThrow(/sequenceBy/);
    expect(() => computeReference([], { ...spec, tables: { orders: { mode: 'scd2', mergeKeys: ['id'], sequenceBy: 'seq' } } })).toThrow(/scd2/);
  });
});

describe('commerce event generator', () => {
  it('is deterministic per seed and shaped as documented', () => {
    const a = [...generateEvents({ count: 20_000, seed: 7 })];
    const b = [...generateEvents({ count: 20_000, seed: 7 })];
    const c = [...generateEvents({ count: 200, seed: 8 })];
    expect(a.map((e) => e.value.toString('hex'))).toEqual(b.map((e) => e.value.toString('hex')));
    expect(c.map((e) => e.value.toString('hex'))).not.toEqual(a.slice(0, 200).map((e) => e.value.toString('hex')));

    const avgBytes = a.reduce((s, e) => s + e.value.length, 0) / a.length;
    expect(avgBytes).toBeGreaterThan(200);
    expect(avgBytes).toBeLessThan(320);

    const ref = computeReference(a, commerceReferenceSpec());
    // Rates: 0.2 % malformed (a quarter of them lose event_type and count as unmatched), 0.5 % unknown.
    expect(ref.malformed).toBeGreaterThan(10);
    expect(ref.malformed).toBeLessThan(60);
    expect(ref.unmatched).toBeGreaterThan(60);
    expect(ref.unmatched).toBeLessThan(160);
    expect(a.filter((e) => e.value.includes(UNKNOWN_EVENT_TYPE)).length).toBe(a.filter((e) => e.key?.startsWith('aud-')).length);

    // Every decodable record's key is its id; upsert keys carry ~4 versions, some out of order.
    let outOfOrder = 0;
    let keyMismatches = 0;
    const lastSeq = new Map<string, number>();
    for (const e of a) {
      let rec: { id?: string; seq?: number; event_type?: string };
      try {
        rec = JSON.parse(e.value.toString());
      } catch {
        continue;
      }
      if (Array.isArray(rec) || !rec.id) continue;
      if (e.key !== rec.id) keyMismatches++;
      if (rec.event_type === 'analytics' || !rec.event_type) continue;
      if ((lastSeq.get(rec.id) ?? 0) > rec.seq!) outOfOrder++;
      lastSeq.set(rec.id, Math.max(lastSeq.get(rec.id) ?? 0, rec.seq!));
    }
    expect(keyMismatches).toBe(0);
    const upsertRouted = Object.values(ref.tables).filter((t) => t.mode === 'upsert').reduce((s, t) => s + t.routed, 0);
    const upsertKeys = Object.values(ref.tables).filter((t) => t.mode === 'upsert').reduce((s, t) => s + t.rows.length, 0);
    expect(upsertRouted / upsertKeys).toBeGreaterThan(3);
    expect(upsertRouted / upsertKeys).toBeLessThan(5);
    expect(outOfOrder).toBeGreaterThan(100);
    expect(ref.tables.analytics!.rows.length).toBe(ref.tables.analytics!.routed);
  });
});
