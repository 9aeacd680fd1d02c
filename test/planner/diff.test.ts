import { describe, expect, it } from 'vitest';
import { allSafe, diffNewPipeline, diffSpecs } from '../../src/planner/diff.js';
import { renderDiffJson, renderDiffText } from '../../src/planner/render-diff.js';
import { commerceSpec, edit, smallAvroSpec } from './fixtures.js';
import type { PipelineSpec } from '../../src/spec/types.js';

const base = commerceSpec();
const only = (change: Parameters<typeof edit>[1]) => diffSpecs(base, edit(base, change));

describe('diffSpecs: no change', () => {
  it('finds nothing between a spec and itself, or a reordered/respelled copy', () => {
    expect(diffSpecs(base, commerceSpec())).toEqual([]);
    const same = edit(base, (s) => {
      s.tables = Object.fromEntries(Object.entries(s.tables).reverse());
      s.routing.routes = Object.fromEntries(Object.entries(s.routing.routes).reverse());
      s.trigger.interval = '5000ms';
      s.watermark!.delay = '60s';
      s.output.path = 'lake/';
      s.checkpoint.path = 'lake/_checkpoints';
      s.source.kafka!.groupIdPrefix = 'pipeline-commerce-events';
      s.tables.orders!.partitionBy = [];
      s.tables.analytics!.mergeKeys = ['ignored-for-append'];
    });
    expect(diffSpecs(base, same)).toEqual([]);
    expect(allSafe([])).toBe(true);
  });
});

