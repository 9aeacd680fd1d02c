/**
 * decode-avro: record values in Avro binary encoding, either in the Confluent wire format
 * (magic byte 0, 4-byte schema id, then the datum) or raw (the datum alone, with the writer
 * schema from `source.schema.file`). The writer schema comes from a local `.avsc` file or
 * from a schema registry by id; an optional reader schema resolves every writer schema to
 * one table shape (Avro's resolution rules: added fields take their defaults, removed ones
 * are skipped, promotions such as int → long apply). Values map as avro-types.ts says.
 *
 * Spec fields it owns: `source.format: avro`, `source.schema.reader` and, with the other
 * decoders, `source.wireFormat`, `source.schema.file` and `source.schema.registry`.
 */
import type avro from 'avsc';
import { PipelineError } from '../errors.js';
import type { OperatorDefinition, OperatorNode } from './api.js';
import { notARecord, parseAvroSchema } from './avro-types.js';
import { decodeStage, prepareRegistrySchemas, wireFormatField, type DecodeOutcome, type SchemaProps } from './binary-decoding.js';
import { readFrame } from './confluent-framing.js';
import { jsonReady } from './decoded-values.js';
import { firstLine, loadSchemaFile, schemaFileField, schemaFileProblem } from './schema-files.js';
import { registryField, type RegistrySchema } from './schema-registry.js';
import { field, nonEmpty } from './schema-builder.js';

/** avsc's resolver (its type declarations do not export the class). */
type Resolver = ReturnType<avro.Type['createResolver']>;

/** How a decoder finds the writer schema of a value. */
export interface AvroDecodeOptions {
  wireFormat: 'confluent' | 'raw';
  /** The writer schema, when fixed (a file). */
  writer?: avro.Type;
  /** The writer schema of a Confluent schema id (registry), or why there is none. */
  writerById?(id: number): avro.Type | string;
  /** The reader schema every writer schema is resolved to. */
  reader?: avro.Type;
}

const resolvers = new WeakMap<avro.Type, WeakMap<avro.Type, Resolver | string>>();

/** The resolver from `writer` to `reader` (cached per pair), or why they do not resolve. */
function resolverFor(writer: avro.Type, reader: avro.Type, label: string): Resolver | string {
  let byWriter = resolvers.get(reader);
  if (!byWriter) resolvers.set(reader, (byWriter = new WeakMap()));
  let hit = byWriter.get(writer);
  if (hit === undefined) {
    try {
      hit = reader.createResolver(writer);
    } catch (err) {
      hit = `${label} does not resolve to the reader schema: ${firstLine((err as Error).message)}`;
    }
    byWriter.set(writer, hit);
  }
  return hit;
}

/** Decodes `buf[start, end)` (see the module comment). Pure: the unit of the tests and the bench. */
export function decodeAvroValue(buf: Buffer, start: number, end: number, opts: AvroDecodeOptions): DecodeOutcome {
  let offset = start;
  let writer = opts.writer;
  let label = 'the writer schema';
  if (opts.wireFormat === 'confluent') {
    const frame = readFrame(buf, start, end);
    if (!frame.ok) return frame;
    offset = frame.offset;
    if (opts.writerById) {
      const found = opts.writerById(frame.schemaId);
      if (typeof found === 'string') return { ok: false, error: found };
      writer = found;
      label = `writer schema id ${frame.schemaId}`;
    }
  }
  if (!writer) return { ok: false, error: 'no writer schema' };
  let type = writer;
  let resolver: Resolver | undefined;
  if (opts.reader && opts.reader !== writer) {
    const r = resolverFor(writer, opts.reader, label);
    if (typeof r === 'string') return { ok: false, error: r };
    type = opts.reader;
    resolver = r;
  }
  const payload = buf.subarray(offset, end);
  if (payload.length === 0) return { ok: false, error: 'truncated: the value holds no Avro data' };
  let decoded: { value: unknown; offset: number };
  try {
    decoded = type.decode(payload, 0, resolver);
  } catch (err) {
    return { ok: false, error: `invalid Avro data for ${label}: ${firstLine((err as Error).message)}` };
  }
  if (decoded.offset < 0) return { ok: false, error: `truncated: the Avro value ends early for ${label}` };
  if (decoded.offset < payload.length) {
    return { ok: false, error: `${payload.length - decoded.offset} bytes left after the Avro record (the data does not match ${label})` };
  }
  const ready = jsonReady(decoded.value as Record<string, unknown>, buf.subarray(start, end));
  if (!ready.ok) return ready;
  return { ok: true, record: { fields: ready.fields, lossless: ready.lossless, serialise: true } };
}

