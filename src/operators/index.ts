/**
 * The operator registry: every node kind a plan may hold. The planner, the docs and the
 * runtime look kinds up here; adding an operator is its own file plus one line below.
 */
import type { OperatorDefinition } from './api.js';
import { decodeJson } from './decode-json.js';
import { decodeAvro } from './decode-avro.js';
import { decodeProtobuf } from './decode-protobuf.js';
import { derive } from './derive.js';
import { expectOperator } from './expect.js';
import { filter } from './filter.js';
import { route } from './route.js';
import { sinkDeadLetter } from './sink-dead-letter.js';
import { sinkDelta } from './sink-delta.js';
import { sinkRaw } from './sink-raw.js';
import { sourceDelta } from './source-delta.js';
import { sourceKafka } from './source-kafka.js';
import { watermark } from './watermark.js';
import { window } from './window.js';

/** Every operator, in data-flow order. */
export const operators: readonly OperatorDefinition[] = [sourceKafka, sourceDelta, decodeJson, decodeAvro, decodeProtobuf, watermark, route, derive, filter, expectOperator, sinkDelta, window, sinkDeadLetter, sinkRaw];

const byKind = new Map(operators.map((o) => [o.kind, o]));

/** The definition of `kind`; throws for a kind no operator defines (a plan from elsewhere). */
export function operatorFor(kind: string): OperatorDefinition {
  const def = byKind.get(kind);
  if (!def) throw new Error(`no operator defines node kind '${kind}'`);
  return def;
}

/** The decoder kind of a record format (`json` -> `decode-json`). */
export function decoderKind(format: string): string {
  return operatorFor(`decode-${format}`).kind;
}