describe('diffSpecs: safe', () => {
  it('trigger, description, batch cap and a new table with a new route', () => {
    const changes = only((s) => {
      s.trigger.interval = '10s';
      s.trigger.maxRecordsPerBatch = 50000;
      s.description = 'now documented differently';
      s.tables.returns = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' };
      s.routing.routes.returns = 'returns';
    });
    expect(changes).toEqual([
      { path: 'description', before: 'Route heterogeneous commerce events into per-type gold tables.', after: 'now documented differently', impact: 'safe', message: 'description changed (documentation only)' },
      { path: 'trigger.interval', before: '5s', after: '10s', impact: 'safe', message: 'batches close every 10s instead of 5s' },
      { path: 'trigger.maxRecordsPerBatch', before: 100000, after: 50000, impact: 'safe', message: 'batches are capped at 50000 records instead of 100000' },
      { path: 'routing.routes.returns', before: null, after: 'returns', impact: 'safe', message: "records with event_type = 'returns' now land in table returns (a new table); before, they went to the dead-letter table _dead_letter" },
      { path: 'tables.returns', before: null, after: { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' }, impact: 'safe', message: 'new table returns (upsert on [id], sequenceBy seq) at ./lake/returns' },
    ]);
    expect(allSafe(changes)).toBe(true);
  });

  it('write mode and housekeeping of a table are safe (rows mean the same)', () => {
    const changes = only((s) => {
      s.tables.orders!.writeMode = 'merge-on-read';
      s.tables.orders!.maintenance = { compactSmallFiles: true };
    });
    expect(changes.map((c) => [c.path, c.impact])).toEqual([['tables.orders.writeMode', 'safe'], ['tables.orders.maintenance', 'safe']]);
    expect(changes[0]!.message).toContain('deletion vectors');
    expect(allSafe(changes)).toBe(true);
  });

  it('keeps brokers safe while one address is kept, and treats list order as irrelevant', () => {
    const spec = edit(base, (s) => (s.source.kafka!.brokers = ['b:9092', 'a:9092']));
    expect(diffSpecs(spec, edit(spec, (s) => (s.source.kafka!.brokers = ['a:9092', 'b:9092'])))).toEqual([]);
    expect(diffSpecs(spec, edit(spec, (s) => (s.source.kafka!.brokers = ['a:9092', 'c:9092'])))).toEqual([
      { path: 'source.kafka.brokers', before: ['a:9092', 'b:9092'], after: ['a:9092', 'c:9092'], impact: 'safe', message: 'bootstrap servers changed; a:9092 is kept, so this is taken to be the same cluster (offsets stay valid)' },
    ]);
  });

  it('masks a changed SASL password', () => {
    const small = smallAvroSpec();
    const changes = diffSpecs(small, edit(small, (s) => (s.source.kafka!.sasl!.password = 'rotated-secret')));
    expect(changes).toEqual([
      { path: 'source.kafka.sasl.password', before: '***', after: '***', impact: 'safe', message: 'sasl.password changed (value redacted; connection setting only)' },
    ]);
    expect(renderDiffJson(changes)).not.toMatch(/hunter2|rotated/);
  });

  it('treats a widening column type as safe and a narrowing one as a table change', () => {
    const small = smallAvroSpec();
    const widened = diffSpecs(edit(small, (s) => (s.tables.invoices!.columns!.amount_cents = 'int')), small);
    expect(widened).toEqual([
      { path: 'tables.invoices.columns.amount_cents', before: 'int', after: 'BIGINT', impact: 'safe', message: 'column invoices.amount_cents widens from INTEGER to BIGINT; the next write that brings it rewrites the table\'s files as BIGINT' },
    ]);
    const narrowed = diffSpecs(small, edit(small, (s) => (s.tables.invoices!.columns!.amount_cents = 'VARCHAR')));
    expect(narrowed[0]!.impact).toBe('table');
    expect(narrowed[0]!.message).toBe('column invoices.amount_cents changes type from BIGINT to VARCHAR: existing Parquet files hold BIGINT; run stops until --allow-layout-change rewrites the table, converting every stored value exactly');
  });
});

describe('diffSpecs: checkpoint', () => {
  it('says that changing streams breaks checkpoints and that the runner will refuse', () => {
    expect(only((s) => (s.streams = 8))).toEqual([
      {
        path: 'streams', before: 4, after: 8, impact: 'checkpoint',
        message: 'streams changes from 4 to 8: partition ownership (p % streams) changes, so the per-stream checkpoints no longer match their partitions. Checkpoint-breaking: the runner will refuse to start unless the checkpoints are re-sharded (pipeline run --reshard) or reset',
      },
    ]);
  });

  it('topic, name, format, checkpoint path and a wholly replaced broker list', () => {
    const changes = only((s) => {
      s.source.kafka!.topic = 'events_v2';
      s.name = 'commerce';
      s.source.format = 'avro';
      s.checkpoint.path = './state';
      s.source.kafka!.brokers = ['other:9092'];
    });
    expect(changes.map((c) => [c.path, c.impact])).toEqual([
      ['name', 'checkpoint'],
      ['source.kafka.topic', 'checkpoint'],
      ['source.kafka.brokers', 'checkpoint'],
      ['source.format', 'checkpoint'],
      ['checkpoint.path', 'checkpoint'],
    ]);
    expect(changes[0]!.message).toBe(
      "renaming the pipeline from commerce-events to commerce: the checkpoint belongs to commerce-events, so the runner will refuse to start on it, and the Delta txn appIds (<name>/<stream>) change, so batches already committed are not recognised; give the renamed pipeline a new checkpoint.path and new tables, or keep the name",
    );
    expect(changes[1]!.message).toBe('source topic changes from events_topic to events_v2: the checkpoint holds offsets of events_topic, which mean nothing in events_v2, so the runner will refuse to start on it; use a new checkpoint.path (and new tables), or keep the topic');
    expect(changes[2]!.message).toBe('every bootstrap server is replaced: if this is a different Kafka cluster, the checkpointed offsets do not apply there; reset the checkpoints, or approve if it is the same cluster under new addresses');
    expect(changes[4]!.message).toBe('checkpoints move from ./lake/_checkpoints to ./state: the streams find no checkpoint there and start over from startingOffsets; move the checkpoint directories first');
  });

  it('a switch between a topic and a Delta table, or another table, breaks the checkpoint; removes and startingVersion are safe', () => {
    const toDelta = (s: PipelineSpec) => {
      delete s.source.kafka;
      s.source.delta = { path: './gold/analytics', removes: 'fail', startingVersion: 'earliest' };
    };
    const switched = only(toDelta);
    expect(switched.map((c) => [c.path, c.impact])).toEqual([['source.kafka', 'checkpoint']]);
    expect(switched[0]!.message).toContain('source changes from Kafka topic events_topic to Delta table ./gold/analytics');
    const delta = edit(base, toDelta);
    expect(diffSpecs(delta, base).map((c) => [c.path, c.impact])).toEqual([['source.delta', 'checkpoint']]);
    const moved = diffSpecs(delta, edit(delta, (s) => {
      s.source.delta = { path: './gold/orders', removes: 'ignore', startingVersion: 'latest' };
    }));
    expect(moved.map((c) => [c.path, c.impact])).toEqual([
      ['source.delta.path', 'checkpoint'],
      ['source.delta.removes', 'safe'],
      ['source.delta.startingVersion', 'safe'],
    ]);
    expect(diffSpecs(delta, edit(delta, () => {}))).toEqual([]);
  });

  it('schema sources: a new schema or framing reaches the tables, a moved registry is safe', () => {
    const base = (s: PipelineSpec) => {
      s.source.format = 'avro';
      s.source.schema = { registry: { url: 'http://r1:8081' }, reader: 'a.avsc' };
    };
    const before = commerceSpec();
    base(before);
    const after = commerceSpec();
    base(after);
    after.source.schema = { registry: { url: 'http://r2:8081', basicAuthEnv: 'AUTH' }, reader: 'b.avsc' };
    after.source.wireFormat = 'raw';
    expect(diffSpecs(before, after).map((c) => [c.path, c.impact])).toEqual([
      ['source.wireFormat', 'checkpoint'],
      ['source.schema.reader', 'table'],
      ['source.schema.registry', 'safe'],
    ]);
  });

  it('reports settings it does not know, conservatively', () => {
    const changes = only((s) => ((s as unknown as Record<string, unknown>).experimental = { mode: 'staged', token: 'abc' }));
    expect(changes).toEqual([
      { path: 'experimental', before: null, after: { mode: 'staged', token: '***' }, impact: 'checkpoint', message: "experimental changed; pipeline diff does not know this setting's impact, so treat it as checkpoint-breaking until reviewed" },
    ]);
  });
});

describe('diffSpecs: table', () => {
  it('mergeKeys, mode, partitionBy, sequenceBy, output path, removed table', () => {
    expect(only((s) => (s.tables.orders!.mergeKeys = ['order_id']))).toEqual([
      { path: 'tables.orders.mergeKeys', before: ['id'], after: ['order_id'], impact: 'table', message: 'table orders merges on [order_id] instead of [id]: rows already in the table were deduplicated by the old key; rewrite the table before running' },
    ]);
    expect(only((s) => (s.tables.payments!.mode = 'append'))).toEqual([
      { path: 'tables.payments.mode', before: 'upsert', after: 'append', impact: 'table', message: 'table payments changes mode from upsert to append: the rows already written follow upsert semantics; rewrite the table (or write to a new one) before running' },
    ]);
    expect(only((s) => (s.tables.orders!.partitionBy = ['day']))[0]!.message).toBe(
      'table orders is partitioned by [day] instead of []: existing files use the old layout; rewrite the table',
    );
    expect(only((s) => (s.tables.orders!.sequenceBy = 'updated_at'))[0]).toMatchObject({ impact: 'table', path: 'tables.orders.sequenceBy', before: 'seq', after: 'updated_at' });
    expect(only((s) => (s.output.path = './gold'))).toEqual([
      { path: 'output.path', before: './lake', after: './gold', impact: 'table', message: 'every table moves from ./lake to ./gold: the tables at the old path are orphaned and the new ones start empty; move the data first' },
    ]);
    const removed = only((s) => {
      delete s.tables.reviews;
      delete s.routing.routes.reviews;
    });
    expect(removed).toEqual([
      { path: 'routing.routes.reviews', before: 'reviews', after: null, impact: 'routing', message: "records with event_type = 'reviews' no longer land in table reviews; they now go to the dead-letter table _dead_letter" },
      { path: 'tables.reviews', before: { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' }, after: null, impact: 'table', message: 'table reviews is no longer written: its data at ./lake/reviews is orphaned (archive or delete it)' },
    ]);
  });
});

describe('diffSpecs: routing', () => {
  it('retargeted route, unmatched to drop, routing field', () => {
    expect(only((s) => (s.routing.routes.refunds = 'payments'))).toEqual([
      { path: 'routing.routes.refunds', before: 'refunds', after: 'payments', impact: 'routing', message: "records with event_type = 'refunds' now land in table payments instead of refunds" },
    ]);
    expect(only((s) => (s.routing.unmatched = 'drop'))).toEqual([
      { path: 'routing.unmatched', before: 'dead_letter', after: 'drop', impact: 'routing', message: 'records whose event_type matches no route are now dropped instead of written to the dead-letter table _dead_letter' },
    ]);
    expect(only((s) => (s.routing.field = 'type'))).toEqual([
      { path: 'routing.field', before: 'event_type', after: 'type', impact: 'routing', message: 'records are routed by type instead of event_type: records whose type matches no route now go to the dead-letter table _dead_letter' },
    ]);
    const dropped = only((s) => {
      s.routing.unmatched = 'drop';
      delete s.routing.routes.analytics;
    });
    expect(dropped[0]!.message).toBe("records with event_type = 'analytics' no longer land in table analytics; they are now dropped");
  });
});

describe('diffSpecs: derive and where', () => {
  it('a new, changed or removed computed column is a table change; a changed where is a routing change', () => {
    const withDerive = edit(base, (s) => {
      s.source.derive = { day: 'CAST(ts AS DATE)' };
      s.tables.orders!.derive = { cents: 'CAST(amount * 100 AS BIGINT)', big: 'amount > 100' };
      s.tables.orders!.where = "status <> 'test'";
    });
    expect(diffSpecs(base, withDerive).map((c) => [c.path, c.impact])).toEqual([
      ['source.derive.day', 'table'],
      ['tables.orders.derive.big', 'table'],
      ['tables.orders.derive.cents', 'table'],
      ['tables.orders.where', 'routing'],
    ]);
    const changed = edit(withDerive, (s) => {
      s.source.derive = { day: "CAST(ts AS DATE) - INTERVAL '1 day'" };
      delete s.tables.orders!.derive!.big;
      s.tables.orders!.where = undefined;
    });
    const changes = diffSpecs(withDerive, changed);
    expect(changes.map((c) => [c.path, c.impact])).toEqual([
      ['source.derive.day', 'table'],
      ['tables.orders.derive.big', 'table'],
      ['tables.orders.where', 'routing'],
    ]);
    expect(changes[0]!.message).toBe("all tables will compute column day as CAST(ts AS DATE) - INTERVAL '1 day' instead of CAST(ts AS DATE); rows written before keep the old values: rewrite the table to stay consistent");
    expect(changes[2]!.message).toBe("table orders will write every record again (no longer only those where status <> 'test')");
    // Reordering computed columns can change what a later one sees.
    const reordered = edit(withDerive, (s) => {
      s.tables.orders!.derive = { big: 'amount > 100', cents: 'CAST(amount * 100 AS BIGINT)' };
    });
    expect(diffSpecs(withDerive, reordered).map((c) => [c.path, c.impact])).toEqual([['tables.orders.derive', 'table']]);
  });

  it('an expectation that only warns is safe; one that drops, quarantines or fails changes what is written', () => {
    const warned = edit(base, (s) => {
      s.tables.orders!.expectations = [{ name: 'positive', expr: 'amount > 0', action: 'warn' }];
    });
    expect(diffSpecs(base, warned).map((c) => [c.path, c.impact, c.message])).toEqual([
      ['tables.orders.expectations.positive', 'safe', 'table orders will check expectation positive: amount > 0 (warn)'],
    ]);
    const strict = edit(warned, (s) => {
      s.tables.orders!.expectations![0]!.action = 'quarantine';
      s.source.expectations = [{ name: 'has_id', expr: 'id IS NOT NULL', action: 'fail' }];
    });
    expect(diffSpecs(warned, strict).map((c) => [c.path, c.impact])).toEqual([
      ['source.expectations.has_id', 'routing'],
      ['tables.orders.expectations.positive', 'routing'],
    ]);
    // A unique key is compared by its columns: changing them changes which records are left out.
    const unique = edit(base, (s) => {
      s.tables.orders!.expectations = [{ name: 'one_per_id', unique: ['id'], action: 'drop' }];
    });
    const wider = edit(unique, (s) => {
      s.tables.orders!.expectations![0]!.unique = ['id', 'seq'];
    });
    expect(diffSpecs(unique, wider).map((c) => [c.path, c.impact, c.message])).toEqual([
      ['tables.orders.expectations.one_per_id', 'routing', 'table orders will check expectation one_per_id as unique (id, seq) (drop) instead of unique (id) (drop)'],
    ]);
    expect(diffSpecs(unique, edit(unique, () => {}))).toEqual([]);
  });
});

describe('diffNewPipeline and rendering', () => {
  it('lists a new pipeline as safe additions', () => {
    const changes = diffNewPipeline(smallAvroSpec());
    expect(changes.map((c) => c.message)).toEqual([
      'new pipeline billing: nothing is deployed yet, so nothing can break',
      'new table invoices (upsert on [invoice_id], sequenceBy version) at /srv/lake/billing/invoices',
      'new table ledger (append) at /srv/lake/billing/ledger',
    ]);
    expect(allSafe(changes)).toBe(true);
  });

  it('renders text with a verdict, and JSON with every field', () => {
    const changes = only((s) => {
      s.streams = 8;
      s.trigger.interval = '10s';
    });
    const text = renderDiffText(changes);
    expect(text).toContain('checkpoint  streams: 4 -> 8\n');
    expect(text).toContain('safe        trigger.interval: 5s -> 10s\n            batches close every 10s instead of 5s\n');
    expect(text.trimEnd().split('\n').at(-1)).toBe('2 changes (1 safe, 1 checkpoint): not every change is safe: review and approve before deploying');
    expect(renderDiffText([])).toBe('no changes\n');
    expect(JSON.parse(renderDiffJson(changes))).toEqual({ changes });
  });
});
