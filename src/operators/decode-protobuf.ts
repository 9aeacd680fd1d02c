/**
 * decode-protobuf: record values holding one Protobuf message of `source.schema.messageType`
 * from the `.proto` file `source.schema.file`, in the Confluent wire format (magic byte 0,
 * 4-byte schema id, message-index array, message) or raw (the message alone).
 *
 * Values map like JSON's Protobuf mapping, but exactly: 64-bit integers stay exact (bigints
 * beyond 2^53), enums become their names, bytes base64 text, and every field of the message
 * is present (proto3 defaults for absent scalars, null for absent messages), so a table's
 * columns do not depend on which fields a producer happened to set. With a file schema the
 * message-index array is read (a truncated one fails the record) but the configured
 * `messageType` decides the type.
 *
 * Spec fields it owns: `source.format: protobuf`, `source.schema.messageType` and, with the
 * other decoders, `source.wireFormat`, `source.schema.file` and `source.schema.registry`.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import protobuf from 'protobufjs';
import { PipelineError } from '../errors.js';
import type { OperatorDefinition } from './api.js';
import { readFrame, readMessageIndexes } from './confluent-framing.js';
import { decodeStage, prepareRegistrySchemas, wireFormatField, type DecodeOutcome, type SchemaProps } from './binary-decoding.js';
import { registryField, type RegistrySchema } from './schema-registry.js';
import { schemaFileField } from './schema-files.js';
import { field, nonEmpty } from './schema-builder.js';
import { jsonReady } from './decoded-values.js';

/** How a decoder reads a value. */
export interface ProtobufDecodeOptions {
  wireFormat: 'confluent' | 'raw';
  /** The message type, when fixed (a file and `messageType`). */
  type?: protobuf.Type;
  /** The message type a registry schema id and message-index array name, or why there is none. */
  typeById?(id: number, indexes: number[]): protobuf.Type | string;
}

const CONVERSION: protobuf.IConversionOptions = { longs: BigInt, enums: String, defaults: true, arrays: true, objects: true };

/** Decodes `buf[start, end)` (see the module comment). Pure: the unit of the tests and the bench. */
export function decodeProtobufValue(buf: Buffer, start: number, end: number, opts: ProtobufDecodeOptions): DecodeOutcome {
  let offset = start;
  let type = opts.type;
  if (opts.wireFormat === 'confluent') {
    const frame = readFrame(buf, start, end);
    if (!frame.ok) return frame;
    const indexes = readMessageIndexes(buf, frame.offset, end);
    if (!indexes.ok) return indexes;
    offset = indexes.offset;
    if (opts.typeById) {
      const found = opts.typeById(frame.schemaId, indexes.indexes);
      if (typeof found === 'string') return { ok: false, error: found };
      type = found;
    }
  }
  if (!type) return { ok: false, error: 'no message type' };
  const payload = buf.subarray(offset, end);
  let message: protobuf.Message;
  try {
    message = type.decode(payload);
  } catch (err) {
    const text = (err as Error).message;
    if (/index out of range/.test(text)) return { ok: false, error: `truncated: the ${type.name} message ends early` };
    if (/not valid for encoding utf-8/i.test(text)) return { ok: false, error: 'a string field is not valid UTF-8' };
    return { ok: false, error: `invalid ${type.name} message: ${text.split('\n')[0]!.slice(0, 300)}` };
  }
  const ready = jsonReady(type.toObject(message, CONVERSION), buf.subarray(start, end));
  if (!ready.ok) return ready;
  return { ok: true, record: { fields: ready.fields, lossless: ready.lossless, serialise: true } };
}

const roots = new Map<string, protobuf.Root>();

/** The message type `messageType` of a `.proto` file (loaded once per thread), or a thrown error. */
export function protobufFileType(file: string, messageType: string): protobuf.Type {
  const path = resolve(file);
  let root = roots.get(path);
  try {
    if (!root) {
      root = new protobuf.Root().loadSync(path, { keepCase: true });
      roots.set(path, root);
    }
    return root.lookupType(messageType);
  } catch (err) {
    throw new PipelineError('PIPE_RUN_SCHEMA', `Protobuf schema ${file}: ${(err as Error).message.split('\n')[0]}`, { hint: '`pipeline validate` checks schema files', cause: err });
  }
}

