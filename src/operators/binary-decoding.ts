/**
 * What the binary decoders (decode-avro, decode-protobuf) share: the decode node's props, the
 * registry step that runs before a batch's transform, and the record stage around a pure
 * decode function.
 */
import type { DecodedRecord, OperatorNode, PrepareContext, RawValue, StageResult } from './api.js';
import { schemaIdsOf } from './confluent-framing.js';
import { fetchSchemas, type RegistryConfig } from './schema-registry.js';
import { field } from './schema-builder.js';

/** `source.wireFormat`, shared by the binary decoders. */
export const wireFormatField = field(
  {
    description: 'Framing of avro/protobuf values: `confluent` (magic byte 0 + 4-byte schema id; protobuf adds the message-index array) or `raw` (the encoded value alone, with `schema.file`). Default `confluent` for avro and protobuf; not allowed with `json` (PIPE0060), which takes only `schema.file`.',
    examples: ['confluent', 'raw'],
  },
  { enum: ['confluent', 'raw'] },
);

/** One record's outcome: its table fields, or the dead-letter reason. */
export type DecodeOutcome = { ok: true; record: DecodedRecord } | { ok: false; error: string };

/** The decode node's props (see compile.ts). */
export interface SchemaProps {
  wireFormat: 'confluent' | 'raw';
  schemaFile?: string;
  readerFile?: string;
  messageType?: string;
  registry?: RegistryConfig;
}

/** The registry schemas a batch's framed values name (fetched on the stream thread). */
export async function prepareRegistrySchemas(node: OperatorNode, ctx: PrepareContext): Promise<unknown> {
  const registry = (node.props as unknown as SchemaProps).registry;
  if (!registry) return undefined;
  const { data, starts, nulls } = ctx.values;
  return fetchSchemas(registry, schemaIdsOf(data, starts, nulls), ctx);
}

/** Runs one value through a decode function, with the tombstone rule every decoder shares. */
export function decodeStage(decode: (buf: Buffer, start: number, end: number) => DecodeOutcome) {
  return {
    process(input: unknown): StageResult {
      const raw = input as RawValue;
      if (raw.isNull) return { port: 'error', error: 'value is null (tombstone)' };
      const result = decode(raw.data, raw.start, raw.end);
      return result.ok ? { port: 'out', value: result.record } : { port: 'error', error: result.error };
    },
  };
}
