/**
 * Decoders the spec language names but this version cannot run yet. They plan (so reviews
 * show them) and `validate` warns (PIPE0057); `run` refuses them with the same reason.
 */
import type { OperatorDefinition } from './api.js';

const unsupported = (format: string): OperatorDefinition => ({
  kind: `decode-${format}`,
  role: 'transform',
  summary: `Decodes ${format} record values.`,
  ports: { out: 'the decoded record', error: 'undecodable values' },
  failureStage: 'decode',
  notRunnable: `source.format '${format}' cannot be run yet: this runner decodes json records only`,
});

export const decodeAvro = unsupported('avro');
export const decodeProtobuf = unsupported('protobuf');