/** Why a `.proto` file cannot be used, or undefined; `messageProblem` is set when only the type is wrong. */
export function protobufSchemaProblem(file: string, messageType: string | undefined): { file?: string; messageType?: string } | undefined {
  const path = resolve(file);
  if (!existsSync(path)) return { file: 'no such file' };
  let root: protobuf.Root;
  try {
    root = new protobuf.Root().loadSync(path, { keepCase: true });
  } catch (err) {
    return { file: `not a valid .proto file: ${(err as Error).message.split('\n')[0]}` };
  }
  if (messageType === undefined) return undefined;
  try {
    root.lookupType(messageType);
    return undefined;
  } catch {
    const names: string[] = [];
    const walk = (ns: protobuf.NamespaceBase) => {
      for (const child of ns.nestedArray) {
        if (child instanceof protobuf.Type) names.push(child.fullName.replace(/^\./, ''));
        if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) walk(child);
      }
    };
    walk(root);
    return { messageType: `no message type \`${messageType}\` in ${file} (it defines ${names.slice(0, 10).join(', ') || 'none'})` };
  }
}

/** Per registry schema: the namespace its top-level messages live in (its package), or why none. */
const registryRoots = new Map<string, protobuf.NamespaceBase | string>();

/** The messages declared directly in a namespace, in declaration order (what message indexes count). */
function messagesOf(ns: protobuf.NamespaceBase): protobuf.Type[] {
  return ns.nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type);
}

/**
 * The message a registry schema and message-index array name: index i of the file's top-level
 * messages, then index j of that message's nested messages, and so on.
 */
export function registryMessageType(url: string, id: number, indexes: number[], found: RegistrySchema | undefined): protobuf.Type | string {
  if (found === undefined) return `schema id ${id} was not fetched from the registry`;
  if ('missing' in found) return found.missing;
  const key = `${url}#${id}`;
  let root = registryRoots.get(key);
  if (root === undefined) {
    if (found.schemaType !== 'PROTOBUF') root = `schema id ${id} is a${found.schemaType === 'AVRO' ? 'n' : ''} ${found.schemaType} schema, not Protobuf`;
    else {
      try {
        const parsed = protobuf.parse(found.schema, { keepCase: true });
        root = parsed.package ? (parsed.root.lookup(parsed.package) as protobuf.Namespace | null) ?? parsed.root : parsed.root;
      } catch (err) {
        root = `schema id ${id} is not a valid .proto schema: ${(err as Error).message.split('\n')[0]}`;
      }
    }
    registryRoots.set(key, root);
  }
  if (typeof root === 'string') return root;
  let ns: protobuf.NamespaceBase = root;
  let type: protobuf.Type | undefined;
  for (const index of indexes) {
    type = messagesOf(ns)[index];
    if (!type) return `message index [${indexes.join(', ')}] names no message of schema id ${id}`;
    ns = type;
  }
  return type ?? `message index [] names no message of schema id ${id}`;
}

/** `source.schema.messageType`: the message type of file-schema values. */
const messageTypeField = field(
  {
    description: 'Protobuf with `file`, required: fully qualified message type of the values (`validate` checks the file defines it; with a registry, each value\'s message-index array names it).',
    examples: ['shop.Order'],
  },
  nonEmpty,
);

/** The Protobuf decoder. */
export const decodeProtobuf: OperatorDefinition = {
  kind: 'decode-protobuf',
  role: 'transform',
  summary: 'Decodes Protobuf record values (Confluent framing with message indexes, or raw) as the message type of a .proto file or of the registry schema the value names.',
  spec: {
    format: 'protobuf',
    fields: {
      source: { wireFormat: wireFormatField },
      'source.schema': { file: schemaFileField, messageType: messageTypeField, registry: registryField },
    },
  },
  ports: { out: 'the decoded message', error: 'null, wrong magic byte, truncated, invalid message, NaN/Infinity, invalid UTF-8, nested deeper than 64 levels' },
  failureStage: 'decode',
  prepare: prepareRegistrySchemas,
  recordStage(node, ctx) {
    const props = node.props as unknown as SchemaProps;
    const opts: ProtobufDecodeOptions = { wireFormat: props.wireFormat ?? 'confluent' };
    if (props.schemaFile) opts.type = protobufFileType(props.schemaFile, props.messageType!);
    if (props.registry) {
      const schemas = (ctx.prepared as Record<number, RegistrySchema> | undefined) ?? {};
      const url = props.registry.url;
      opts.typeById = (id, indexes) => registryMessageType(url, id, indexes, schemas[id]);
    }
    return decodeStage((buf, start, end) => decodeProtobufValue(buf, start, end, opts));
  },
};
