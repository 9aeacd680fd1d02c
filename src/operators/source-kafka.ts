/**
 * source-kafka: the graph's entry. Its runtime piece is the stream's consumer (the runtime
 * owns connections, positions and the write-ahead log); each record's value enters the
 * graph at the node its `out` edge names.
 */
import type { OperatorDefinition } from './api.js';

export const sourceKafka: OperatorDefinition = {
  kind: 'source-kafka',
  role: 'source',
  summary: 'Reads the topic; stream i of N owns every partition p with p % N == i, each with its own consumer and checkpoint.',
  ports: { out: 'record values with their coordinates' },
};