const registryTypes = new Map<string, avro.Type | string>();

/** The Avro type of a schema file (parsed once per thread). Paths resolve from the working directory. */
export function avroFileType(file: string): avro.Type {
  return loadSchemaFile(file, 'Avro schema', parseAvroSchema);
}

/** Why an Avro schema file cannot be used (missing, unreadable, invalid, not a record), or undefined. */
export function avroSchemaProblem(file: string): string | undefined {
  return schemaFileProblem(file, 'not a valid Avro schema', (text) => notARecord(parseAvroSchema(text)));
}

/** The Avro type of a registry schema (parsed once per thread), or why it is not usable. */
function registryType(url: string, id: number, found: RegistrySchema | undefined): avro.Type | string {
  if (found === undefined) return `schema id ${id} was not fetched from the registry`;
  if ('missing' in found) return found.missing;
  const key = `${url}#${id}`;
  let type = registryTypes.get(key);
  if (type === undefined) {
    if (found.schemaType !== 'AVRO') type = `schema id ${id} is a ${found.schemaType} schema, not Avro`;
    else {
      try {
        const parsed = parseAvroSchema(found.schema);
        type = notARecord(parsed) ?? parsed;
      } catch (err) {
        type = `schema id ${id} is not a valid Avro schema: ${firstLine((err as Error).message)}`;
      }
    }
    registryTypes.set(key, type);
  }
  return type;
}

/** The decode options a node's props describe, with the batch's prepared registry schemas. */
export function avroOptions(node: OperatorNode, prepared: unknown): AvroDecodeOptions {
  const props = node.props as unknown as SchemaProps;
  const opts: AvroDecodeOptions = { wireFormat: props.wireFormat ?? 'confluent' };
  const recordType = (file: string) => {
    const type = avroFileType(file);
    const problem = notARecord(type);
    if (problem) throw new PipelineError('PIPE_RUN_SCHEMA', `Avro schema ${file}: ${problem}`, { hint: 'a table row needs a record schema' });
    return type;
  };
  if (props.schemaFile) opts.writer = recordType(props.schemaFile);
  if (props.readerFile) opts.reader = recordType(props.readerFile);
  if (props.registry) {
    const schemas = (prepared as Record<number, RegistrySchema> | undefined) ?? {};
    const url = props.registry.url;
    opts.writerById = (id) => registryType(url, id, schemas[id]);
  }
  return opts;
}

/** `source.schema.reader`: the Avro reader schema. */
const readerField = field(
  {
    description: 'Avro: reader schema file every writer schema resolves to (Avro resolution rules), so evolving writer schemas give one table shape.',
    examples: ['schemas/order.avsc'],
  },
  nonEmpty,
);

/** The Avro decoder. */
export const decodeAvro: OperatorDefinition = {
  kind: 'decode-avro',
  role: 'transform',
  summary: 'Decodes Avro record values (Confluent wire format or raw) with a file or schema-registry writer schema, resolved to an optional reader schema.',
  spec: {
    format: 'avro',
    fields: {
      source: { wireFormat: wireFormatField },
      'source.schema': { file: schemaFileField, reader: readerField, registry: registryField },
    },
  },
  ports: { out: 'the decoded record', error: 'null, wrong magic byte, truncated, unknown schema id, schema mismatch, NaN/Infinity, invalid UTF-8, nested deeper than 64 levels' },
  failureStage: 'decode',
  prepare: prepareRegistrySchemas,
  recordStage(node, ctx) {
    const opts = avroOptions(node, ctx.prepared);
    return decodeStage((buf, start, end) => decodeAvroValue(buf, start, end, opts));
  },
};
