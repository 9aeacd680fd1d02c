/**
 * Sizing and naming advice (`validate --advice` / `--partitions N`): warnings only when asked,
 * each at the line of the value it is about, and never an error.
 */
import { describe, expect, it } from 'vitest';
import { loadSpecText } from '../../src/spec/index.js';

const spec = (streams: number, topic: string) => `apiVersion: pipeline/v1
name: shop
source:
  kafka:
    brokers: "a:9092"
    topic: ${topic}
streams: ${streams}
routing:
  field: event_type
  routes: { orders: orders }
tables:
  orders: { mergeKeys: [id], sequenceBy: seq }
output:
  path: ./lake
`;

const advise = (streams: number, topic: string, partitions?: number) =>
  loadSpecText(spec(streams, topic), 's.yaml', { env: {}, advice: { partitions } }).diagnostics.map((d) => `${d.severity} ${d.code}@${d.line}:${d.col} ${d.message}`);

describe('sizing advice', () => {
  it('is silent unless asked, and silent for a spec that follows it', () => {
    expect(loadSpecText(spec(3, 'events'), 's.yaml', { env: {} }).diagnostics).toEqual([]);
    expect(advise(4, 'commerce.orders.v1', 64)).toEqual([]);
    expect(advise(1, 'commerce.orders.v1', 3)).toEqual([]);
    // Without a partition count only the name can be judged.
    expect(advise(8, 'commerce.orders.v1')).toEqual([]);
  });

  it('warns about streams the partition count cannot feed or keep even', () => {
    expect(advise(8, 'commerce.orders.v1', 6)).toEqual(['warning PIPE0052@7:10 streams: 8 but the topic has 6 partitions: 2 streams would own no partition and idle']);
    expect(advise(2, 'commerce.orders.v1', 6)).toEqual(['warning PIPE0053@7:10 streams: 2 over 6 partitions: more than one stream rarely pays under 10 partitions']);
    expect(advise(6, 'commerce.orders.v1', 64)).toEqual(['warning PIPE0055@7:10 64 partitions over streams: 6 give some streams 11 partitions and others 10']);
    const hint = loadSpecText(spec(6, 'commerce.orders.v1'), 's.yaml', { env: {}, advice: { partitions: 64 } }).diagnostics[0]!.hint;
    expect(hint).toBe('choose streams dividing 64 (e.g. 4 or 8) so every stream has the same share');
  });

  it('warns about topic names that do not follow domain.entity.version', () => {
    for (const bad of ['events', 'events_topic', 'commerce.orders', 'Commerce.Orders.v1', 'commerce.orders.1', 'commerce..v1']) {
      expect(advise(1, bad), bad).toEqual([`warning PIPE0054@6:12 topic \`${bad}\` does not follow \`domain.entity.version\` (e.g. \`commerce.orders.v1\`)`]);
    }
    for (const good of ['commerce.orders.v1', 'shop.public.changes.v12', 'billing.invoice_lines.v2']) expect(advise(1, good), good).toEqual([]);
  });
});
