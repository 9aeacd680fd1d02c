/**
 * Checks that `source.format`, `source.wireFormat` and `source.schema` fit together: an
 * avro/protobuf spec says where its schema comes from, each setting belongs to its format,
 * and registry credentials never sit in the URL. (Whether the schema files exist and parse
 * is checked by `validate` in the planner layer, which knows the decoders.)
 */
import type { Code } from './codes.js';
import type { SpecPath } from './yaml-tree.js';

type Reporter = (code: Code, path: SpecPath, params: Record<string, string | number>, hint?: string) => void;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reports PIPE0060 for every combination of source format settings that cannot run. */
export function checkFormatSettings(source: unknown, keyAt: Reporter): void {
  if (!isObj(source)) return;
  const format = typeof source.format === 'string' ? source.format : 'json';
  const schema = isObj(source.schema) ? source.schema : undefined;
  const at = (key: string) => (schema && key in schema ? ['source', 'schema', key] : ['source', 'format']);
  const report = (path: SpecPath, detail: string, hint: string) => keyAt('PIPE0060', path, { detail }, hint);
  if (format === 'json') {
    if ('wireFormat' in source) report(['source', 'wireFormat'], '`source.wireFormat` applies to avro and protobuf values, not json', 'remove it, or set `source.format`');
    for (const key of ['messageType', 'reader', 'registry']) {
      if (schema && key in schema) report(at(key), `\`schema.${key}\` applies to avro or protobuf values; json takes only \`schema.file\` (a JSON Schema)`, 'remove it, or set `source.format`');
    }
    return;
  }
  const file = schema?.file;
  const registry = schema?.registry;
  if (file === undefined && registry === undefined) {
    report(schema ? ['source', 'schema'] : ['source', 'format'], `format ${format} needs a schema: \`source.schema.file\` or \`source.schema.registry\``,
      format === 'avro' ? 'e.g. `schema: { file: schemas/order.avsc }`' : 'e.g. `schema: { file: schemas/order.proto, messageType: shop.Order }`');
    return;
  }
  if (file !== undefined && registry !== undefined) report(at('registry'), 'set one writer schema source: `schema.file` or `schema.registry`, not both', 'keep the registry and name a stable shape with `schema.reader`');
  if (format === 'protobuf') {
    if (file !== undefined && schema?.messageType === undefined) report(['source', 'schema'], 'a .proto file needs `source.schema.messageType`', 'name the fully qualified message type, e.g. `messageType: shop.Order`');
    if (registry !== undefined && schema?.messageType !== undefined) report(at('messageType'), 'with a registry, each value\'s message-index array names its message type', 'remove `schema.messageType`');
    if (schema?.reader !== undefined) report(at('reader'), '`schema.reader` is an avro setting', 'remove it; protobuf messages decode with the one type named by `messageType`');
  } else if (schema?.messageType !== undefined) {
    report(at('messageType'), '`schema.messageType` is a protobuf setting', 'remove it');
  }
  if (registry !== undefined && source.wireFormat === 'raw') {
    report(['source', 'wireFormat'], 'a registry needs `wireFormat: confluent` (each value names its schema id)', 'remove `wireFormat: raw`, or use `schema.file`');
  }
  if (isObj(registry) && typeof registry.url === 'string' && /^[a-z]+:\/\/[^/]*@/i.test(registry.url)) {
    report(['source', 'schema', 'registry', 'url'], 'credentials do not belong in the registry URL', 'set `basicAuthEnv: SCHEMA_REGISTRY_AUTH` and put `user:password` in that variable');
  }
}
