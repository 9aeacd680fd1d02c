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
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import protobuf from 'protobufjs';
import { PipelineError } from '../errors.js';
import type { OperatorDefinition } from './api.js';
import { readFrame, readMessageIndexes } from './confluent-framing.js';
import { decodeStage, type SchemaProps } from './decode-avro.js';
import { jsonReady } from './decoded-values.js';
import type { AvroResult } from './decode-avro.js';

/** How a decoder reads a value. */
export interface ProtobufDecodeOptions {
  wireFormat: 'confluent' | 'raw';
  type: protobuf.Type;
}

const CONVERSION: protobuf.IConversionOptions = { longs: BigInt, enums: String, defaults: true, arrays: true, objects: true };

/** Decodes `buf[start, end)` (see the module comment). Pure: the unit of the tests and the bench. */
export function decodeProtobufValue(buf: Buffer, start: number, end: number, opts: ProtobufDecodeOptions): AvroResult {
  let offset = start;
  if (opts.wireFormat === 'confluent') {
    const frame = readFrame(buf, start, end);
    if (!frame.ok) return frame;
    const indexes = readMessageIndexes(buf, frame.offset, end);
    if (!indexes.ok) return indexes;
    offset = indexes.offset;
  }
  const payload = buf.subarray(offset, end);
  let message: protobuf.Message;
  try {
    message = opts.type.decode(payload);
  } catch (err) {
    const text = (err as Error).message;
    if (/index out of range/.test(text)) return { ok: false, error: `truncated: the ${opts.type.name} message ends early` };
    if (/not valid for encoding utf-8/i.test(text)) return { ok: false, error: 'a string field is not valid UTF-8' };
    return { ok: false, error: `invalid ${opts.type.name} message: ${text.split('\n')[0]!.slice(0, 300)}` };
  }
  const ready = jsonReady(opts.type.toObject(message, CONVERSION), buf.subarray(start, end));
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
      root = protobuf.loadSync(path);
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
    root = protobuf.loadSync(path);
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

/** The Protobuf decoder. */
export const decodeProtobuf: OperatorDefinition = {
  kind: 'decode-protobuf',
  role: 'transform',
  summary: 'Decodes Protobuf record values (Confluent framing with message indexes, or raw) as the message type of a .proto file.',
  ports: { out: 'the decoded message', error: 'null, wrong magic byte, truncated, invalid message, NaN/Infinity, invalid UTF-8, nested deeper than 64 levels' },
  failureStage: 'decode',
  recordStage(node) {
    const props = node.props as unknown as SchemaProps;
    const opts: ProtobufDecodeOptions = { wireFormat: props.wireFormat ?? 'confluent', type: protobufFileType(props.schemaFile!, props.messageType!) };
    return decodeStage((buf, start, end) => decodeProtobufValue(buf, start, end, opts));
  },
};
