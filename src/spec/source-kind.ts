/**
 * A pipeline reads one Kafka topic (`source.kafka`) or one Delta table (`source.delta`). Code
 * that only makes sense for a topic (consumer groups, offsets, lag) asks for the Kafka settings
 * here and stops with one coded error for a Delta source, instead of every caller checking.
 */
import { SourceError } from '../errors.js';
import type { KafkaSourceSpec, SourceSpec } from './types.js';

/** The Kafka settings of a source; throws PIPE_SOURCE_NOT_KAFKA (naming `what`) for a Delta source. */
export function kafkaSource(source: Pick<SourceSpec, 'kafka' | 'delta'>, what = 'this command', pipeline = 'the pipeline'): KafkaSourceSpec {
  if (source.kafka) return source.kafka;
  throw new SourceError('PIPE_SOURCE_NOT_KAFKA', `${what} reads a Kafka topic; ${pipeline} reads the Delta table ${source.delta?.path ?? '(none)'}`, {
    hint: 'use it on a pipeline with source.kafka; a Delta source keeps its position (the last version read) in its checkpoint',
  });
}

/** What the source is called in messages and offsets entries: the topic, or `delta:<path>`. */
export function sourceName(source: Pick<SourceSpec, 'kafka' | 'delta'>): string {
  return source.kafka ? source.kafka.topic : `delta:${source.delta?.path ?? ''}`;
}
