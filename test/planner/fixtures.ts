/**
 * Spec builders for planner tests: complete, validated-looking PipelineSpec objects (defaults
 * applied, as the loader returns them), so planner tests do not depend on YAML parsing.
 */
import type { PipelineSpec, TableSpec } from '../../src/spec/types.js';

const ROUTED_TYPES = ['orders', 'users', 'payments', 'inventory', 'products', 'shipments', 'refunds', 'reviews'];

function upsert(): TableSpec {
  return { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' };
}

/**
 * The multi-stream routing case, mirroring `pipelines/commerce-events.yaml`: 9 routes to
 * same-named tables, 8 upsert tables on [id] by seq, `analytics` append-only.
 */
export function commerceSpec(): PipelineSpec {
  const tables: Record<string, TableSpec> = {};
  const routes: Record<string, string> = {};
  for (const t of ROUTED_TYPES) {
    tables[t] = upsert();
    routes[t] = t;
  }
  tables.analytics = { mode: 'append' };
  routes.analytics = 'analytics';
  return {
    apiVersion: 'pipeline/v1',
    name: 'commerce-events',
    description: 'Route heterogeneous commerce events into per-type gold tables.',
    source: {
      kafka: { brokers: ['localhost:9092'], topic: 'events_topic', startingOffsets: 'earliest', ssl: false, failOnDataLoss: true },
      format: 'json',
    },
    streams: 4,
    trigger: { interval: '5s', maxRecordsPerBatch: 100000 },
    watermark: { column: 'event_time', delay: '1m' },
    routing: { field: 'event_type', routes, unmatched: 'dead_letter' },
    tables,
    deadLetter: { table: '_dead_letter' },
    output: { path: './lake' },
    checkpoint: { path: './lake/_checkpoints' },
  };
}

/**
 * A small second shape: avro, one stream, two routes into one table, unmatched dropped,
 * SASL credentials (which must never be rendered), columns, partitionBy and deleteWhen.
 */
export function smallAvroSpec(): PipelineSpec {
  return {
    apiVersion: 'pipeline/v1',
    name: 'billing',
    source: {
      kafka: {
        brokers: ['kafka-1.internal:9093', 'kafka-2.internal:9093'],
        topic: 'billing.v2',
        startingOffsets: 'latest',
        groupIdPrefix: 'billing-lake',
        ssl: true,
        sasl: { mechanism: 'scram-sha-512', username: 'billing', password: 'hunter2-secret' },
        failOnDataLoss: false,
      },
      format: 'avro',
      schema: { file: 'schemas/billing.avsc' },
    },
    streams: 1,
    trigger: { interval: '30s', maxRecordsPerBatch: 5000 },
    routing: { field: 'kind', routes: { invoice_paid: 'invoices', invoice_created: 'invoices', ledger: 'ledger' }, unmatched: 'drop' },
    tables: {
      ledger: { mode: 'append', partitionBy: ['day'] },
      invoices: {
        mode: 'upsert',
        mergeKeys: ['invoice_id'],
        sequenceBy: 'version',
        columns: { invoice_id: 'VARCHAR', amount_cents: 'BIGINT' },
        deleteWhen: "kind = 'invoice_voided'",
      },
    },
    deadLetter: { table: '_rejects' },
    output: { path: '/srv/lake/billing/' },
    checkpoint: { path: '/srv/lake/billing/_checkpoints' },
  };
}

/** A deep copy to mutate in a test without touching the builder's other results. */
export function edit(spec: PipelineSpec, change: (s: PipelineSpec) => void): PipelineSpec {
  const copy = structuredClone(spec);
  change(copy);
  return copy;
}
